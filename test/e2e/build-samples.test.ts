import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BuildSummary } from '../../domain/summary.ts';
import type { ManifestRecord } from '../../domain/manifest.ts';
import { isPortListening } from '../../infra/dev-server.ts';
import { startScriptedEndpoint, type ScriptedEndpoint } from '../../scripted/server.ts';
import { createCliSandbox, readJsonLines, repositoryRoot, type CliSandbox } from '../helpers/cli.ts';
import { loadExpectedVerdicts, loadSampleScript, samplesDirectory, type ExpectedVerdict } from '../helpers/samples.ts';

const CONTRACT_FIELDS = [
  'id',
  'verdict',
  'reasons',
  'subject',
  'image_type',
  'image',
  'code',
  'plan',
  'judge',
  'r_inv',
  'render_attempts',
  'usage',
  'extra',
];
/** scigen's additions after the contract's fields (domain/types.ts ManifestRecord). */
const ADDED_FIELDS = ['classified', 'question', 'answer', 'reference_image', 'generator', 'quizzes', 'results'];

function checkAgainstExpected(records: ManifestRecord[], expected: Record<string, ExpectedVerdict>): void {
  for (const record of records) {
    const expectation = expected[String(record.id)];
    expect(expectation, `expected verdict for ${record.id}`).toBeDefined();
    expect({ id: record.id, verdict: record.verdict, render_attempts: record.render_attempts }).toEqual({
      id: record.id,
      verdict: expectation!.verdict,
      render_attempts: expectation!.render_attempts,
    });
    expect(record.subject).toBe(expectation!.subject);
    expect(record.image_type).toBe(expectation!.image_type);
    expect(record.classified).toEqual(expectation!.classified);
    if (expectation!.reasons_include.length === 0) expect(record.reasons).toEqual([]);
    for (const fragment of expectation!.reasons_include) {
      expect(
        record.reasons.some((reason) => reason.includes(fragment)),
        `${record.id}: a reason containing ${fragment} in ${JSON.stringify(record.reasons)}`,
      ).toBe(true);
    }
    expect(Object.keys(record).sort()).toEqual([...CONTRACT_FIELDS, ...ADDED_FIELDS].sort());
    // The top level is the first (here the only) generator's result.
    expect(record.results).toHaveLength(1);
    expect(record.results![0]).toMatchObject({
      generator: 'imgcoder',
      verdict: record.verdict,
      image: record.image,
      judge: record.judge,
      r_inv: record.r_inv,
    });
    if (record.verdict === 'accepted' || record.verdict === 'rejected') {
      expect(record.image).toMatch(/^file:\/\/.*\.png$/);
      expect(record.judge).not.toBeNull();
      expect(record.r_inv).not.toBeNull();
    }
  }
}

describe('scigen build on the bundled samples', () => {
  let endpoint: ScriptedEndpoint;
  let sandbox: CliSandbox;
  let expected: Record<string, ExpectedVerdict>;

  beforeAll(async () => {
    endpoint = await startScriptedEndpoint({ script: await loadSampleScript() });
    sandbox = await createCliSandbox('samples', {
      OPENAI_API_KEY: 'sk-test-not-a-real-key',
      OPENAI_BASE_URL: endpoint.openAiBaseUrl,
    });
    expected = await loadExpectedVerdicts();
  });
  afterAll(async () => {
    await endpoint?.close();
  });

  it('builds problems.jsonl through every branch, writes the contract manifest and summary, and stops the server it started', async () => {
    const result = await sandbox.run(['build', 'samples/problems.jsonl', '--build-id', 'samples-e2e', '--json']);
    // Exit 0: images were evaluated; the one failure is still counted with its reason.
    expect(result.exitCode, result.all).toBe(0);
    expect(result.stderr).toMatch(/most frequent failure reasons.*\n {2}1 × render failed after 3 attempts/);
    expect(result.all).toContain('Temporal dev server started');
    expect(result.all).toContain(`Temporal UI: http://localhost:${sandbox.uiPort}`);

    const buildDirectory = join(sandbox.stateDirectory, 'artifacts', 'builds', 'samples-e2e');
    const records = readJsonLines<ManifestRecord>(await readFile(join(buildDirectory, 'manifest.jsonl'), 'utf8'));
    const input = readJsonLines<{ id: string }>(await readFile(join(samplesDirectory, 'problems.jsonl'), 'utf8'));
    expect(records.map((record) => record.id)).toEqual(input.map((problem) => problem.id));
    checkAgainstExpected(records, expected);

    const extra = records.find((record) => record.id === 'bio-pond-food-web')!.extra;
    expect(extra).toEqual({ source: 'textbook ch.3' });

    const summary = JSON.parse(await readFile(join(buildDirectory, 'summary.json'), 'utf8')) as BuildSummary;
    const lastLine = result.stdout.trim().split('\n').at(-1)!;
    expect(JSON.parse(lastLine)).toEqual(summary);
    expect(summary.problems).toBe(records.length);
    for (const verdict of ['accepted', 'rejected', 'skipped', 'failed'] as const) {
      expect(summary.verdicts[verdict]).toBe(records.filter((record) => record.verdict === verdict).length);
    }
    const judged = records.filter((record) => record.r_inv !== null);
    expect(summary.r_inv_mean).toBeCloseTo(judged.reduce((sum, record) => sum + record.r_inv!, 0) / judged.length, 10);
    expect(summary.usage.input_tokens).toBe(records.reduce((sum, record) => sum + record.usage.input_tokens, 0));
    expect(summary.usage.input_tokens).toBeGreaterThan(0);

    // Problems that bring quizzes never ask for generated ones; the 503 on a plan was retried once.
    expect(endpoint.count({ problem: 'math-cuboid-diagonal', step: 'quiz' })).toBe(0);
    expect(endpoint.count({ problem: 'univ-depot-network', step: 'quiz' })).toBe(0);
    expect(endpoint.count({ problem: 'chem-haber-process', step: 'plan' })).toBe(2);
    expect(endpoint.count({ problem: 'chem-titration-curve', step: 'repair' })).toBe(2);
    expect(endpoint.count({ problem: 'math-prove-infinite-primes' })).toBe(1);

    // The CLI started the dev server, so it stopped it too.
    expect(await isPortListening('127.0.0.1', sandbox.temporalPort)).toBe(false);

    // The same build id again: the finished build's summary, and no model request.
    const before = endpoint.requests.length;
    const again = await sandbox.run(['build', 'samples/problems.jsonl', '--build-id', 'samples-e2e', '--json']);
    expect(again.exitCode, again.all).toBe(0);
    expect(again.all).toContain('already finished');
    expect(JSON.parse(again.stdout.trim().split('\n').at(-1)!)).toEqual(summary);
    expect(endpoint.requests.length).toBe(before);

    // The same build id with another input is refused before anything runs.
    const other = await sandbox.run(['build', 'samples/scigenbench.json', '--build-id', 'samples-e2e']);
    expect(other.exitCode).toBe(2);
    expect(other.stderr).toContain('build samples-e2e already exists with a different input');
    expect(endpoint.requests.length).toBe(before);
  });

  it('builds the SciGenBench JSON array layout with the scripted demo endpoint when no key is set', async () => {
    const demo = await createCliSandbox('demo');
    const result = await demo.run(['build', 'samples/scigenbench.json', '--demo', '--no-progress']);
    expect(result.exitCode, result.all).toBe(0);
    expect(result.all).toMatch(/scripted endpoint at http:\/\/127\.0\.0\.1:\d+\/v1 — not a real model/);
    const manifest = result.all.match(/manifest: (file:\/\/\S+)/)![1]!;
    const records = readJsonLines<ManifestRecord>(await readFile(new URL(manifest), 'utf8'));
    expect(records.map((record) => record.id)).toEqual([2001, 'sgb-wire-field']);
    checkAgainstExpected(records, expected);
  });

  it('npm start, with no API key, builds the samples on the scripted endpoint and prints the UI, summary and manifest', async () => {
    const demo = await createCliSandbox('npm-start');
    const result = await execa('npm', ['start'], {
      cwd: repositoryRoot,
      env: demo.environment,
      extendEnv: false,
      reject: false,
      all: true,
    });
    expect(result.exitCode, result.all).toBe(0);
    expect(result.all).toContain('setup: node packages ok');
    expect(result.all).toMatch(/scripted endpoint at http:\/\/127\.0\.0\.1:\d+\/v1 — not a real model/);
    expect(result.all).toContain(`Temporal UI: http://localhost:${demo.uiPort}`);
    expect(result.all).toMatch(
      /build problems-\w+ finished: 16 problems — accepted 11, rejected 2, skipped 2, failed 1/,
    );
    const manifest = result.all.match(/manifest: (file:\/\/\S+)/)![1]!;
    expect(readJsonLines<ManifestRecord>(await readFile(new URL(manifest), 'utf8'))).toHaveLength(16);
  });
});
