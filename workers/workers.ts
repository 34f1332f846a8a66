import { hostname } from 'node:os';
import type { WorkerDeploymentVersion } from '@temporalio/common';
import { type NativeConnection, Worker, type WorkerPlugin } from '@temporalio/worker';
import { createLlmActivities, createRenderActivities, createStorageActivities } from '../activities/index.ts';
import { createBatchActivities } from '../activities/batches.ts';
import type { ModelCallSettings } from '../activities/model-call.ts';
import type { BatchClient } from '../providers/batch.ts';
import type { Prompts } from '../activities/prompts.ts';
import type { Renderer } from '../render/renderer.ts';
import type { ArtifactStore } from '../storage/artifact-store.ts';
import { workflowBundle } from './workflow-bundle.ts';

export interface WorkerConnection {
  connection: NativeConnection;
  namespace: string;
  /** OpenTelemetry tracing (workers/telemetry.ts), when on. */
  plugins?: WorkerPlugin[];
  /** Poll as this Worker Deployment Version (workers/deployment.ts); absent: unversioned. */
  deploymentVersion?: WorkerDeploymentVersion;
}

/**
 * On SIGTERM a worker stops polling at once and gives the tasks it holds this long to finish: a
 * model call in flight is paid for, so it is let complete rather than cancelled and asked again.
 * Past it, what remains is cancelled and handed back to Temporal.
 */
const SHUTDOWN_GRACE_TIME = '60s';

/**
 * What every worker of scigen's is created with: where it polls, its plugins, its grace at
 * shutdown and, when versioned, its deployment version. A versioned worker's identity carries its
 * build id, so each activity's started event in a history names the version that ran it.
 */
function commonOptions(options: WorkerConnection & { taskQueue: string }) {
  const version = options.deploymentVersion;
  return {
    connection: options.connection,
    namespace: options.namespace,
    taskQueue: options.taskQueue,
    plugins: options.plugins ?? [],
    shutdownGraceTime: SHUTDOWN_GRACE_TIME,
    ...(version === undefined
      ? {}
      : {
          identity: `${process.pid}@${hostname()} ${version.deploymentName}:${version.buildId}`,
          // Each workflow type declares its behavior (workflows/build.ts, problem.ts); this is for a run that
          // began on unversioned workers and declares none: it goes on following the current code, as it did.
          workerDeploymentOptions: {
            version,
            useWorkerVersioning: true,
            defaultVersioningBehavior: 'AUTO_UPGRADE',
          } as const,
        }),
  };
}

/** Workflows plus the light storage activities they lean on (reading pages, writing records). */
export async function createWorkflowsWorker(
  options: WorkerConnection & { taskQueue: string; store: ArtifactStore; s3PathStyle?: boolean },
): Promise<Worker> {
  return Worker.create({
    ...commonOptions(options),
    workflowBundle: await workflowBundle({ tracing: (options.plugins ?? []).length > 0 }),
    activities: createStorageActivities({ store: options.store, s3PathStyle: options.s3PathStyle ?? false }),
  });
}

/**
 * Every model call of one provider. `concurrency` caps what this process has in flight;
 * `requestsPerSecond` is the queue's rate across all its workers, which the Temporal server
 * enforces when it hands out tasks (maxTaskQueueActivitiesPerSecond), so a second worker adds
 * capacity without adding rate. Tasks over the rate wait in the queue, not in a worker slot.
 */
export async function createLlmWorker(
  options: WorkerConnection & {
    taskQueue: string;
    store: ArtifactStore;
    model: ModelCallSettings;
    /** @default the bundled prompts */
    prompts?: Prompts;
    concurrency: number;
    /** @default no limit */
    requestsPerSecond?: number;
  },
): Promise<Worker> {
  return Worker.create({
    ...commonOptions(options),
    activities: createLlmActivities({
      model: options.model,
      store: options.store,
      ...(options.prompts ? { prompts: options.prompts } : {}),
    }),
    maxConcurrentActivityTaskExecutions: options.concurrency,
    ...(options.requestsPerSecond === undefined ? {} : { maxTaskQueueActivitiesPerSecond: options.requestsPerSecond }),
  });
}

/**
 * Batch-mode work of one provider (workers/llm-queue.ts batchTaskQueue): the model steps while they
 * only store requests and read stored answers, and the batcher's activities, which hold the
 * provider's batch client. No request rate: none of it is a real-time model call.
 */
export async function createBatchWorker(
  options: WorkerConnection & {
    taskQueue: string;
    store: ArtifactStore;
    model: ModelCallSettings;
    /** @default the bundled prompts */
    prompts?: Prompts;
    batches: BatchClient | undefined;
  },
): Promise<Worker> {
  return Worker.create({
    ...commonOptions(options),
    activities: {
      ...createLlmActivities({
        model: options.model,
        store: options.store,
        ...(options.prompts ? { prompts: options.prompts } : {}),
      }),
      ...createBatchActivities({ store: options.store, batches: options.batches }),
    },
    maxConcurrentActivityTaskExecutions: BATCH_QUEUE_CONCURRENCY,
  });
}

/** Batch-queue tasks one worker runs at once: reads and writes of small artifacts, and batch API calls. */
const BATCH_QUEUE_CONCURRENCY = 64;

/** Rendering is CPU-bound: one activity slot per render slot, so the machine is never oversubscribed. */
export async function createRenderWorker(
  options: WorkerConnection & {
    taskQueue: string;
    store: ArtifactStore;
    renderer: Renderer;
    slots: number;
    python?: string;
  },
): Promise<Worker> {
  return Worker.create({
    ...commonOptions(options),
    activities: createRenderActivities({
      renderer: options.renderer,
      store: options.store,
      ...(options.python === undefined ? {} : { python: options.python }),
    }),
    maxConcurrentActivityTaskExecutions: options.slots,
  });
}
