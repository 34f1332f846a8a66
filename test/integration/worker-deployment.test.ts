import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { announceDeploymentVersion, describeDeployment, promoteDeploymentVersion } from '../../cli/deployment.ts';
import { findSilentTaskQueues } from '../../cli/task-queue-health.ts';
import { readEnvironment } from '../../config/environment.ts';
import { loadConfig } from '../../config/load.ts';
import { ensureDevServer, findFreePort, type DevServer } from '../../infra/dev-server.ts';
import { runWorkers, type RunningWorkers } from '../../workers/run-workers.ts';

const namespace = 'default';

describe('the embedded process and its deployment version, against a real dev server', () => {
  let server: DevServer;
  let client: Client;
  let workerConnection: NativeConnection;
  const started: RunningWorkers[] = [];

  beforeAll(async () => {
    const stateDirectory = await mkdtemp(path.join(tmpdir(), 'scigen-deployment-'));
    server = await ensureDevServer({
      port: await findFreePort(),
      uiPort: await findFreePort(),
      dbFile: path.join(stateDirectory, 'temporal.db'),
      namespace,
    });
    client = new Client({ connection: await Connection.connect({ address: server.address }), namespace });
    workerConnection = await NativeConnection.connect({ address: server.address });
  });
  afterAll(async () => {
    await Promise.all(started.map((workers) => workers.shutdown()));
    await workerConnection?.close();
    await client?.connection.close();
    await server?.stop();
  });

  /** A workflows worker of this process, as `scigen build` starts it with SCIGEN_WORKER_BUILD_ID. */
  async function startWorkflowsWorker(buildId: string | null): Promise<RunningWorkers> {
    const config = loadConfig({
      environment: readEnvironment({
        TEMPORAL_ADDRESS: server.address,
        SCIGEN_TASK_QUEUE_PREFIX: 'deployment-test',
        SCIGEN_STATE_DIR: await mkdtemp(path.join(tmpdir(), 'scigen-deployment-state-')),
        ...(buildId === null ? {} : { SCIGEN_WORKER_BUILD_ID: buildId }),
      }),
    });
    const workers = await runWorkers(config, { connection: workerConnection, queues: ['workflows'] });
    started.push(workers);
    return workers;
  }

  it('makes its version current once its workers poll, and a later unversioned process unsets it', async () => {
    expect(await describeDeployment(client, namespace, 'scigen')).toBeNull();
    const lines: string[] = [];
    const first = await startWorkflowsWorker('first');
    expect(first.deploymentVersion).toEqual({ deploymentName: 'scigen', buildId: 'first' });
    expect(first.descriptions).toContain('worker deployment version scigen:first');
    await announceDeploymentVersion({
      client,
      namespace,
      version: first.deploymentVersion,
      deploymentName: 'scigen',
      embedded: true,
      log: (line) => lines.push(line),
    });
    expect(lines).toEqual(['worker deployment version scigen:first is current']);
    const deployment = await describeDeployment(client, namespace, 'scigen');
    expect(deployment?.currentBuildId).toBe('first');
    expect(deployment?.versions.map((version) => [version.buildId, version.current])).toEqual([['first', true]]);
    // Versioned pollers count for the task-queue health check (`scigen status`) like any others.
    const silent = await findSilentTaskQueues({
      client,
      namespace,
      queues: [{ kind: 'workflows', name: 'deployment-test-workflows' }],
      waitingSince: new Date(Date.now() - 120_000),
    });
    expect(silent).toEqual([]);

    // A version none of whose workers ever polled cannot be made current; the wait ends with the reason.
    await expect(
      promoteDeploymentVersion({
        client,
        namespace,
        version: { deploymentName: 'scigen', buildId: 'never-started' },
        waitMs: 1500,
      }),
    ).rejects.toThrow(/cannot make scigen:never-started current/);

    await first.shutdown();
    const unversioned = await startWorkflowsWorker(null);
    expect(unversioned.deploymentVersion).toBeNull();
    lines.length = 0;
    await announceDeploymentVersion({
      client,
      namespace,
      version: null,
      deploymentName: 'scigen',
      embedded: true,
      log: (line) => lines.push(line),
    });
    expect(lines).toEqual([
      "worker deployment scigen: version first is no longer current; this process's unversioned workers take new problems",
    ]);
    expect((await describeDeployment(client, namespace, 'scigen'))?.currentBuildId).toBeNull();
  }, 120_000);
});
