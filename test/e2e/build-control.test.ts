import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import { describe, expect, it } from 'vitest';
import type { ManifestRecord } from '../../domain/manifest.ts';
import { buildWorkflowId, PROBLEM_STAGES, progressQuery, type BuildProgress } from '../../workflows/definitions.ts';
import { readJsonLines } from '../helpers/cli.ts';
import { useTestCluster } from '../helpers/cluster.ts';
import { loadSampleScript } from '../helpers/samples.ts';

/** Polls the build's progress query until `accept` holds; fails with the last progress seen. */
async function waitForProgress(
  client: Client,
  buildId: string,
  accept: (progress: BuildProgress) => boolean,
  timeoutMs = 120_000,
): Promise<BuildProgress> {
  const deadline = Date.now() + timeoutMs;
  let last: BuildProgress | null = null;
  while (Date.now() < deadline) {
    last = await client.workflow
      .getHandle(buildWorkflowId(buildId))
      .query(progressQuery)
      .catch(() => last);
    if (last && accept(last)) return last;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`progress never matched; last: ${JSON.stringify(last)}`);
}

describe('steering a running build: pause, resume, window size, budget, cancel', () => {
  const cluster = useTestCluster('control', async () => ({ script: await loadSampleScript(), latencyMs: 200 }));

  it('pause stops new problems, window changes live, resume continues, cancel writes what finished, and the same id resumes', async () => {
    const buildId = 'control-e2e';
    const args = ['build', 'samples/problems.jsonl', '--build-id', buildId, '--window', '2', '--no-progress'];
    const first = cluster.sandbox.run(args);

    await waitForProgress(cluster.client, buildId, (progress) => progress.completed >= 3);
    expect((await cluster.sandbox.run(['pause', buildId])).exitCode).toBe(0);
    const paused = await waitForProgress(
      cluster.client,
      buildId,
      (progress) => progress.phase === 'paused' && progress.inFlight === 0,
    );
    expect(paused.pausedBy).toBe('user');
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const stillPaused = await waitForProgress(cluster.client, buildId, () => true);
    expect(stillPaused.completed).toBe(paused.completed);
    expect(stillPaused.inFlight).toBe(0);

    const resized = await cluster.sandbox.run(['window', buildId, '5']);
    expect(resized.exitCode, resized.all).toBe(0);
    expect((await waitForProgress(cluster.client, buildId, () => true)).windowSize).toBe(5);
    expect((await cluster.sandbox.run(['window', buildId, '0'])).exitCode).toBe(2);

    const status = await cluster.sandbox.run(['status', buildId]);
    expect(status.stdout).toContain('paused by user');

    expect((await cluster.sandbox.run(['resume', buildId])).exitCode).toBe(0);
    const widened = await waitForProgress(
      cluster.client,
      buildId,
      (progress) => progress.phase === 'running' && progress.inFlight > 2,
    );
    expect(widened.inFlight).toBeLessThanOrEqual(5);
    // While problems run, status counts them per stage from the ScigenStage search attribute.
    let stages: Record<string, number> = {};
    for (let poll = 0; poll < 40 && Object.keys(stages).length === 0; poll++) {
      const running = await cluster.sandbox.run(['status', buildId, '--json']);
      stages = (JSON.parse(running.stdout) as { stages: Record<string, number> }).stages;
    }
    expect(Object.keys(stages).length).toBeGreaterThan(0);
    for (const [stage, count] of Object.entries(stages)) {
      expect(PROBLEM_STAGES).toContain(stage);
      expect(count).toBeGreaterThan(0);
    }
    // One count query per stage: a problem that finishes between two of them may make room for one
    // counted again, so the total is bounded by twice the window, not the window.
    expect(Object.values(stages).reduce((sum, count) => sum + count, 0)).toBeLessThanOrEqual(10);
    const beforeCancel = await waitForProgress(
      cluster.client,
      buildId,
      (progress) => progress.completed > paused.completed,
    );

    expect((await cluster.sandbox.run(['cancel', buildId])).exitCode).toBe(0);
    const cancelled = await first;
    expect(cancelled.exitCode, cancelled.all).toBe(1);
    expect(cancelled.all).toContain(`build ${buildId} was cancelled; manifest of the finished problems`);
    const manifestPath = join(cluster.sandbox.stateDirectory, 'artifacts', 'builds', buildId, 'manifest.jsonl');
    const partial = readJsonLines<ManifestRecord>(await readFile(manifestPath, 'utf8'));
    expect(partial.length).toBeGreaterThanOrEqual(beforeCancel.completed);
    expect(partial.length).toBeLessThan(16);
    expect(new Set(partial.map((record) => record.id)).size).toBe(partial.length);
    expect((await cluster.client.workflow.getHandle(buildWorkflowId(buildId)).describe()).status.name).toBe(
      'CANCELLED',
    );

    const requestsBefore = cluster.endpoint.requests.length;
    const resumed = await cluster.sandbox.run(args);
    expect(resumed.exitCode, resumed.all).toBe(0);
    expect(resumed.all).toContain('resuming (previous run cancelled)');
    const full = readJsonLines<ManifestRecord>(await readFile(manifestPath, 'utf8'));
    expect(full).toHaveLength(16);
    // Problems that finished before the cancel were not asked of the model again.
    const finishedBefore = new Set(partial.map((record) => String(record.id)));
    expect(
      cluster.endpoint.requests.slice(requestsBefore).filter((request) => finishedBefore.has(request.problem ?? '')),
    ).toEqual([]);
  });

  it('a budget pauses the build when spent and resume with a higher budget finishes it', async () => {
    const buildId = 'budget-e2e';
    const configFile = join(cluster.sandbox.stateDirectory, 'priced.json');
    // Prices far above real ones, so a few problems spend the budget.
    const price = { input: 1000, output: 1000 };
    await writeFile(configFile, JSON.stringify({ prices: { 'gpt-4.1': price, 'gpt-4.1-mini': price } }));
    const build = cluster.sandbox.run([
      'build',
      'samples/problems.jsonl',
      '--build-id',
      buildId,
      '--window',
      '2',
      '--budget',
      '5',
      '--config',
      configFile,
      '--no-progress',
    ]);
    const paused = await waitForProgress(
      cluster.client,
      buildId,
      (progress) => progress.pausedBy === 'budget' && progress.inFlight === 0,
    );
    expect(paused.usage.cost_usd).toBeGreaterThanOrEqual(5);
    expect(paused.completed).toBeLessThan(16);
    const resumed = await cluster.sandbox.run(['resume', buildId, '--budget', '100000']);
    expect(resumed.exitCode, resumed.all).toBe(0);
    const finished = await build;
    expect(finished.exitCode, finished.all).toBe(0);
    const summary = JSON.parse(
      await readFile(join(cluster.sandbox.stateDirectory, 'artifacts', 'builds', buildId, 'summary.json'), 'utf8'),
    ) as { usage: { cost_usd: number; input_tokens: number; output_tokens: number } };
    expect(summary.usage.cost_usd).toBeCloseTo(
      ((summary.usage.input_tokens + summary.usage.output_tokens) * 1000) / 1e6,
      6,
    );
  });
});
