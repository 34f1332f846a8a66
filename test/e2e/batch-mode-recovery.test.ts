import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { beforeEach, describe, expect, it } from 'vitest';
import type { BatchRecord } from '../../scripted/batch-jobs.ts';
import { batcherWorkflowId, buildWorkflowId } from '../../workflows/definitions.ts';
import {
  batchesPerCustomId,
  expectSampleVerdicts,
  expectWellFormedBatches,
  parseCustomId,
  problemIdsOf,
  readManifest,
  waitForBatch,
  writeBatchConfig,
} from '../helpers/batch.ts';
import { useTestCluster } from '../helpers/cluster.ts';
import { loadExpectedVerdicts, loadSampleScript, samplesDirectory, type ExpectedVerdict } from '../helpers/samples.ts';

const SAMPLES = 'samples/problems.jsonl';

/** Is there, in a batch after `earlier`, a request of the same step and problem with a later attempt? */
function sentAgainLater(batches: readonly BatchRecord[], earlier: BatchRecord, customId: string): boolean {
  const { step, problemId, attempt } = parseCustomId(customId);
  return batches.slice(batches.indexOf(earlier) + 1).some((batch) =>
    batch.customIds.some((later) => {
      const parts = parseCustomId(later);
      return parts.step === step && parts.problemId === problemId && parts.attempt > attempt;
    }),
  );
}

describe('batch mode through crashes, expired batches, per-request errors and cancel', () => {
  const cluster = useTestCluster('batch-recovery', async () => ({ script: await loadSampleScript() }));
  let config: string;
  let problemIds: string[];
  let expected: Record<string, ExpectedVerdict>;

  beforeEach(async () => {
    // A fresh script: faults a test added stay in the replies otherwise, and reset() re-arms them.
    cluster.endpoint.setScript(await loadSampleScript());
    cluster.endpoint.reset();
    cluster.endpoint.setBatchDuration(1000);
    config = await writeBatchConfig(cluster.sandbox);
    problemIds = await problemIdsOf(join(samplesDirectory, 'problems.jsonl'));
    expected = await loadExpectedVerdicts();
  });

  const batchBuild = (buildId: string) => [
    'build',
    SAMPLES,
    '--build-id',
    buildId,
    '--batch',
    '--config',
    config,
    '--no-progress',
  ];

  it('SIGKILL of the CLI and its workers while a batch runs: the same command finishes it, no request batched twice, each problem recorded once', async () => {
    const { sandbox, endpoint } = cluster;
    const args = batchBuild('killed-batch');
    endpoint.setBatchDuration(20_000);
    const first = sandbox.run(args);
    const running = await waitForBatch(endpoint, (batch) => batch.status === 'in_progress', first);
    // The workers run inside the CLI: killing it kills them, mid-batch, with nothing shut down.
    first.kill('SIGKILL');
    const killed = await first;
    expect(killed.signal).toBe('SIGKILL');
    const batchesAtKill = endpoint.batches().length;

    endpoint.setBatchDuration(1000);
    const resumed = await sandbox.run(args);
    expect(resumed.exitCode, resumed.all).toBe(0);

    const records = await readManifest(sandbox, 'killed-batch');
    expect(records.map((record) => String(record.id))).toEqual(problemIds);
    expectSampleVerdicts(records, expected);

    const batches = endpoint.batches();
    expect(batches.length).toBeGreaterThan(batchesAtKill);
    // The batch running at the kill was waited for, not submitted again: its answers were used.
    expect(batches.find((batch) => batch.id === running.id)?.status).toBe('completed');
    // Each submission of the batcher (its idempotency key, in the batch's metadata) made one batch.
    const submissions = batches.map((batch) => batch.metadata['scigen_submission']);
    expect(submissions.every((submission) => submission !== undefined)).toBe(true);
    expect(new Set(submissions).size).toBe(batches.length);
    // No faults hit a batch here but the script's one 503 (a plan of chem-haber-process), which
    // goes again under its next attempt's custom_id: so every custom_id is in exactly one batch.
    const repeated = [...batchesPerCustomId(batches)].filter(([, count]) => count > 1);
    expect(repeated).toEqual([]);
    expectWellFormedBatches(endpoint, problemIds);
  }, 600_000);

  it('an expired batch: what it did not answer goes into a later batch, and the verdicts stay the same', async () => {
    const { sandbox, endpoint } = cluster;
    endpoint.expireBatches({ step: 'classify' });
    const result = await sandbox.run(batchBuild('expired-batch'));
    expect(result.exitCode, result.all).toBe(0);

    const batches = endpoint.batches();
    const expired = batches.find((batch) => batch.status === 'expired');
    expect(expired, JSON.stringify(batches)).toBeDefined();
    // The fake answers a batch's requests in order: those after `answered` were never reached.
    const unanswered = expired!.customIds.slice(expired!.answered);
    expect(unanswered.length).toBeGreaterThan(0);
    for (const customId of unanswered) {
      expect({ customId, sentAgain: sentAgainLater(batches, expired!, customId) }).toEqual({
        customId,
        sentAgain: true,
      });
    }
    for (const customId of expired!.customIds.slice(0, expired!.answered)) {
      expect({ customId, sentAgain: sentAgainLater(batches, expired!, customId) }).toEqual({
        customId,
        sentAgain: false,
      });
    }

    const records = await readManifest(sandbox, 'expired-batch');
    expect(records.map((record) => String(record.id))).toEqual(problemIds);
    expectSampleVerdicts(records, expected);
  }, 600_000);

  it('per-request errors in a batch: a 429 goes into a later batch and the problem is accepted; a 400 fails its problem with the provider’s words', async () => {
    const { sandbox, endpoint } = cluster;
    const rateLimited = 'phys-incline-block';
    const refused = 'math-triangle-circumcircle';
    const refusal = 'scripted refusal: this judge request is malformed';
    endpoint.addFaults({ problem: rateLimited, step: 'judge' }, { status: 429, message: 'scripted: slow down' });
    endpoint.addFaults({ problem: refused, step: 'judge' }, { status: 400, message: refusal });

    const result = await sandbox.run(batchBuild('errors-batch'));
    expect(result.exitCode, result.all).toBe(0);

    // Both faults were answered inside batches, not in real time.
    const faulted = endpoint.requests.filter((request) => request.faulted);
    expect(
      faulted.map((request) => ({
        problem: request.problem,
        status: request.status,
        batched: request.batch?.operation === 'request',
      })),
    ).toEqual(
      expect.arrayContaining([
        { problem: rateLimited, status: 429, batched: true },
        { problem: refused, status: 400, batched: true },
      ]),
    );

    const batches = endpoint.batches();
    const judgeIds = (problem: string) =>
      batches.flatMap((batch) =>
        batch.customIds
          .filter((customId) => customId.startsWith(`scigen:judge:${problem}:`))
          .map((customId) => ({
            customId,
            batch: batch.id,
          })),
      );
    // The 429 was sent again in a later batch under its next custom_id; the 400 was not.
    const rateLimitedJudges = judgeIds(rateLimited);
    expect(rateLimitedJudges.length).toBeGreaterThanOrEqual(2);
    expect(new Set(rateLimitedJudges.map((judge) => judge.batch)).size).toBe(rateLimitedJudges.length);
    expect(judgeIds(refused)).toHaveLength(1);
    expect(endpoint.count({ problem: refused, step: 'judge' })).toBe(1);

    const records = await readManifest(sandbox, 'errors-batch');
    expect(records.map((record) => String(record.id))).toEqual(problemIds);
    const byId = new Map(records.map((record) => [String(record.id), record]));
    expect(byId.get(rateLimited)?.verdict).toBe('accepted');
    const refusedRecord = byId.get(refused)!;
    expect(refusedRecord.verdict).toBe('failed');
    expect(
      refusedRecord.reasons.some((reason) => reason.includes(refusal)),
      JSON.stringify(refusedRecord.reasons),
    ).toBe(true);
    expectSampleVerdicts(
      records.filter((record) => String(record.id) !== refused),
      expected,
    );
  }, 600_000);

  it('a call the batch could not answer goes to real time once its resubmits are used up (maxResubmits 0)', async () => {
    const { sandbox, endpoint } = cluster;
    const rateLimited = 'phys-incline-block';
    endpoint.addFaults({ problem: rateLimited, step: 'judge' }, { status: 429, message: 'scripted: slow down' });
    const noResubmits = join(sandbox.stateDirectory, 'no-resubmits.json');
    await writeFile(
      noResubmits,
      JSON.stringify({ batch: { pollSeconds: 1, maxPollSeconds: 2, maxWaitMinutes: 0.02, maxResubmits: 0 } }),
    );

    const result = await sandbox.run([
      'build',
      SAMPLES,
      '--build-id',
      'fallback-batch',
      '--batch',
      '--config',
      noResubmits,
      '--no-progress',
    ]);
    expect(result.exitCode, result.all).toBe(0);

    // One judge request of that problem in a batch (answered 429), then one in real time (answered).
    const judged = endpoint.requests.filter((request) => request.problem === rateLimited && request.step === 'judge');
    expect(judged.map((request) => ({ batched: request.batch !== undefined, status: request.status }))).toEqual([
      { batched: true, status: 429 },
      { batched: false, status: 200 },
    ]);
    const records = await readManifest(sandbox, 'fallback-batch');
    expect(records.map((record) => String(record.id))).toEqual(problemIds);
    expectSampleVerdicts(records, expected);
  }, 600_000);

  it('status during a batch prints the batch line; cancel ends the build cancelled and cancels the submitted batch', async () => {
    const { sandbox, endpoint, client } = cluster;
    const buildId = 'cancelled-batch';
    endpoint.setBatchDuration(300_000);
    const build = sandbox.run(batchBuild(buildId));
    const running = await waitForBatch(endpoint, (batch) => batch.status === 'in_progress', build);

    // The batcher records the batch once its submit activity returns: poll status until it shows.
    let statusText = '';
    for (let poll = 0; poll < 120 && !/batches [1-9]\d* submitted, [1-9]\d* in progress/.test(statusText); poll++) {
      const status = await sandbox.run(['status', buildId]);
      expect(status.exitCode, status.all).toBe(0);
      statusText = status.stdout;
      await delay(250);
    }
    expect(statusText).toMatch(
      /batches [1-9]\d* submitted, [1-9]\d* in progress, \d+ done; \d+ requests in batches, \d+ waiting/,
    );

    const cancel = await sandbox.run(['cancel', buildId]);
    expect(cancel.exitCode, cancel.all).toBe(0);
    const cancelled = await build;
    expect(cancelled.exitCode, cancelled.all).toBe(1);
    expect(cancelled.all).toContain(`build ${buildId} was cancelled`);
    expect((await client.workflow.getHandle(buildWorkflowId(buildId)).describe()).status.name).toBe('CANCELLED');

    // The batcher cancels what it submitted at the provider, so what no problem waits for is not paid.
    const batcher = client.workflow.getHandle(batcherWorkflowId(buildId, 'openai'));
    const batchStatus = () => endpoint.batches().find((batch) => batch.id === running.id)?.status;
    for (let poll = 0; poll < 600 && batchStatus() === 'in_progress'; poll++) await delay(100);
    expect(batchStatus()).toMatch(/^(cancelling|cancelled)$/);
    expect((await batcher.describe()).status.name).toBe('CANCELLED');
  }, 600_000);
});
