import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  describeSilentTaskQueue,
  findSilentTaskQueues,
  silentTaskQueueWarnings,
  type WatchedTaskQueue,
} from '../../cli/task-queue-health.ts';
import { ensureDevServer, findFreePort, type DevServer } from '../../infra/dev-server.ts';
import type { DatasetBuildInput } from '../../workflows/definitions.ts';

const namespace = 'default';
/** This test's own queues, so it shares nothing with another run. */
const prefix = `health-${randomUUID().slice(0, 8)}`;
const queues: WatchedTaskQueue[] = [
  { kind: 'workflows', name: `${prefix}-workflows` },
  { kind: 'llm', name: `${prefix}-llm-openai`, provider: 'openai' },
  { kind: 'render', name: `${prefix}-render` },
];

describe('task queue health against a real dev server', () => {
  let stateDirectory: string;
  let server: DevServer;
  let connection: Connection;
  let client: Client;
  let workerConnection: NativeConnection;
  let worker: Worker;
  let workerRun: Promise<void>;

  beforeAll(async () => {
    stateDirectory = await mkdtemp(path.join(tmpdir(), 'scigen-queue-health-'));
    server = await ensureDevServer({
      port: await findFreePort(),
      uiPort: await findFreePort(),
      dbFile: path.join(stateDirectory, 'temporal.db'),
      namespace,
    });
    connection = await Connection.connect({ address: server.address });
    client = new Client({ connection, namespace });
    workerConnection = await NativeConnection.connect({ address: server.address });
    // Only the llm queue has a worker: an activity worker, as `scigen worker --queue llm` runs.
    worker = await Worker.create({
      connection: workerConnection,
      namespace,
      taskQueue: queues[1]!.name,
      activities: { idle: async () => {} },
    });
    workerRun = worker.run();
    await vi.waitFor(
      async () => {
        const { pollers } = await client.workflowService.describeTaskQueue({
          namespace,
          taskQueue: { name: queues[1]!.name },
          taskQueueType: 2, // TASK_QUEUE_TYPE_ACTIVITY
        });
        expect(pollers?.length ?? 0).toBeGreaterThan(0);
      },
      { timeout: 30_000, interval: 200 },
    );
  }, 120_000);

  afterAll(async () => {
    worker?.shutdown();
    await workerRun?.catch(() => {});
    await workerConnection?.close();
    await connection?.close();
    await server?.stop();
    await rm(stateDirectory, { recursive: true, force: true });
  }, 60_000);

  it('reports the queues no worker polls, and not the one a worker polls', async () => {
    const silent = await findSilentTaskQueues({
      client,
      namespace,
      queues,
      waitingSince: new Date(Date.now() - 5_000),
      silentAfterMs: 1_000,
    });
    expect(silent.map((queue) => queue.name)).toEqual([queues[0]!.name, queues[2]!.name]);
    expect(silent[0]!.silentForMs).toBeGreaterThanOrEqual(5_000);
  });

  it('says nothing before the threshold has passed', async () => {
    const silent = await findSilentTaskQueues({ client, namespace, queues, waitingSince: new Date() });
    expect(silent).toEqual([]);
  });

  it("reports a queue whose worker's last poll is older than the threshold plus a long poll", async () => {
    const silent = await findSilentTaskQueues({
      client,
      namespace,
      queues: [queues[1]!],
      waitingSince: new Date(),
      now: new Date(Date.now() + 5 * 60_000),
    });
    expect(silent.map((queue) => queue.name)).toEqual([queues[1]!.name]);
    expect(describeSilentTaskQueue(silent[0]!)).toBe(
      `warning: no worker has polled task queue "${queues[1]!.name}" for 5m; ` +
        'start one with: scigen worker --queue llm (SCIGEN_PROVIDER=openai)',
    );
  });

  it("reads a build's queues and provider from its start event and names the command for each silent one", async () => {
    const workflowId = `${prefix}-build`;
    const input: DatasetBuildInput = {
      buildId: workflowId,
      inputPages: [],
      pageSize: 1,
      problemCount: 0,
      invalidCount: 0,
      windowSize: 1,
      budgetUsd: null,
      continueAsNewEvents: 10_000,
      settings: {
        policy: { minEachDimension: 1, minCorrectnessFidelity: 2, minRInv: 0.75 },
        maxRenderAttempts: 1,
        dpi: 100,
        renderTimeoutSeconds: 10,
        llmMaxAttempts: 1,
        llmTimeoutSeconds: 10,
        taskQueues: { workflows: queues[0]!.name, llm: queues[1]!.name, render: queues[2]!.name },
        provider: 'openai',
      },
    };
    // Nobody serves the workflows queue, so the build waits there for ever: what the check is for.
    const handle = await client.workflow.start('datasetBuildWorkflow', {
      workflowId,
      taskQueue: queues[0]!.name,
      args: [input],
    });
    try {
      const warnings = await silentTaskQueueWarnings({
        client,
        namespace,
        workflowId,
        waitingSince: new Date(Date.now() - 120_000),
        silentAfterMs: 60_000,
      });
      expect(warnings).toEqual([
        `warning: no worker has polled task queue "${queues[0]!.name}" for 2m; start one with: scigen worker --queue workflows`,
        `warning: no worker has polled task queue "${queues[2]!.name}" for 2m; start one with: scigen worker --queue render`,
      ]);
    } finally {
      await handle.terminate('test over');
    }
  });
});
