import type { WorkerDeploymentVersion } from '@temporalio/common';
import type { NativeConnection, Worker } from '@temporalio/worker';
import { taskQueues } from '../config/load.ts';
import type { ResolvedProvider } from '../config/provider.ts';
import type { Config } from '../config/schema.ts';
import type { ModelCapabilities } from '../doctor/model-capabilities.ts';
import { deploymentVersionOf, describeDeploymentVersion } from './deployment.ts';
import { createModelRuntime, createRendererRuntime, createStore } from './runtime.ts';
import { createTracing } from './telemetry.ts';
import { createBatchWorker, createLlmWorker, createRenderWorker, createWorkflowsWorker } from './workers.ts';

export const QUEUE_KINDS = ['workflows', 'llm', 'render'] as const;
export type QueueKind = (typeof QUEUE_KINDS)[number];

export interface RunningWorkers {
  /** One line per worker for the console. */
  descriptions: string[];
  /** The Worker Deployment Version the workers poll as; null when unversioned. */
  deploymentVersion: WorkerDeploymentVersion | null;
  /** Settles when every worker has stopped; rejects if one fails. */
  done: Promise<void>;
  /** Stops polling, lets in-flight tasks finish (or hands them back), and releases resources. */
  shutdown(): Promise<void>;
}

/**
 * Starts workers for the given queues in this process: all three in embedded mode, one for
 * `scigen worker --queue`. Each queue gets only the dependencies it needs, so a render worker
 * never holds an API key and a workflows worker never a renderer.
 */
export async function runWorkers(
  config: Config,
  options: {
    connection: NativeConnection;
    queues: readonly QueueKind[];
    /** Whose model calls the llm worker serves (config/provider.ts chooseProvider); needed with the llm queue. */
    provider?: ResolvedProvider;
    /** What the build's preflight learnt about that provider's models, for the llm worker. */
    capabilities?: ModelCapabilities;
  },
): Promise<RunningWorkers> {
  const queues = taskQueues(config);
  const store = createStore(config);
  const tracing = createTracing(config.telemetry, `scigen-${options.queues.join('-')}`);
  const deploymentVersion = deploymentVersionOf(config);
  const common = {
    connection: options.connection,
    namespace: config.temporal.namespace,
    store,
    plugins: tracing ? [tracing.plugin] : [],
    ...(deploymentVersion ? { deploymentVersion } : {}),
  };
  const workers: Worker[] = [];
  const descriptions: string[] = [];
  if (deploymentVersion) descriptions.push(`worker deployment version ${describeDeploymentVersion(deploymentVersion)}`);
  // Run after the workers stop; tracing is shut down last so the final spans are flushed.
  const cleanups: Array<() => Promise<void>> = [];
  if (tracing) descriptions.push(`tracing: OpenTelemetry ${tracing.description}`);

  try {
    if (options.queues.includes('workflows')) {
      workers.push(
        await createWorkflowsWorker({ ...common, taskQueue: queues.workflows, s3PathStyle: config.s3PathStyle }),
      );
      descriptions.push(`workflows worker on ${queues.workflows} (artifacts: ${store.root})`);
    }
    if (options.queues.includes('llm')) {
      if (options.provider === undefined) throw new Error('an llm worker needs the provider it serves');
      const runtime = await createModelRuntime(
        config,
        options.provider,
        options.capabilities ? { capabilities: options.capabilities } : {},
      );
      cleanups.push(runtime.close);
      workers.push(
        await createLlmWorker({
          ...common,
          taskQueue: runtime.taskQueue,
          model: runtime.model,
          prompts: runtime.prompts,
          concurrency: runtime.concurrency,
          ...(runtime.requestsPerSecond === undefined ? {} : { requestsPerSecond: runtime.requestsPerSecond }),
        }),
      );
      descriptions.push(`llm worker on ${runtime.taskQueue}: ${runtime.description}`);
      workers.push(
        await createBatchWorker({
          ...common,
          taskQueue: runtime.batchTaskQueue,
          model: runtime.model,
          prompts: runtime.prompts,
          batches: runtime.batches,
        }),
      );
    }
    if (options.queues.includes('render')) {
      const { renderer, slots, python } = await createRendererRuntime(config);
      cleanups.push(() => renderer.close());
      workers.push(await createRenderWorker({ ...common, taskQueue: queues.render, renderer, slots, python }));
      descriptions.push(`render worker on ${queues.render}: ${slots} slots, ${renderer.describe()}`);
    }
  } catch (error) {
    await Promise.all(cleanups.map((cleanup) => cleanup().catch(() => {})));
    await tracing?.shutdown().catch(() => {});
    throw error;
  }

  const done = Promise.all(workers.map((worker) => worker.run())).then(() => undefined);
  let stopping: Promise<void> | undefined;
  return {
    descriptions,
    deploymentVersion,
    done,
    shutdown() {
      stopping ??= (async () => {
        for (const worker of workers) {
          if (worker.getState() === 'RUNNING') worker.shutdown();
        }
        await done.catch(() => {});
        await Promise.all(cleanups.map((cleanup) => cleanup().catch(() => {})));
        await tracing?.shutdown().catch(() => {});
      })();
      return stopping;
    },
  };
}
