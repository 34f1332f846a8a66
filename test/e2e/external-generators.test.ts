import { DOCTOR_PROBLEM_ID } from '../../doctor/canary.ts';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ManifestRecord, ManifestResult } from '../../domain/manifest.ts';
import type { BuildSummary } from '../../domain/summary.ts';
import { startScriptedEndpoint, type ScriptedEndpoint } from '../../scripted/server.ts';
import type { Script } from '../../scripted/script.ts';
import { readJsonLines } from '../helpers/cli.ts';
import { useTestCluster } from '../helpers/cluster.ts';
import { makePng, SAMPLE_IMAGES } from '../helpers/png.ts';
import { makeTemporaryDirectory } from '../helpers/temporary-directory.ts';

/** Only a judge request that carries the user's prompt is answered: the build proves the replacement reached the model. */
const JUDGE_MARK = 'JUDGE-REPLACED, grade this figure';
const ALL_TWO =
  '{"Correctness_Fidelity": 2, "Layout_Precision": 2, "Readability_Occlusion": 2, "Scientific_Plausibility": 2, "Expressiveness_Richness": 2}';
const SCRIPT: Script = {
  problems: {
    '*': {
      classify: JSON.stringify({
        visualizable: true,
        reason: 'every value is given',
        subject: 'Universal',
        image_type: 'Universal - Plot & Chart',
      }),
      plan: JSON.stringify({ content: ['bars'], layout: ['left to right'], labels: ['3, 5'], constraints: ['none'] }),
      code: "```python\nimport matplotlib.pyplot as plt\nfig, ax = plt.subplots(figsize=(3, 2))\nax.bar(['A', 'B'], [3, 5])\n```",
      judge: { when: JUDGE_MARK, text: `Clean.\n${ALL_TWO}` },
      answer: 'Bar B is 5. The answer is B.',
    },
  },
};
/** The second server: an OpenAI-images-compatible one that only draws. */
const DRAWING_SCRIPT: Script = { problems: { '*': { image: { image: { width: 320, height: 240 } } } } };

const QUIZZES = [{ question: 'How tall is bar B?', options: { A: '3', B: '5', C: '7' }, correct_option: 'B' }];
/** SciGenBench ids are numbers; files are named by the id as the data writes it. */
const PROBLEMS = [
  { id: 'ext-png', file: 'ext-png.png', bytes: makePng(200, 150), extension: 'png' },
  { id: 'ext-webp', file: 'ext-webp.webp', bytes: SAMPLE_IMAGES.webpLossy, extension: 'webp' },
  { id: 7, file: '7.jpg', bytes: SAMPLE_IMAGES.jpeg, extension: 'jpg' },
  { id: 'ext-missing', file: null, bytes: null, extension: null },
] as const;

describe('an external generator and a pixel generator on its own server beside ImgCoder, with a replaced judge prompt', () => {
  const cluster = useTestCluster('external', async () => ({ script: SCRIPT, recordBodies: true }));
  let drawingServer: ScriptedEndpoint;
  let directory: string;

  beforeAll(async () => {
    drawingServer = await startScriptedEndpoint({ script: DRAWING_SCRIPT, recordBodies: true });
    directory = await makeTemporaryDirectory('external-e2e');
    await mkdir(join(directory, 'flux-run'));
    await mkdir(join(directory, 'prompts'));
    for (const problem of PROBLEMS) {
      if (problem.file) await writeFile(join(directory, 'flux-run', problem.file), problem.bytes);
    }
    await writeFile(
      join(directory, 'problems.jsonl'),
      PROBLEMS.map(
        ({ id }) => `${JSON.stringify({ id, question: `Bars A = 3, B = 5 (${id}).`, quizzes: QUIZZES })}\n`,
      ).join(''),
    );
  });
  afterAll(async () => {
    await drawingServer?.close();
  });

  async function writeConfig(name: string, prompts: Record<string, string>): Promise<string> {
    const file = join(directory, name);
    await writeFile(
      file,
      JSON.stringify({
        generators: [
          { name: 'imgcoder', paradigm: 'code' },
          { name: 'flux', paradigm: 'external', images: './flux-run' },
          { name: 'own-server', paradigm: 'pixel', model: 'sd-test', baseUrl: drawingServer.openAiBaseUrl },
        ],
        refinement: { rounds: 0 },
        render: { dpi: 60 },
        prompts,
      }),
    );
    return file;
  }

  it('judges, quizzes and filters the images made elsewhere, fails the missing one, and records the prompt', async () => {
    const judgePrompt = `${JUDGE_MARK}: {{question}}\n`;
    await writeFile(join(directory, 'prompts', 'judge.txt'), judgePrompt);
    const config = await writeConfig('config.json', { 'judge.user': './prompts/judge.txt' });
    const buildId = 'external-e2e';
    const built = await cluster.sandbox.run([
      'build',
      join(directory, 'problems.jsonl'),
      '--build-id',
      buildId,
      '--config',
      config,
      '--no-progress',
    ]);
    expect(built.exitCode, built.all).toBe(0);
    expect(built.all).toContain('prompts replaced: judge.user (sha256 ');

    const buildDirectory = join(cluster.sandbox.stateDirectory, 'artifacts', 'builds', buildId);
    const records = readJsonLines<ManifestRecord>(await readFile(join(buildDirectory, 'manifest.jsonl'), 'utf8'));
    const resultOf = (id: string | number, generator: string): ManifestResult =>
      records.find((record) => record.id === id)!.results!.find((result) => result.generator === generator)!;

    for (const problem of PROBLEMS) {
      expect(resultOf(problem.id, 'imgcoder')).toMatchObject({ verdict: 'accepted', r_inv: 1 });
      expect(resultOf(problem.id, 'own-server')).toMatchObject({
        verdict: 'accepted',
        paradigm: 'pixel',
        model: 'sd-test',
      });
      const external = resultOf(problem.id, 'flux');
      expect(external).toMatchObject({ paradigm: 'external', model: 'external', render_attempts: 0, code: null });
      if (problem.bytes === null) {
        expect(external).toMatchObject({ verdict: 'failed', reasons: ['no image for ext-missing'], image: null });
        expect(external.judge).toBeNull();
        continue;
      }
      expect(external).toMatchObject({ verdict: 'accepted', r_inv: 1, reasons: [] });
      expect(external.judge).toMatchObject({ correctness_fidelity: 2 });
      // The manifest points at the build's own copy, byte for byte the file made elsewhere.
      expect(external.image).toMatch(
        new RegExp(`/builds/${buildId}/problems/${problem.id}/flux/image\\.${problem.extension}$`),
      );
      expect(new Uint8Array(await readFile(fileURLToPath(external.image!)))).toEqual(problem.bytes);
    }

    // Every judge request carried the user's prompt; the WebP went to the judge as image/webp.
    const judged = cluster.endpoint.requests.filter(
      (request) => request.step === 'judge' && request.problem !== DOCTOR_PROBLEM_ID,
    );
    expect(judged).toHaveLength(PROBLEMS.length * 3 - 1);
    for (const request of judged) expect(JSON.stringify(request.body)).toContain(JUDGE_MARK);
    expect(
      judged.some(
        (request) => request.problem === 'ext-webp' && JSON.stringify(request.body).includes('data:image/webp;base64,'),
      ),
    ).toBe(true);
    // No model drew for the external generator; the pixel generator drew on its own server only.
    expect(cluster.endpoint.count({ step: 'image' })).toBe(0);
    expect(drawingServer.count({ step: 'image' })).toBe(PROBLEMS.length);
    expect(drawingServer.requests.every((request) => request.model === 'sd-test')).toBe(true);

    const summary = JSON.parse(await readFile(join(buildDirectory, 'summary.json'), 'utf8')) as BuildSummary;
    expect(summary.prompts).toEqual([
      { name: 'judge.user', sha256: createHash('sha256').update(judgePrompt).digest('hex') },
    ]);
    const flux = summary.generators.find((row) => row.generator === 'flux')!;
    expect(flux).toMatchObject({ paradigm: 'external', model: 'external' });
    expect(flux.overall.verdicts).toMatchObject({ accepted: 3, failed: 1 });
    expect(existsSync(join(buildDirectory, 'problems', 'ext-webp', 'flux', 'image-source.json'))).toBe(true);
  });

  it('a prompt with a placeholder its step does not fill, or a missing prompt file, stops build and worker with exit 2', async () => {
    await writeFile(join(directory, 'prompts', 'judge-answer.txt'), 'Judge {{question}} against {{answer}}.');
    const badPlaceholder = await writeConfig('bad-placeholder.json', { 'judge.user': './prompts/judge-answer.txt' });
    const missing = await writeConfig('missing.json', { 'quiz.system': './prompts/absent.txt' });

    const built = await cluster.sandbox.run([
      'build',
      join(directory, 'problems.jsonl'),
      '--build-id',
      'bad-prompt',
      '--config',
      badPlaceholder,
    ]);
    expect(built.exitCode, built.all).toBe(2);
    expect(built.stderr).toContain(
      `prompts.judge.user: ${join(directory, 'prompts', 'judge-answer.txt')} uses {{answer}}, which this step does not fill in (it fills {{question}})`,
    );
    expect(existsSync(join(cluster.sandbox.stateDirectory, 'artifacts', 'builds', 'bad-prompt'))).toBe(false);

    const worker = await cluster.sandbox.run(['worker', '--queue', 'llm', '--config', missing], {
      TEMPORAL_ADDRESS: cluster.server.address,
    });
    expect(worker.exitCode, worker.all).toBe(2);
    expect(worker.stderr).toContain(
      `prompts.quiz.system: cannot read ${join(directory, 'prompts', 'absent.txt')}: no such file`,
    );
  });
});
