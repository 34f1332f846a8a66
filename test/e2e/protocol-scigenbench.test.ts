import { DOCTOR_PROBLEM_ID } from '../../doctor/canary.ts';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ManifestRecord } from '../../domain/manifest.ts';
import type { BuildSummary } from '../../domain/summary.ts';
import type { Script } from '../../scripted/script.ts';
import { readJsonLines, repositoryRoot } from '../helpers/cli.ts';
import { startTestCluster, type TestCluster } from '../helpers/cluster.ts';
import { officialAggregate } from '../helpers/official-aggregate.ts';

/** Problems written in SciGenBench's published layout (a JSON array), with its quirks. */
const FIXTURE = join(repositoryRoot, 'test', 'fixtures', 'scigenbench', 'protocol-build.json');

interface FixtureProblem {
  id: string | number;
  question: string;
  answer: string;
  image_type: string;
  multimodal_question?: string;
  quizzes: Array<{ question: string; options: Record<string, string>; correct_option: string }>;
}

const CLASSIFY = (visualizable: boolean) =>
  JSON.stringify({
    visualizable,
    reason: visualizable ? 'every value is given' : 'looks like a computation only',
    subject: 'Universal',
    image_type: 'Universal - Plot & Chart',
  });
/** Drawn 8×4 in: the protocol's 6×6 in at dpi 100 is what makes the image 600×600. */
const CODE =
  '```python\nimport matplotlib.pyplot as plt\nfig, ax = plt.subplots(figsize=(8, 4))\nax.bar(["P", "Q", "R"], [3, 5, 2])\nax.set_title("setup")\nplt.show()\n```';
const JUDGE = (expressiveness: number) =>
  `Clear labels. {"Correctness_Fidelity": 2, "Layout_Precision": 2, "Readability_Occlusion": 2, "Scientific_Plausibility": 2, "Expressiveness_Richness": ${expressiveness}}`;

/** Every fourth problem's VE answer is wrong; one grader reply is not JSON; two problems are "not visualizable". */
const wrongVisualAnswer = (index: number) => index % 4 === 1;
const GRADE_GARBAGE = 4;
const NOT_VISUALIZABLE = new Set([5, 22]);

function scriptFor(problems: FixtureProblem[]): Script {
  const perProblem: Script['problems'] = {};
  for (const [index, problem] of problems.entries()) {
    const said = wrongVisualAnswer(index) ? `not ${problem.answer}` : problem.answer;
    perProblem[String(problem.id)] = {
      ...(NOT_VISUALIZABLE.has(index) ? { classify: CLASSIFY(false) } : {}),
      // Answered only for a request carrying a 600×600 image, which the endpoint decodes.
      'visual-answer': {
        whenImage: { width: 600, height: 600 },
        text: `Reading the figure's labels. Final answer: ${said}`,
      },
      grade:
        index === GRADE_GARBAGE
          ? 'They agree.'
          : [
              { when: `Final answer: ${problem.answer}`, text: '{"correct": true, "reason": "the same result"}' },
              { text: '```json\n{"correct": false, "reason": "a different result"}\n```' },
            ],
    };
  }
  perProblem['*'] = {
    classify: CLASSIFY(true),
    plan: '{"content": ["the setup"], "layout": ["centre"], "labels": ["every given value"], "constraints": ["no answer"]}',
    code: CODE,
    // Expressiveness 1 on every image: the dataset protocol would refine each one, this one must not.
    judge: JUDGE(1),
    answer: 'The figure shows it. Answer: A',
  };
  return { problems: perProblem };
}

describe('scigen build --protocol scigenbench over 30 problems in the benchmark layout', () => {
  let cluster: TestCluster;
  let problems: FixtureProblem[];

  beforeAll(async () => {
    problems = JSON.parse(await readFile(FIXTURE, 'utf8')) as FixtureProblem[];
    cluster = await startTestCluster('protocol', { script: scriptFor(problems) });
  });
  afterAll(async () => {
    await cluster?.close();
  });

  it('draws every problem at 6×6 in and dpi 100, never refines, asks and grades the VE question, and records the protocol', async () => {
    const buildId = 'protocol-e2e';
    const built = await cluster.sandbox.run([
      'build',
      FIXTURE,
      '--protocol',
      'scigenbench',
      '--build-id',
      buildId,
      '--json',
      '--no-progress',
    ]);
    expect(built.exitCode, built.all).toBe(0);
    const buildDirectory = join(cluster.sandbox.stateDirectory, 'artifacts', 'builds', buildId);
    const records = readJsonLines<ManifestRecord>(await readFile(join(buildDirectory, 'manifest.jsonl'), 'utf8'));
    expect(records).toHaveLength(30);
    const byId = new Map(records.map((record) => [String(record.id), record]));

    // No refinement, no skip, every image exactly 600×600 (6×6 in at dpi 100, saved whole).
    expect(cluster.endpoint.count({ step: 'refine' })).toBe(0);
    expect(cluster.endpoint.count({ step: 'visual-answer', status: 400 })).toBe(0);
    for (const record of records) {
      expect(record.verdict, String(record.id)).not.toBe('skipped');
      const [result] = record.results!;
      expect(result!.versions).toHaveLength(1);
      const image = PNG.sync.read(await readFile(fileURLToPath(result!.image!)));
      expect({ width: image.width, height: image.height }, String(record.id)).toEqual({ width: 600, height: 600 });
    }

    // The VE question, per problem as scripted.
    for (const [index, problem] of problems.entries()) {
      const record = byId.get(String(problem.id))!;
      const { ve, notes } = record.results![0]!;
      const id = String(problem.id);
      if (problem.multimodal_question === undefined || problem.answer === '') {
        expect(ve, id).toBeNull();
        expect(cluster.endpoint.count({ problem: id, step: 'visual-answer' }), id).toBe(0);
        continue;
      }
      if (index === GRADE_GARBAGE) {
        expect(ve, id).toBeNull();
        expect(notes, id).toContain('no VE result: grade: grade answer has no JSON object');
        continue;
      }
      expect(ve, id).toMatchObject({ question: problem.multimodal_question, correct: !wrongVisualAnswer(index) });
      const stored = JSON.parse(await readFile(fileURLToPath(ve!.answer_uri), 'utf8')) as { answer: string };
      expect(stored.answer, id).toContain('Final answer:');
    }
    const graded = records.map((record) => record.results![0]!.ve).filter((ve) => ve != null);
    expect(graded).toHaveLength(27);
    expect(graded.filter((ve) => ve!.correct)).toHaveLength(20);

    // "Not visualizable" is a note under the protocol, not a skip.
    for (const index of NOT_VISUALIZABLE) {
      const result = byId.get(String(problems[index]!.id))!.results![0]!;
      expect(result.notes).toContain('drawn although classified not visualizable: looks like a computation only');
    }
    // The data's quizzes, the unusable one dropped with its reason.
    expect(cluster.endpoint.count({ step: 'quiz' })).toBe(0);
    expect(byId.get('sgb-04')!.dropped_quizzes).toHaveLength(1);
    expect(byId.get('sgb-04')!.results![0]!.quiz_results).toHaveLength(2);

    const summary = JSON.parse(await readFile(join(buildDirectory, 'summary.json'), 'utf8')) as BuildSummary;
    expect(summary.protocol).toEqual({
      name: 'scigenbench',
      settings: {
        skipNotVisualizable: false,
        refinementRounds: 0,
        dpi: 100,
        figureInches: { width: 6, height: 6 },
        visualAnswer: true,
      },
    });
    expect(summary.verdicts.skipped).toBe(0);
    // The VE calls are paid for like every other step.
    const veRequests = cluster.endpoint.requests.filter(
      (request) => request.step === 'visual-answer' || request.step === 'grade',
    );
    expect(veRequests.length).toBe(28 + 28);
    // The preflight's probes and canary belong to no problem and are not in the build's usage.
    expect(summary.usage.input_tokens).toBe(
      cluster.endpoint.requests
        .filter((request) => request.problem !== DOCTOR_PROBLEM_ID)
        .reduce((sum, request) => sum + (request.usage?.inputTokens ?? 0), 0),
    );

    // The leaderboard is what the benchmark's own aggregation (run.py's arithmetic, in pandas) makes of the same records.
    const official = await officialAggregate(join(buildDirectory, 'manifest.jsonl'), 'imgcoder');
    const [imgcoder] = summary.generators;
    expect(imgcoder!.generator).toBe('imgcoder');
    const { overall } = imgcoder!;
    expect(overall.questions).toBe(official.overall.questions);
    expect(overall.questions).toBe(50 + 27);
    for (const metric of ['r_inv', 'r_inv_quiz_only', 'perfect_image_rate', 've_accuracy'] as const)
      expect(overall[metric], metric).toBeCloseTo(official.overall[metric]!, 12);
    // Question-level and per-image R_inv differ on these records: the table must show the former.
    expect(Math.abs(overall.r_inv! - overall.r_inv_mean!)).toBeGreaterThan(0.01);
    for (const [dimension, mean] of Object.entries(official.overall.judge_means!))
      expect(overall.judge_means![dimension as keyof typeof overall.judge_means], dimension).toBeCloseTo(mean, 12);
    expect(Object.keys(imgcoder!.by_image_type).sort()).toEqual(Object.keys(official.by_image_type).sort());
    for (const [imageType, row] of Object.entries(official.by_image_type)) {
      const ours = imgcoder!.by_image_type[imageType]!;
      expect(ours.questions, imageType).toBe(row.questions);
      expect(ours.r_inv, imageType).toBeCloseTo(row.r_inv!, 12);
      expect(ours.perfect_image_rate, imageType).toBeCloseTo(row.perfect_image_rate!, 12);
    }
    const leaderboard = await cluster.sandbox.run(['leaderboard', buildId, '--format', 'json']);
    expect(leaderboard.exitCode, leaderboard.all).toBe(0);
    const rows = JSON.parse(leaderboard.stdout) as Array<Record<string, unknown>>;
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ build_id: buildId, generator: 'imgcoder', questions: official.overall.questions });
    expect(rows[0]!['r_inv']).toBeCloseTo(official.overall.r_inv!, 12);
    expect(rows[0]!['perfect_image_rate']).toBeCloseTo(official.overall.perfect_image_rate!, 12);
  });
});
