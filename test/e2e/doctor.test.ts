import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DoctorReport } from '../../doctor/doctor.ts';
import type { ManifestRecord } from '../../domain/manifest.ts';
import { startScriptedEndpoint, type ScriptedEndpoint } from '../../scripted/server.ts';
import { createCliSandbox, readJsonLines, writeProblemsFile, type CliSandbox } from '../helpers/cli.ts';
import { loadSampleScript, samplesDirectory } from '../helpers/samples.ts';

const BLIND_JUDGE =
  'model gpt-4.1-mini does not see images (answered "It looks like a blue circle." to a canary it cannot answer blind)';

describe('scigen doctor and the build preflight', () => {
  let seeing: ScriptedEndpoint;
  let blind: ScriptedEndpoint;
  let seeingSandbox: CliSandbox;
  let blindSandbox: CliSandbox;

  beforeAll(async () => {
    const script = await loadSampleScript();
    seeing = await startScriptedEndpoint({ script, models: ['gpt-4.1', 'gpt-4.1-mini'] });
    blind = await startScriptedEndpoint({ script, vision: 'blind' });
    const key = { OPENAI_API_KEY: 'sk-test-not-a-real-key' };
    seeingSandbox = await createCliSandbox('doctor-seeing', { ...key, OPENAI_BASE_URL: seeing.openAiBaseUrl });
    blindSandbox = await createCliSandbox('doctor-blind', { ...key, OPENAI_BASE_URL: blind.openAiBaseUrl });
  });
  afterAll(async () => {
    await seeing?.close();
    await blind?.close();
  });

  it('prints a table of every step and exits 0 when every step can work (--json: the report last)', async () => {
    const result = await seeingSandbox.run(['doctor', '--json']);
    expect(result.exitCode, result.all).toBe(0);
    expect(result.stderr).toMatch(/^step +model +reachable +model exists +structured output +vision +latency$/m);
    expect(result.stderr).toMatch(/^judge +gpt-4\.1-mini +yes +yes +json_schema +sees +\d+ ms$/m);
    expect(result.stderr).toMatch(/^code +gpt-4\.1 +yes +yes +- +- +\d+ ms$/m);
    expect(result.stderr).toContain('every step can work');
    const report = JSON.parse(result.stdout.trim().split('\n').at(-1)!) as DoctorReport;
    expect(report.ok).toBe(true);
    expect(report.rows.map((row) => row.step)).toEqual([
      'classify',
      'plan',
      'code',
      'repair',
      'refine',
      'judge',
      'quiz',
      'answer',
    ]);
  });

  it('passes the bundled scripted endpoint honestly: it reads the canary it is sent', async () => {
    const result = await seeingSandbox.run(['doctor'], { SCIGEN_PROVIDER: 'scripted', OPENAI_API_KEY: '' });
    expect(result.exitCode, result.all).toBe(0);
    expect(result.stdout).toContain('doctor: the scripted endpoint');
    expect(result.stdout).toMatch(/^answer +gpt-4\.1-mini +yes +yes +- +sees/m);
  });

  it('exits 2 naming each image step a blind model cannot serve, and what it answered', async () => {
    const result = await blindSandbox.run(['doctor']);
    expect(result.exitCode, result.all).toBe(2);
    expect(result.stdout).toMatch(/^judge +gpt-4\.1-mini +yes +yes +json_schema +BLIND/m);
    expect(result.stderr).toContain(`judge (model gpt-4.1-mini): ${BLIND_JUDGE}`);
    expect(result.stderr).toContain(`answer (model gpt-4.1-mini): ${BLIND_JUDGE}`);
    expect(result.stderr).not.toMatch(/^ {2}(classify|plan|code|quiz) \(model/m);
  });

  it('exits 2 naming a step whose model the server does not have, in the server words', async () => {
    const configFile = join(seeingSandbox.stateDirectory, 'missing-model.json');
    const models = {
      classify: 'gpt-4.1-mini',
      plan: 'no-such-model',
      code: 'gpt-4.1',
      repair: 'gpt-4.1',
      judge: 'gpt-4.1-mini',
      quiz: 'gpt-4.1-mini',
      answer: 'gpt-4.1-mini',
    };
    await writeFile(configFile, JSON.stringify({ openai: { models } }));
    const result = await seeingSandbox.run(['doctor', '--config', configFile]);
    expect(result.exitCode, result.all).toBe(2);
    expect(result.stdout).toMatch(/^plan +no-such-model +yes +NO +NONE/m);
    expect(result.stderr).toContain(
      'plan (model no-such-model): openai has no model "no-such-model" or no such endpoint (404): The model `no-such-model` does not exist or you do not have access to it.',
    );
  });

  it('scigen build refuses to start against a blind judge (exit 2, no server started)', async () => {
    const result = await blindSandbox.run(['build', 'samples/problems.jsonl', '--build-id', 'blind', '--no-progress']);
    expect(result.exitCode, result.all).toBe(2);
    expect(result.stderr).toContain('a model cannot serve 2 steps');
    expect(result.stderr).toContain(`judge (model gpt-4.1-mini): ${BLIND_JUDGE}`);
    expect(result.stderr).toContain('--no-preflight');
    expect(result.all).not.toContain('Temporal dev server');
    expect(blind.count({ doctor: false })).toBe(0);
  });

  it('with --no-preflight, the llm worker shows the canary itself and no image reaches the blind model', async () => {
    const problems = readJsonLines<{ id: string }>(await readFile(join(samplesDirectory, 'problems.jsonl'), 'utf8'));
    const inputFile = await writeProblemsFile(
      'doctor-no-preflight',
      problems.filter((problem) => problem.id === 'phys-incline-block'),
    );
    const canariesBefore = blind.count({ doctor: true, step: 'judge' });
    const result = await blindSandbox.run([
      'build',
      inputFile,
      '--build-id',
      'blind-run',
      '--no-progress',
      '--no-preflight',
    ]);
    expect(result.exitCode, result.all).toBe(3);
    expect(result.all).not.toContain('preflight:');
    const manifest = readJsonLines<ManifestRecord>(
      await readFile(join(blindSandbox.stateDirectory, 'artifacts', 'builds', 'blind-run', 'manifest.jsonl'), 'utf8'),
    );
    expect(manifest).toHaveLength(1);
    expect(manifest[0]).toMatchObject({ verdict: 'failed', judge: null });
    expect(manifest[0]!.reasons.join('\n')).toContain(BLIND_JUDGE);
    // The figure was drawn, but neither the judge nor the quiz answers were ever asked.
    expect(blind.count({ problem: 'phys-incline-block', step: 'plan' })).toBe(1);
    expect(blind.count({ problem: 'phys-incline-block', step: 'judge' })).toBe(0);
    expect(blind.count({ problem: 'phys-incline-block', step: 'answer' })).toBe(0);
    // One canary, from the llm worker, for the judge step's model.
    expect(blind.count({ doctor: true, step: 'judge' })).toBe(canariesBefore + 1);
  }, 240_000);
});
