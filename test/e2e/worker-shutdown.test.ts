import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureDevServer, type DevServer } from '../../infra/dev-server.ts';
import { startScriptedEndpoint, type ScriptedEndpoint } from '../../scripted/server.ts';
import { syntheticProblems, syntheticScript } from '../../scripted/synthetic.ts';
import { problemWorkflowId, SEARCH_ATTRIBUTE_TYPES } from '../../workflows/definitions.ts';
import { createCliSandbox, type CliSandbox } from '../helpers/cli.ts';

describe('a dedicated worker stops gracefully on SIGTERM', () => {
  let server: DevServer;
  let endpoint: ScriptedEndpoint;
  let sandbox: CliSandbox;

  beforeAll(async () => {
    // Slow answers, so a model call is surely in flight when the worker is told to stop.
    endpoint = await startScriptedEndpoint({ script: syntheticScript, latencyMs: 3000 });
    sandbox = await createCliSandbox('shutdown', {
      OPENAI_API_KEY: 'sk-test-not-a-real-key',
      OPENAI_BASE_URL: endpoint.openAiBaseUrl,
    });
    server = await ensureDevServer({
      port: sandbox.temporalPort,
      uiPort: sandbox.uiPort,
      dbFile: join(sandbox.stateDirectory, 'temporal.db'),
      searchAttributes: SEARCH_ATTRIBUTE_TYPES,
    });
  });
  afterAll(async () => {
    await endpoint?.close();
    await server?.stop();
  });

  it('stops polling, finishes the call in flight (no retry, no second request) and exits 0', async () => {
    const directory = await mkdtemp(join(tmpdir(), 'scigen-shutdown-'));
    const inputFile = join(directory, 'problems.jsonl');
    await writeFile(
      inputFile,
      syntheticProblems(1, 1)
        .map((problem) => JSON.stringify(problem))
        .join('\n'),
    );
    const cluster = { TEMPORAL_ADDRESS: server.address };
    const others = [
      sandbox.run(['worker', '--queue', 'workflows'], cluster),
      sandbox.run(['worker', '--queue', 'render'], cluster),
    ];
    const llm = sandbox.run(['worker', '--queue', 'llm'], cluster);
    const build = sandbox.run(['build', inputFile, '--build-id', 'shutdown-e2e', '--no-progress'], cluster);

    while (endpoint.count({ step: 'classify' }) === 0) await new Promise((resolve) => setTimeout(resolve, 50));
    llm.kill('SIGTERM');
    const stopped = await llm;
    expect(stopped.exitCode, stopped.all).toBe(0);
    // The worker waited for its call: the answer came back (3 s later) before it exited.
    expect(endpoint.requests.filter((request) => request.step === 'classify').map((request) => request.status)).toEqual(
      [200],
    );

    const replacement = sandbox.run(['worker', '--queue', 'llm'], cluster);
    const result = await build;
    expect(result.exitCode, result.all).toBe(0);
    expect(endpoint.count({ step: 'classify' })).toBe(1);

    const client = new Client({ connection: await Connection.connect({ address: server.address }) });
    try {
      const history = await client.workflow.getHandle(problemWorkflowId('shutdown-e2e', 'p00000')).fetchHistory();
      const classifyScheduled = history.events!.find(
        (event) => event.activityTaskScheduledEventAttributes?.activityType?.name === 'classifyProblem',
      )!;
      const classifyStarted = history.events!.find(
        (event) =>
          String(event.activityTaskStartedEventAttributes?.scheduledEventId) === String(classifyScheduled.eventId),
      );
      expect(classifyStarted?.activityTaskStartedEventAttributes?.attempt).toBe(1);
    } finally {
      await client.connection.close();
    }
    for (const worker of [...others, replacement]) worker.kill('SIGTERM');
    const exits = await Promise.all([...others, replacement]);
    expect(exits.map((exit) => exit.exitCode)).toEqual([0, 0, 0]);
  }, 300_000);
});
