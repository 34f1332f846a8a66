import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { problemKey } from '../../domain/input.ts';
import type { ManifestRecord } from '../../domain/manifest.ts';
import { problemWorkflowId } from '../../workflows/definitions.ts';
import { readJsonLines, writeProblemsFile, type CliSandbox } from '../helpers/cli.ts';
import { startTestCluster, superviseWorkers, type TestCluster } from '../helpers/cluster.ts';
import { MODEL_STEP_OF_ACTIVITY } from '../helpers/history.ts';
import { syntheticProblems, syntheticScript } from '../../scripted/synthetic.ts';

const QUEUES = ['workflows', 'llm', 'render'] as const;
const WINDOW_SIZE = 8;

const pause = (milliseconds: number) => new Promise((resolve) => setTimeout(resolve, milliseconds));

describe('a build survives SIGKILLed workers and a restarted Temporal server', () => {
  let cluster: TestCluster;

  beforeAll(async () => {
    cluster = await startTestCluster('chaos', { script: syntheticScript, latencyMs: 100 });
  });
  afterAll(async () => {
    await cluster?.close();
  });

  it('completes with one manifest line per problem, no completed model call repeated, repeats bounded by the window', async () => {
    const { endpoint, sandbox, client } = cluster;
    const problems = syntheticProblems(60, 3);
    const inputFile = await writeProblemsFile('chaos-input', problems);
    const environment = { TEMPORAL_ADDRESS: cluster.server.address };
    const buildId = 'chaos-e2e';

    // A worker that gives up (say, while the server is down) is started again, as a supervisor would.
    const workers = superviseWorkers(sandbox, QUEUES, environment, 500);

    const latest: { build: Awaited<ReturnType<CliSandbox['run']>> | null } = { build: null };
    const runBuild = async () => {
      // The CLI may lose its connection while the server restarts; running it again re-attaches.
      for (let attempt = 0; attempt < 5 && latest.build?.exitCode !== 0; attempt++) {
        latest.build = await sandbox.run(
          ['build', inputFile, '--build-id', buildId, '--window', String(WINDOW_SIZE), '--no-progress'],
          environment,
        );
      }
    };
    const build = runBuild();

    for (let round = 0; round < 3; round++) {
      await pause(2000 + Math.random() * 4000);
      // Each disruption must land while the build is still running, or the test proves nothing.
      expect(latest.build?.exitCode).not.toBe(0);
      workers.killAll('SIGKILL');
      if (round === 1) await cluster.restartServer(1000);
    }
    await build;
    await workers.stop();
    expect(latest.build?.exitCode, latest.build?.all).toBe(0);

    const manifest = readJsonLines<ManifestRecord>(
      await readFile(join(sandbox.stateDirectory, 'artifacts', 'builds', buildId, 'manifest.jsonl'), 'utf8'),
    );
    expect(manifest.map((record) => record.id)).toEqual(problems.map((problem) => problem.id));

    // Every attempt of a model activity sends at most one request (answerQuizzes: one per quiz it
    // has no stored answer for), and an activity whose completion was recorded gets no further
    // attempt: so requests never exceed attempts (times quizzes, for answers), step by step.
    let extraAttempts = 0;
    for (const problem of problems) {
      const history = await client.workflow
        .getHandle(problemWorkflowId(buildId, problemKey(problem.id)))
        .fetchHistory();
      const attempts = new Map<string, number>();
      const stepOfEvent = new Map<string, string>();
      for (const event of history.events ?? []) {
        const scheduled = event.activityTaskScheduledEventAttributes;
        const scheduledStep = scheduled ? MODEL_STEP_OF_ACTIVITY[scheduled.activityType?.name ?? ''] : undefined;
        if (scheduledStep) stepOfEvent.set(String(event.eventId), scheduledStep);
        const started = event.activityTaskStartedEventAttributes;
        const startedStep = started ? stepOfEvent.get(String(started.scheduledEventId)) : undefined;
        if (started && startedStep) {
          attempts.set(startedStep, (attempts.get(startedStep) ?? 0) + (started.attempt ?? 1));
          extraAttempts += (started.attempt ?? 1) - 1;
        }
      }
      const quizzes = manifest.find((record) => record.id === problem.id)?.results?.[0]?.quiz_results?.length ?? 1;
      for (const [step, attempted] of attempts) {
        const attemptCount = step === 'answer' ? attempted * quizzes : attempted;
        const requests = endpoint.count({ problem: problem.id, step });
        expect({ problem: problem.id, step, requests: Math.min(requests, attemptCount) }).toEqual({
          problem: problem.id,
          step,
          requests,
        });
        expect(requests).toBeGreaterThanOrEqual(1);
      }
    }
    // Four disruptions, each repeating at most the calls in flight: one per problem in the window.
    expect(extraAttempts).toBeLessThanOrEqual(WINDOW_SIZE * 4);
  }, 600_000);
});
