import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ManifestRecord } from '../../domain/manifest.ts';
import { STEPS } from '../../domain/types.ts';
import { batcherWorkflowId } from '../../workflows/definitions.ts';
import {
  expectSampleVerdicts,
  expectWellFormedBatches,
  problemIdsOf,
  readManifest,
  readSummary,
  writeBatchConfig,
} from '../helpers/batch.ts';
import { useTestCluster } from '../helpers/cluster.ts';
import { loadExpectedVerdicts, loadSampleScript, samplesDirectory } from '../helpers/samples.ts';

const SAMPLES = 'samples/problems.jsonl';

/** What a build decided per problem: the part of the manifest batch mode must not change. */
function decisions(records: ManifestRecord[]) {
  return records.map((record) => ({
    id: record.id,
    verdict: record.verdict,
    render_attempts: record.render_attempts,
    reasons: record.reasons,
  }));
}

describe('scigen build --batch on the bundled samples', () => {
  const cluster = useTestCluster('batch-samples', async () => ({ script: await loadSampleScript() }));

  it('OpenAI: the same verdicts and tokens as real time, every request batched under its custom_id, one model per batch, at a lower cost', async () => {
    const { sandbox, endpoint, client } = cluster;
    const config = await writeBatchConfig(sandbox);
    const problemIds = await problemIdsOf(join(samplesDirectory, 'problems.jsonl'));

    const realtime = await sandbox.run(['build', SAMPLES, '--build-id', 'openai-realtime', '--no-progress']);
    expect(realtime.exitCode, realtime.all).toBe(0);
    expect(endpoint.count({ batch: true })).toBe(0);

    endpoint.reset();
    const batched = await sandbox.run([
      'build',
      SAMPLES,
      '--build-id',
      'openai-batch',
      '--batch',
      '--config',
      config,
      '--no-progress',
    ]);
    expect(batched.exitCode, batched.all).toBe(0);
    // The build told its batcher to close; it did, before the CLI stopped the workers it needs.
    expect((await client.workflow.getHandle(batcherWorkflowId('openai-batch', 'openai')).describe()).status.name).toBe(
      'COMPLETED',
    );

    const realtimeRecords = await readManifest(sandbox, 'openai-realtime');
    const batchRecords = await readManifest(sandbox, 'openai-batch');
    expect(batchRecords.map((record) => String(record.id))).toEqual(problemIds);
    expect(decisions(batchRecords)).toEqual(decisions(realtimeRecords));
    expectSampleVerdicts(batchRecords, await loadExpectedVerdicts());

    expectWellFormedBatches(endpoint, problemIds);
    expect(endpoint.batches().every((batch) => batch.provider === 'openai' && batch.status === 'completed')).toBe(true);
    // Repair and refine wait on a render, so they stay real time; every other model call of a
    // problem was batched (scigen's doctor probes the server in real time before the build).
    const realtimeCalls = STEPS.filter((step) => step !== 'repair' && step !== 'refine').map((step) => ({
      step,
      requests: endpoint.count({ step, batch: false, doctor: false }),
    }));
    expect(realtimeCalls.filter((calls) => calls.requests > 0)).toEqual([]);

    const realtimeSummary = await readSummary(sandbox, 'openai-realtime');
    const batchSummary = await readSummary(sandbox, 'openai-batch');
    expect(batchSummary.verdicts).toEqual(realtimeSummary.verdicts);
    expect(batchSummary.usage.input_tokens).toBe(realtimeSummary.usage.input_tokens);
    expect(batchSummary.usage.output_tokens).toBe(realtimeSummary.usage.output_tokens);
    expect(batchSummary.usage.batch_calls).toBeGreaterThan(0);
    expect(batchSummary.usage.realtime_cost_usd).toBeCloseTo(realtimeSummary.usage.cost_usd, 9);
    expect(batchSummary.usage.cost_usd).toBeLessThan(batchSummary.usage.realtime_cost_usd!);
  }, 600_000);

  it('Gemini: the same verdicts as real time through Gemini batch mode, at a lower cost', async () => {
    const { sandbox, endpoint, client } = cluster;
    const config = await writeBatchConfig(sandbox);
    const problemIds = await problemIdsOf(join(samplesDirectory, 'problems.jsonl'));
    endpoint.reset();

    const result = await sandbox.run(
      ['build', SAMPLES, '--build-id', 'gemini-batch', '--batch', '--config', config, '--no-progress'],
      {
        SCIGEN_PROVIDER: 'gemini',
        GEMINI_API_KEY: 'gemini-test-not-a-real-key',
        SCIGEN_GEMINI_BASE_URL: endpoint.geminiBaseUrl,
      },
    );
    expect(result.exitCode, result.all).toBe(0);
    expect((await client.workflow.getHandle(batcherWorkflowId('gemini-batch', 'gemini')).describe()).status.name).toBe(
      'COMPLETED',
    );

    const records = await readManifest(sandbox, 'gemini-batch');
    expect(records.map((record) => String(record.id))).toEqual(problemIds);
    expectSampleVerdicts(records, await loadExpectedVerdicts());

    expectWellFormedBatches(endpoint, problemIds);
    expect(endpoint.batches().every((batch) => batch.provider === 'gemini' && batch.status === 'completed')).toBe(true);
    expect(endpoint.count({ protocol: 'openai' })).toBe(0);

    const summary = await readSummary(sandbox, 'gemini-batch');
    expect(summary.usage.batch_calls).toBeGreaterThan(0);
    expect(summary.usage.cost_usd).toBeLessThan(summary.usage.realtime_cost_usd!);
  }, 600_000);
});
