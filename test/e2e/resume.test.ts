import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { describe, expect, it } from 'vitest';
import { problemKey } from '../../domain/input.ts';
import type { ManifestRecord } from '../../domain/manifest.ts';
import { problemWorkflowId } from '../../workflows/definitions.ts';
import { readJsonLines } from '../helpers/cli.ts';
import { useTestCluster } from '../helpers/cluster.ts';
import { MODEL_STEP_OF_ACTIVITY } from '../helpers/history.ts';
import { loadSampleScript, samplesDirectory } from '../helpers/samples.ts';

interface StepActivities {
  scheduled: number;
  completed: number;
}

/** Per "problem/step": model activities scheduled and completed, read from each problem's history. */
async function modelActivities(
  client: Client,
  buildId: string,
  problemIds: string[],
): Promise<Map<string, StepActivities>> {
  const result = new Map<string, StepActivities>();
  for (const id of problemIds) {
    let history;
    try {
      history = await client.workflow.getHandle(problemWorkflowId(buildId, problemKey(id))).fetchHistory();
    } catch (error) {
      // Not started yet: fetchHistory reports a plain gRPC NOT_FOUND (code 5).
      if (error instanceof WorkflowNotFoundError || (error as { code?: number }).code === 5) continue;
      throw error;
    }
    const stepOfEvent = new Map<string, string>();
    for (const event of history.events ?? []) {
      const scheduled = event.activityTaskScheduledEventAttributes;
      const step = scheduled ? MODEL_STEP_OF_ACTIVITY[scheduled.activityType?.name ?? ''] : undefined;
      if (scheduled && step) {
        stepOfEvent.set(String(event.eventId), step);
        const entry = result.get(`${id}/${step}`) ?? { scheduled: 0, completed: 0 };
        entry.scheduled += 1;
        result.set(`${id}/${step}`, entry);
      }
      const completed = event.activityTaskCompletedEventAttributes;
      const completedStep = completed ? stepOfEvent.get(String(completed.scheduledEventId)) : undefined;
      if (completedStep) result.get(`${id}/${completedStep}`)!.completed += 1;
    }
  }
  return result;
}

describe('a build killed with SIGKILL resumes under the same build id', () => {
  // Latency keeps the build busy long enough to be killed in the middle; the test owns the dev
  // server, so it outlives the killed CLI as a real cluster would.
  const cluster = useTestCluster('resume', async () => ({ script: await loadSampleScript(), latencyMs: 250 }));

  it('finishes with one manifest line per problem and repeats no model call that had completed', async () => {
    const buildId = 'resume-e2e';
    const args = ['build', 'samples/problems.jsonl', '--build-id', buildId, '--window', '4', '--no-progress'];
    const problemIds = readJsonLines<{ id: string }>(
      await readFile(join(samplesDirectory, 'problems.jsonl'), 'utf8'),
    ).map((problem) => problem.id);

    const first = cluster.sandbox.run(args);
    await new Promise<void>((resolve, reject) => {
      const timer = setInterval(() => {
        if (cluster.endpoint.requests.length >= 30) {
          clearInterval(timer);
          resolve();
        }
      }, 50);
      first.then(() => {
        clearInterval(timer);
        reject(new Error('the build finished before it could be killed'));
      }, reject);
    });
    first.kill('SIGKILL');
    const killed = await first;
    expect(killed.signal).toBe('SIGKILL');

    const requestsAtKill = new Map<string, number>();
    for (const request of cluster.endpoint.requests) {
      const key = `${request.problem}/${request.step}`;
      requestsAtKill.set(key, (requestsAtKill.get(key) ?? 0) + 1);
    }
    const activitiesAtKill = await modelActivities(cluster.client, buildId, problemIds);
    const completedAtKill = [...activitiesAtKill.values()].reduce((sum, entry) => sum + entry.completed, 0);
    expect(completedAtKill).toBeGreaterThan(0);

    const second = await cluster.sandbox.run(args);
    expect(second.exitCode, second.all).toBe(0);
    expect(second.all).toContain('re-attached to the running build');
    expect(second.all).toContain('Temporal dev server reused');

    const manifestText = await readFile(
      join(cluster.sandbox.stateDirectory, 'artifacts', 'builds', buildId, 'manifest.jsonl'),
      'utf8',
    );
    const records = readJsonLines<ManifestRecord>(manifestText);
    expect(records.map((record) => record.id).sort()).toEqual([...problemIds].sort());

    const requestsAfter = new Map<string, number>();
    for (const request of cluster.endpoint.requests) {
      const key = `${request.problem}/${request.step}`;
      requestsAfter.set(key, (requestsAfter.get(key) ?? 0) + 1);
    }
    const activitiesAfter = await modelActivities(cluster.client, buildId, problemIds);
    let stepsFinishedBeforeKill = 0;
    let stepsFinishedAfterKill = 0;
    for (const [key, after] of activitiesAfter) {
      const atKill = activitiesAtKill.get(key) ?? { scheduled: 0, completed: 0 };
      if (atKill.completed > 0 && atKill.completed === after.scheduled) {
        // Every call of this step had completed before the kill: none may be sent again.
        stepsFinishedBeforeKill += 1;
        expect({ key, requests: requestsAfter.get(key) ?? 0 }).toEqual({ key, requests: requestsAtKill.get(key) ?? 0 });
      } else {
        stepsFinishedAfterKill += 1;
      }
    }
    expect(stepsFinishedBeforeKill).toBeGreaterThan(0);
    expect(stepsFinishedAfterKill).toBeGreaterThan(0);
  }, 600_000);
});
