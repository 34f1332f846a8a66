import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, type Worker } from '@temporalio/worker';
import { manifestLine, type ManifestRecord } from '../../domain/manifest.ts';
import type { ProblemRecord } from '../../domain/problem-result.ts';
import type { Problem } from '../../domain/types.ts';
import { ensureDevServer, findFreePort, type DevServer } from '../../infra/dev-server.ts';
import type { ArtifactStore } from '../../storage/artifact-store.ts';
import { stagedLine } from '../../domain/staged-pages.ts';
import { problemRecordKey, stagedPagesPrefix } from '../../storage/build-layout.ts';
import { createFileStore } from '../../storage/file-store.ts';
import { problemWorkflowId, SEARCH_ATTRIBUTE_TYPES, type ProblemSettings } from '../../workflows/definitions.ts';
import { problemWorkflow } from '../../workflows/problem.ts';
import { makeTemporaryDirectory } from './temporary-directory.ts';

/** The options every worker of a workflow-tier test shares. */
export interface CommonWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  store: ArtifactStore;
}

/** A dev server of the test's own on free ports, a file store, the test's workers running, and a client. */
export interface WorkflowTestEnvironment {
  server: DevServer;
  store: ArtifactStore;
  client: Client;
  directory: string;
  /** Shuts the workers down, waits for them, and stops the server. */
  close(): Promise<void>;
}

export async function startWorkflowTestEnvironment(
  name: string,
  /** Builds the test's workers; `directory` is the test's own, holding the server's database and the artifacts. */
  createWorkers: (common: CommonWorkerOptions, directory: string) => Promise<Worker[]>,
): Promise<WorkflowTestEnvironment> {
  const directory = await makeTemporaryDirectory(name);
  const server = await ensureDevServer({
    port: await findFreePort(),
    uiPort: await findFreePort(),
    dbFile: join(directory, 'temporal.db'),
    searchAttributes: SEARCH_ATTRIBUTE_TYPES,
  });
  try {
    const store = createFileStore(join(directory, 'artifacts'));
    const connection = await NativeConnection.connect({ address: server.address });
    const workers = await createWorkers({ connection, namespace: 'default', store }, directory);
    const running = Promise.all(workers.map((worker) => worker.run()));
    const client = new Client({ connection: await Connection.connect({ address: server.address }) });
    return {
      server,
      store,
      client,
      directory,
      async close() {
        for (const worker of workers) worker.shutdown();
        await running;
        await client.connection.close();
        await connection.close();
        await server.stop();
      },
    };
  } catch (error) {
    await server.stop();
    throw error;
  }
}

/**
 * Runs one problem workflow to its end and reads back the manifest line its record makes. The
 * problem is staged on a page of its own and the workflow is given a reference to it, as a build does.
 */
export async function runProblemWorkflow(
  environment: Pick<WorkflowTestEnvironment, 'client' | 'store'>,
  input: { buildId: string; taskQueue: string; problem: Omit<Problem, 'extra'>; settings: ProblemSettings },
): Promise<ManifestRecord> {
  const { client, store } = environment;
  const key = String(input.problem.id);
  const pageKey = `${stagedPagesPrefix(input.buildId)}${key}.jsonl`;
  await store.put(
    pageKey,
    stagedLine({ problemKey: key, problem: { ...input.problem, extra: {} } }),
    'application/x-ndjson',
  );
  await client.workflow.execute(problemWorkflow, {
    workflowId: problemWorkflowId(input.buildId, key),
    taskQueue: input.taskQueue,
    args: [
      {
        buildId: input.buildId,
        problemKey: key,
        problemId: input.problem.id,
        staged: { pageKey, index: 0 },
        settings: input.settings,
      },
    ],
  });
  return manifestLine(
    JSON.parse(await store.getText(problemRecordKey(input.buildId, key))) as ProblemRecord,
    (artifactKey) => store.uri(artifactKey),
  );
}
