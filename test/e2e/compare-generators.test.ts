import { existsSync } from 'node:fs';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { execa } from 'execa';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatLeaderboard } from '../../report/leaderboard-table.ts';
import type { BuildSummary } from '../../domain/summary.ts';
import { VERDICTS, type Verdict } from '../../domain/types.ts';
import type { ManifestResult, ManifestRecord } from '../../domain/manifest.ts';
import type { Script } from '../../scripted/script.ts';
import { launchChromium } from '../helpers/browser.ts';
import { readJsonLines, repositoryRoot } from '../helpers/cli.ts';
import { startTestCluster, type TestCluster } from '../helpers/cluster.ts';
import { makePng } from '../helpers/png.ts';

const python = join(repositoryRoot, '.venv', 'bin', 'python');

const judgeAnswer = (scores: { expressiveness: number }, reasoning = 'Every given value is drawn and labelled.') =>
  `${reasoning}\n{"Correctness_Fidelity": 2, "Layout_Precision": 2, "Readability_Occlusion": 2, "Scientific_Plausibility": 2, "Expressiveness_Richness": ${scores.expressiveness}` +
  (scores.expressiveness < 2 ? ', "Expressiveness_Richness_reasoning": "a bare chart: no axis titles or units"' : '') +
  '}';
const ALL_TWO = judgeAnswer({ expressiveness: 2 });
const script = (title: string, extra = '') =>
  `\`\`\`python\nimport matplotlib.pyplot as plt\nfig, ax = plt.subplots(figsize=(4, 3))\nax.bar(['A', 'B', 'C'], [3, 5, 2])\nax.set_title('${title}')\n${extra}plt.show()\n\`\`\``;
const classify = (subject: string, imageType: string) =>
  JSON.stringify({ visualizable: true, reason: 'every value is given', subject, image_type: imageType });
const PLAN = JSON.stringify({
  content: ['three bars'],
  layout: ['A, B, C left to right'],
  labels: ['3, 5, 2 above the bars'],
  constraints: ['no totals'],
});
const quiz = (question: string, correct: 'A' | 'B' | 'C' | 'D') => ({
  question,
  options: { A: '2', B: '3', C: '5', D: '7' },
  correct_option: correct,
});

/**
 * Four problems through two generators (ImgCoder and an image model): one refined after a judge
 * verdict below 2, one with a reference image, one whose first image answers a quiz wrong
 * (rejected for the code image, accepted for the pixel image), one not visualizable.
 */
const SCRIPT: Script = {
  problems: {
    'cmp-refined': {
      classify: classify('Universal', 'Universal - Plot & Chart'),
      plan: PLAN,
      code: script('Counts'),
      judge: [{ text: judgeAnswer({ expressiveness: 1 }, 'Correct but sparse.'), times: 1 }, { text: ALL_TWO }],
      refine: `Added axis titles.\n\n${script('Counts', "ax.set_xlabel('category')\nax.set_ylabel('count')\n")}`,
      quiz: JSON.stringify({ quizzes: [quiz('How tall is bar B?', 'C'), quiz('How tall is bar A?', 'B')] }),
      answer: [
        { when: 'bar B', text: 'Bar B reaches 5. The answer is C.' },
        { when: 'bar A', text: 'Bar A reaches 3. The answer is B.' },
      ],
    },
    'cmp-reference': {
      classify: classify('Math', 'Math - Plane Geometric'),
      plan: PLAN,
      code: script('Reference'),
      judge: ALL_TWO,
      answer: 'The label reads 3. The answer is B.',
    },
    'cmp-half': {
      classify: classify('Physics', 'Physics - Mechanical'),
      plan: PLAN,
      code: script('Half'),
      judge: ALL_TWO,
      // The code image (answered first) misreads the second quiz once; the pixel image reads it right.
      answer: [
        { when: 'first quiz', text: 'It says 3. The answer is B.' },
        { when: 'second quiz', text: 'I read 7. The answer is D.', times: 1 },
        { when: 'second quiz', text: 'I read 5. The answer is C.' },
      ],
    },
    'cmp-skipped': {
      classify: JSON.stringify({
        visualizable: false,
        reason: 'asks for a proof',
        subject: 'Math',
        image_type: 'Math - Set & Probability',
      }),
    },
    '*': { image: { text: 'The setup, every given value labelled.', image: { width: 320, height: 240 } } },
  },
};

const GENERATORS = ['imgcoder', 'painter'] as const;

describe('comparing a code and a pixel generator through the CLI: build, manifest, summary, report, parquet export', () => {
  let cluster: TestCluster;
  let browser: Browser;
  let directory: string;

  beforeAll(async () => {
    cluster = await startTestCluster('compare', { script: SCRIPT });
    browser = await launchChromium();
    directory = await mkdtemp(join(tmpdir(), 'scigen-compare-e2e-'));
  });
  afterAll(async () => {
    await browser?.close();
    await cluster?.close();
  });

  it('runs both generators on every problem, refines, compares with the reference and reports them side by side', async () => {
    const buildId = 'compare-e2e';
    await writeFile(join(directory, 'reference.png'), makePng(160, 120));
    const problems = [
      { id: 'cmp-refined', question: 'Draw a bar chart of the counts A = 3, B = 5, C = 2.' },
      {
        id: 'cmp-reference',
        question: 'Draw the bars A = 3, B = 5, C = 2.',
        reference_image: 'reference.png',
        quizzes: [quiz('How tall is bar A?', 'B')],
      },
      {
        id: 'cmp-half',
        question: 'Three masses of 3, 5 and 2 kg.',
        quizzes: [quiz('first quiz: the first mass?', 'B'), quiz('second quiz: the second mass?', 'C')],
      },
      { id: 'cmp-skipped', question: 'Prove that there are infinitely many primes.' },
    ];
    await writeFile(
      join(directory, 'problems.jsonl'),
      problems.map((problem) => `${JSON.stringify(problem)}\n`).join(''),
    );
    const config = {
      generators: [
        { name: 'imgcoder', paradigm: 'code' },
        { name: 'painter', paradigm: 'pixel' },
      ],
      refinement: { rounds: 1 },
      render: { dpi: 60 },
    };
    await writeFile(join(directory, 'config.json'), JSON.stringify(config));

    const built = await cluster.sandbox.run([
      'build',
      join(directory, 'problems.jsonl'),
      '--build-id',
      buildId,
      '--config',
      join(directory, 'config.json'),
      '--json',
      '--no-progress',
    ]);
    expect(built.exitCode, built.all).toBe(0);
    const buildDirectory = join(cluster.sandbox.stateDirectory, 'artifacts', 'builds', buildId);
    const records = readJsonLines<ManifestRecord>(await readFile(join(buildDirectory, 'manifest.jsonl'), 'utf8'));
    const byId = new Map(records.map((record) => [String(record.id), record]));
    expect([...byId.keys()].sort()).toEqual(problems.map((problem) => problem.id).sort());
    const resultOf = (id: string, generator: (typeof GENERATORS)[number]) =>
      byId.get(id)!.results!.find((result) => result.generator === generator)!;

    for (const record of records) {
      // Two results in config order; the top level repeats the first.
      expect(record.results!.map((result) => result.generator)).toEqual([...GENERATORS]);
      expect(record.results!.map((result) => result.paradigm)).toEqual(['code', 'pixel']);
      const [first] = record.results!;
      expect({ verdict: record.verdict, image: record.image, judge: record.judge, r_inv: record.r_inv }).toEqual({
        verdict: first!.verdict,
        image: first!.image,
        judge: first!.judge,
        r_inv: first!.r_inv,
      });
      for (const result of record.results!) {
        if (result.quiz_results === null) {
          expect(result.r_inv).toBeNull();
          continue;
        }
        const correct = result.quiz_results.filter((answer) => answer.chosen === answer.correct_option).length;
        expect(result.r_inv).toBeCloseTo(correct / result.quiz_results.length, 12);
      }
    }

    expect(byId.get('cmp-skipped')!.results!.map((result) => result.verdict)).toEqual(['skipped', 'skipped']);
    expect(byId.get('cmp-half')!.results!.map((result) => [result.verdict, result.r_inv])).toEqual([
      ['rejected', 0.5],
      ['accepted', 1],
    ]);

    // The refined problem: two versions, both images stored, the critique names the low dimension.
    const refined = resultOf('cmp-refined', 'imgcoder');
    expect(refined.verdict).toBe('accepted');
    expect(refined.versions).toHaveLength(2);
    expect(refined.versions.map((version) => version.round)).toEqual([0, 1]);
    expect(refined.versions[0]!.judge!.expressiveness_richness).toBe(1);
    expect(refined.versions[1]!.judge!.expressiveness_richness).toBe(2);
    expect(refined.versions[0]!.image).not.toBe(refined.versions[1]!.image);
    for (const version of refined.versions) expect(existsSync(fileURLToPath(version.image))).toBe(true);
    expect(refined.versions[1]!.critique).toContain('Expressiveness & Richness scored 1 of 2');
    expect(refined.versions[1]!.critique).toContain('no axis titles or units');
    expect(refined.image).toBe(refined.versions[1]!.image);
    expect(refined.code).toBe(refined.versions[1]!.code);
    expect(refined.judge!.expressiveness_richness).toBe(2);
    expect(refined.quiz_results).toHaveLength(2);
    expect(cluster.endpoint.count({ problem: 'cmp-refined', step: 'refine' })).toBe(1);
    // Quizzes are generated once and shared by both generators.
    expect(cluster.endpoint.count({ problem: 'cmp-refined', step: 'quiz' })).toBe(1);
    expect(resultOf('cmp-refined', 'painter').quiz_results!.map((answer) => answer.question)).toEqual(
      refined.quiz_results!.map((answer) => answer.question),
    );
    // Problems whose first image scored all 2s are not refined.
    expect(resultOf('cmp-reference', 'imgcoder').versions).toHaveLength(1);
    expect(cluster.endpoint.count({ problem: 'cmp-reference', step: 'refine' })).toBe(0);

    // The pixel generator: an image from the image model, nothing rendered, never refined.
    for (const id of ['cmp-refined', 'cmp-reference', 'cmp-half']) {
      const pixel = resultOf(id, 'painter');
      expect(pixel.render_attempts).toBe(0);
      expect(pixel.code).toBeNull();
      expect(pixel.model).toBe('gpt-image-1');
      expect(pixel.versions).toHaveLength(1);
      expect(pixel.image).not.toBeNull();
      expect(existsSync(fileURLToPath(pixel.image!))).toBe(true);
      expect(cluster.endpoint.count({ problem: id, step: 'image' })).toBe(1);
    }

    // PSNR/SSIM only where the problem has a reference image, for both generators.
    for (const generator of GENERATORS) {
      const { reference } = resultOf('cmp-reference', generator);
      expect(reference).not.toBeNull();
      expect(Number.isFinite(reference!.psnr)).toBe(true);
      expect(reference!.psnr).toBeGreaterThan(0);
      expect(reference!.ssim).toBeGreaterThanOrEqual(0);
      expect(reference!.ssim).toBeLessThanOrEqual(1);
      expect(resultOf('cmp-refined', generator).reference).toBeNull();
    }
    expect(byId.get('cmp-reference')!.reference_image).toMatch(/references\/cmp-reference\.png$/);

    // summary.json: a leaderboard row per generator whose counts are the lines'.
    const summary = JSON.parse(await readFile(join(buildDirectory, 'summary.json'), 'utf8')) as BuildSummary;
    expect(summary.generators.map((row) => [row.generator, row.paradigm])).toEqual([
      ['imgcoder', 'code'],
      ['painter', 'pixel'],
    ]);
    const countsOf = (generator: string) => {
      const counts = Object.fromEntries(VERDICTS.map((verdict) => [verdict, 0])) as Record<Verdict, number>;
      for (const record of records) counts[record.results!.find((result) => result.generator === generator)!.verdict]++;
      return counts;
    };
    for (const row of summary.generators) {
      expect(row.overall.problems).toBe(records.length);
      expect(row.overall.verdicts).toEqual(countsOf(row.generator));
      expect(row.overall.referenced).toBe(1);
    }
    expect(summary.generators[0]!.overall.verdicts).toMatchObject({ accepted: 2, rejected: 1, skipped: 1 });
    expect(summary.generators[1]!.overall.verdicts).toMatchObject({ accepted: 3, rejected: 0, skipped: 1 });
    expect(summary.verdicts).toEqual(summary.generators[0]!.overall.verdicts);
    // Question-level R_inv: every quiz answer of every judged image (no VE step here), counted from the lines.
    for (const row of summary.generators) {
      const answers = records.flatMap((record) => {
        const result = record.results!.find((entry) => entry.generator === row.generator)!;
        return result.judge === null ? [] : (result.quiz_results ?? []);
      });
      expect(row.overall.questions).toBe(answers.length);
      const right = answers.filter((answer) => answer.chosen === answer.correct_option).length;
      expect(row.overall.r_inv).toBeCloseTo(right / answers.length, 12);
      expect(row.overall.ve_accuracy).toBeNull();
    }
    // The build ends with the leaderboard table; with --json it goes to stderr, the summary stays stdout's last line.
    expect(built.stderr).toContain(formatLeaderboard([{ buildId, summary }]));

    // The report: the generator filter, and the refined card's earlier version.
    const reportDirectory = join(directory, 'report');
    const reported = await cluster.sandbox.run(['report', buildId, '--out', reportDirectory]);
    expect(reported.exitCode, reported.all).toBe(0);
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto(pathToFileURL(join(reportDirectory, 'index.html')).href);
    const cards = page.locator('#gallery-grid .card');
    await cards.first().waitFor();
    expect(await cards.count()).toBe(records.length * GENERATORS.length);
    const painterValue = await page.locator('#generator-filter option', { hasText: 'painter' }).getAttribute('value');
    await page.locator('#generator-filter').selectOption(painterValue!);
    await expect.poll(() => cards.count()).toBe(records.length);
    expect(
      new Set(await cards.evaluateAll((elements) => elements.map((element) => element.getAttribute('data-generator')))),
    ).toEqual(new Set(['painter']));
    const imgcoderValue = await page.locator('#generator-filter option', { hasText: 'imgcoder' }).getAttribute('value');
    await page.locator('#generator-filter').selectOption(imgcoderValue!);
    const refinedCard = cards.filter({ has: page.locator('.problem-id', { hasText: 'cmp-refined' }) });
    await expect.poll(() => refinedCard.count()).toBe(1);
    const versions = refinedCard.locator('details', { hasText: 'Image versions (2 rounds)' });
    await versions.locator('summary').click();
    const firstVersion = versions.locator('figure', { hasText: 'first image' });
    expect(await firstVersion.textContent()).toContain('E&R 1');
    const firstImage = firstVersion.locator('img');
    // The report links its own copy of the first version's image.
    const firstSource = await firstImage.getAttribute('src');
    expect(refined.versions[0]!.image.endsWith(firstSource!.replace(/^files\//, '/'))).toBe(true);
    await expect
      .poll(() => firstImage.evaluate((element) => (element as unknown as { naturalWidth: number }).naturalWidth))
      .toBeGreaterThan(0);
    expect(await versions.locator('figure', { hasText: 'refinement 1' }).locator('.critique').textContent()).toContain(
      'Expressiveness & Richness',
    );
    expect(errors).toEqual([]);

    // The parquet export: one row per accepted (problem, generator) result, read back with pyarrow.
    const exportDirectory = join(directory, 'export');
    const exported = await cluster.sandbox.run(['export', buildId, '--format', 'parquet', '--out', exportDirectory]);
    expect(exported.exitCode, exported.all).toBe(0);
    const reader =
      'import json, sys\nimport pyarrow.parquet as pq\nrows = pq.read_table(sys.argv[1]).to_pylist()\nprint(json.dumps([{"id": r["id"], "generator": r["generator"], "image_bytes": len(r["image"])} for r in rows]))';
    const read = await execa(python, ['-c', reader, join(exportDirectory, 'train.parquet')], {
      extendEnv: false,
      env: { PATH: '/usr/bin:/bin' },
    });
    const rows = JSON.parse(read.stdout) as Array<{ id: string; generator: string; image_bytes: number }>;
    const accepted = records.flatMap((record) =>
      record
        .results!.filter((result: ManifestResult) => result.verdict === 'accepted')
        .map((result) => `${record.id}__${result.generator}`),
    );
    expect(rows.map((row) => row.id).sort()).toEqual(accepted.sort());
    expect(rows).toHaveLength(5);
    for (const row of rows) expect(row.image_bytes).toBeGreaterThan(0);
  });
});
