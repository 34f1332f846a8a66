import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { expect } from 'vitest';
import { parseBatchCustomId, type BatchCustomId } from '../../domain/batch.ts';
import type { ManifestRecord } from '../../domain/manifest.ts';
import type { BuildSummary } from '../../domain/summary.ts';
import type { BatchRecord } from '../../scripted/batch-jobs.ts';
import type { ScriptedEndpoint } from '../../scripted/server.ts';
import { readJsonLines, type CliSandbox } from './cli.ts';
import type { ExpectedVerdict } from './samples.ts';

/** The parts of a custom_id scigen wrote; a test failure for any other shape. */
export function parseCustomId(customId: string): BatchCustomId {
  const parts = parseBatchCustomId(customId);
  if (!parts) throw new Error(`custom_id ${customId} is not scigen:<step>:<problem-id>:<attempt>`);
  return parts;
}

/**
 * A config with batch timings a test can wait out: a group is submitted after about a second, and
 * a batch is checked every one to two seconds.
 */
export async function writeBatchConfig(sandbox: CliSandbox, name = 'batch-config.json'): Promise<string> {
  const file = join(sandbox.stateDirectory, name);
  await writeFile(file, JSON.stringify({ batch: { pollSeconds: 1, maxPollSeconds: 2, maxWaitMinutes: 0.02 } }));
  return file;
}

export function buildDirectory(sandbox: CliSandbox, buildId: string): string {
  return join(sandbox.stateDirectory, 'artifacts', 'builds', buildId);
}

export async function readManifest(sandbox: CliSandbox, buildId: string): Promise<ManifestRecord[]> {
  return readJsonLines<ManifestRecord>(
    await readFile(join(buildDirectory(sandbox, buildId), 'manifest.jsonl'), 'utf8'),
  );
}

export async function readSummary(sandbox: CliSandbox, buildId: string): Promise<BuildSummary> {
  return JSON.parse(await readFile(join(buildDirectory(sandbox, buildId), 'summary.json'), 'utf8')) as BuildSummary;
}

/** Each problem's verdict, render attempts and reasons are the ones the real-time build gives (samples/expected-verdicts.json). */
export function expectSampleVerdicts(records: ManifestRecord[], expected: Record<string, ExpectedVerdict>): void {
  for (const record of records) {
    const expectation = expected[String(record.id)];
    expect(expectation, `expected verdict for ${record.id}`).toBeDefined();
    expect({ id: record.id, verdict: record.verdict, render_attempts: record.render_attempts }).toEqual({
      id: record.id,
      verdict: expectation!.verdict,
      render_attempts: expectation!.render_attempts,
    });
    for (const fragment of expectation!.reasons_include) {
      expect(
        record.reasons.some((reason) => reason.includes(fragment)),
        `${record.id}: a reason containing ${fragment} in ${JSON.stringify(record.reasons)}`,
      ).toBe(true);
    }
  }
}

/**
 * Every batched request is named `scigen:<step>:<problem-id>:<attempt>` for a problem of the build,
 * and every batch asked one model: the model each of its requests named is the batch's.
 */
export function expectWellFormedBatches(endpoint: ScriptedEndpoint, problemIds: readonly string[]): void {
  const batches = endpoint.batches();
  expect(batches.length).toBeGreaterThan(0);
  for (const batch of batches) {
    expect(batch.lineCount).toBe(batch.customIds.length);
    for (const customId of batch.customIds) {
      expect(problemIds).toContain(parseCustomId(customId).problemId);
    }
    const models = new Set(
      endpoint.requests
        .filter((request) => request.batch?.operation === 'request' && request.batch.id === batch.id)
        .map((request) => request.model),
    );
    expect({ batch: batch.id, models: [...models] }).toEqual({ batch: batch.id, models: [batch.model] });
  }
}

/** How many batches hold each custom_id. */
export function batchesPerCustomId(batches: readonly BatchRecord[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const batch of batches) {
    for (const customId of batch.customIds) counts.set(customId, (counts.get(customId) ?? 0) + 1);
  }
  return counts;
}

/** Waits until the endpoint holds a batch that `accept` takes; fails when `run` ends first or after `timeoutMs`. */
export async function waitForBatch(
  endpoint: ScriptedEndpoint,
  accept: (batch: BatchRecord) => boolean,
  run: Promise<unknown>,
  timeoutMs = 180_000,
): Promise<BatchRecord> {
  let ended = false;
  run.then(
    () => (ended = true),
    () => (ended = true),
  );
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = endpoint.batches().find(accept);
    if (found) return found;
    if (ended)
      throw new Error(`the build ended before the batch was seen; batches: ${JSON.stringify(endpoint.batches())}`);
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for a batch; batches: ${JSON.stringify(endpoint.batches())}`);
    await delay(100);
  }
}

/** The problem ids of an input file, in order. */
export async function problemIdsOf(inputFile: string): Promise<string[]> {
  return readJsonLines<{ id: string | number }>(await readFile(inputFile, 'utf8')).map((problem) => String(problem.id));
}
