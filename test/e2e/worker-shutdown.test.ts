import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DOCTOR_PROBLEM_ID } from '../../doctor/canary.ts';
import { syntheticProblems, syntheticScript } from '../../scripted/synthetic.ts';
import { problemWorkflowId } from '../../workflows/definitions.ts';
import { writeProblemsFile } from '../helpers/cli.ts';
import { startTestCluster, type TestCluster } from '../helpers/cluster.ts';

describe('a dedicated worker stops gracefully on SIGTERM', () => {
  let cluster: TestCluster;

  beforeAll(async () => {
    // Slow answers, so a model call is surely in flight when the worker is told to stop.
    cluster = await startTestCluster('shutdown', { script: syntheticScript, latencyMs: 3000 });
  });
  afterAll(async () => {
    await cluster?.close();
  });

  it('stops polling, finishes the call in flight (no retry, no second request) and exits 0', async () => {
    const { endpoint, sandbox, client } = cluster;
    const inputFile = await writeProblemsFile('shutdown-input', syntheticProblems(1, 1));
    const environment = { TEMPORAL_ADDRESS: cluster.server.address };
    const others = [
      sandbox.run(['worker', '--queue', 'workflows'], environment),
      sandbox.run(['worker', '--queue', 'render'], environment),
    ];
    const llm = sandbox.run(['worker', '--queue', 'llm'], environment);
    const build = sandbox.run(['build', inputFile, '--build-id', 'shutdown-e2e', '--no-progress'], environment);

    while (endpoint.count({ step: 'classify', doctor: false }) === 0)
      await new Promise((resolve) => setTimeout(resolve, 50));
    llm.kill('SIGTERM');
    const stopped = await llm;
    expect(stopped.exitCode, stopped.all).toBe(0);
    // The worker waited for its call: the answer came back (3 s later) before it exited.
    expect(
      endpoint.requests
        .filter((request) => request.step === 'classify' && request.problem !== DOCTOR_PROBLEM_ID)
        .map((request) => request.status),
    ).toEqual([200]);

    const replacement = sandbox.run(['worker', '--queue', 'llm'], environment);
    const result = await build;
    expect(result.exitCode, result.all).toBe(0);
    expect(endpoint.count({ step: 'classify', doctor: false })).toBe(1);

    const history = await client.workflow.getHandle(problemWorkflowId('shutdown-e2e', 'p00000')).fetchHistory();
    const classifyScheduled = history.events!.find(
      (event) => event.activityTaskScheduledEventAttributes?.activityType?.name === 'classifyProblem',
    )!;
    const classifyStarted = history.events!.find(
      (event) =>
        String(event.activityTaskStartedEventAttributes?.scheduledEventId) === String(classifyScheduled.eventId),
    );
    expect(classifyStarted?.activityTaskStartedEventAttributes?.attempt).toBe(1);
    for (const worker of [...others, replacement]) worker.kill('SIGTERM');
    const exits = await Promise.all([...others, replacement]);
    expect(exits.map((exit) => exit.exitCode)).toEqual([0, 0, 0]);
  }, 300_000);
});
