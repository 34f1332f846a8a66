import { describe, expect, it } from 'vitest';
import type { ManifestRecord, ManifestResult, ManifestVisualAnswer } from '../../domain/manifest.ts';
import { createSummaryAccumulator, type LeaderboardRow } from '../../domain/summary.ts';
import type { GeneratorSpec, JudgeScores, QuizResult } from '../../domain/types.ts';
import { judgeScores, manifestRecord, manifestResult } from '../helpers/manifest.ts';

/**
 * summary.json's question-level metrics against values worked out by hand the way SciGenBench's
 * run.py (summarize_results) aggregates its per-question rows: every graded question of an image
 * (its quizzes and its VE question) is one row with is_correct 0/1; R_inv = sum / count;
 * perfect-image rate = share of images whose rows' mean is 1.0. A quiz answered with no letter is
 * a row with is_correct 0, as the official code counts a failed extraction.
 */

const GENERATOR: GeneratorSpec = { name: 'imgcoder', paradigm: 'code', model: 'model-a' };

/** Quiz results from "correct chosen" pairs: 'AA' right, 'BC' wrong, 'A-' no letter read. */
function quizzes(...pairs: string[]): QuizResult[] {
  return pairs.map((pair, index) => ({
    question: `q${index}`,
    correct_option: pair[0]!,
    chosen: pair[1] === '-' ? null : pair[1]!,
  }));
}

function ve(correct: boolean): ManifestVisualAnswer {
  return { question: 'What does the figure show?', answer_uri: 'file:///answer.txt', correct, reason: 'graded' };
}

function line(
  id: string,
  subject: string,
  imageType: string,
  fields: {
    judge: JudgeScores | null;
    quiz_results?: QuizResult[] | null;
    ve?: ManifestVisualAnswer | null;
    reference?: ManifestResult['reference'];
  },
): ManifestRecord {
  const quizResults = fields.quiz_results ?? null;
  // The per-image R_inv the workflow writes: the image's share of quizzes answered right.
  const rInv =
    fields.judge === null || quizResults === null || quizResults.length === 0
      ? null
      : quizResults.filter((quiz) => quiz.chosen === quiz.correct_option).length / quizResults.length;
  const result = manifestResult({
    generator: GENERATOR.name,
    paradigm: GENERATOR.paradigm,
    model: GENERATOR.model,
    verdict: fields.judge === null ? 'failed' : 'rejected',
    judge: fields.judge,
    r_inv: rInv,
    quiz_results: quizResults,
    reference: fields.reference ?? null,
    ...(fields.ve === undefined ? {} : { ve: fields.ve }),
  });
  return manifestRecord({
    id,
    verdict: result.verdict,
    subject,
    image_type: imageType,
    judge: result.judge,
    r_inv: result.r_inv,
    generator: GENERATOR.name,
    results: [result],
  });
}

const PERFECT = judgeScores(2, 2, 2, 2, 2);
/** A judgement that lost a dimension on its way (the official means drop such rows). */
const FOUR_SCORES = (({ expressiveness_richness: _dropped, ...rest }) => rest)(PERFECT) as JudgeScores;

const RECORDS: ManifestRecord[] = [
  // 3 quizzes, 2 right (per-image R_inv 2/3); VE right. Not perfect.
  line('p1', 'Physics', 'Physics - Mechanical', {
    judge: PERFECT,
    quiz_results: quizzes('AA', 'BC', 'CC'),
    ve: ve(true),
    reference: { psnr: 20, ssim: 0.8 },
  }),
  // 1 quiz, right (per-image R_inv 1); VE wrong. Not perfect, although its per-image R_inv is 1.
  line('p2', 'Physics', 'Physics - Circuit', {
    judge: judgeScores(2, 1, 2, 2, 1),
    quiz_results: quizzes('AA'),
    ve: ve(false),
    reference: { psnr: null, ssim: 1 },
  }),
  // 4 quizzes, 3 right, one answered with no letter (per-image R_inv 3/4); no VE question. Not perfect.
  line('m1', 'Math', 'Math - Plane Geometric', {
    judge: judgeScores(1, 1, 1, 2, 2),
    quiz_results: quizzes('DD', 'A-', 'BB', 'CC'),
    ve: null,
    reference: { psnr: 30, ssim: 0.6 },
  }),
  // 2 quizzes, both right; VE right. Perfect.
  line('m2', 'Math', 'Math - Plane Geometric', {
    judge: PERFECT,
    quiz_results: quizzes('AA', 'BB'),
    ve: ve(true),
  }),
  // Never judged (its judge step failed): its answers count nowhere.
  line('m3', 'Math', 'Math - Plane Geometric', { judge: null, quiz_results: quizzes('AB'), ve: ve(true) }),
  // Judged on four dimensions only (a judge answer missing one): not a judged image.
  line('c1', 'Chemistry', 'Chemistry - Spectra', { judge: FOUR_SCORES, quiz_results: quizzes('AA'), ve: ve(true) }),
  // A line written before quiz results were kept: judged, per-image R_inv 0.5, no question data.
  manifestRecord({
    id: 'b1',
    verdict: 'rejected',
    subject: 'Biology',
    image_type: 'Biology - Genetics',
    judge: judgeScores(0, 1, 2, 1, 0),
    r_inv: 0.5,
  }),
];

function summarize(records: ManifestRecord[]) {
  const accumulator = createSummaryAccumulator({ generators: [GENERATOR] });
  for (const record of records) accumulator.add(record);
  return accumulator.finish({ build_id: 'official', finished_at: 'now' });
}

describe("SciGenBench's metrics in summary.json", () => {
  const generator = summarize(RECORDS).generators[0]!;
  const overall = generator.overall;

  it('counts R_inv per question over judged images, quizzes and VE questions together', () => {
    // Rows of the judged images p1, p2, m1, m2 (b1 has none; m3 and c1 are not judged):
    // quizzes 3 + 1 + 4 + 2 = 10, right 2 + 1 + 3 + 2 = 8; VE questions 3 (p1, p2, m2), right 2.
    expect(overall.questions).toBe(13);
    expect(overall.r_inv).toBeCloseTo(10 / 13, 12);
    expect(overall.r_inv_quiz_only).toBeCloseTo(8 / 10, 12);
    expect(overall.ve_accuracy).toBeCloseTo(2 / 3, 12);
    // The per-image mean differs. It is kept as it was, over every line with a per-image R_inv:
    // p1 2/3, p2 1, m1 3/4, m2 1, c1 1 and b1 0.5.
    expect(overall.r_inv_mean).toBeCloseTo((2 / 3 + 1 + 0.75 + 1 + 1 + 0.5) / 6, 12);
  });

  it('gives the perfect-image rate over the images that had graded questions', () => {
    // groupby(id).mean(): p1 (3/4), p2 (1/2), m1 (3/4), m2 (1) -> one perfect image of four.
    expect(overall.perfect_image_rate).toBe(0.25);
  });

  it('counts judged images (all five scores) and averages the judge over them', () => {
    // p1, p2, m1, m2, b1.
    expect(overall.images).toBe(5);
    // C&F: 2 + 2 + 1 + 2 + 0 = 7; L&P: 2 + 1 + 1 + 2 + 1 = 7; E&R: 2 + 1 + 2 + 2 + 0 = 7.
    expect(overall.judge_means).toEqual(judgeScores(7 / 5, 7 / 5, 9 / 5, 9 / 5, 7 / 5));
  });

  it('leaves identical images out of the PSNR mean and counts them', () => {
    // PSNR 20 (p1) and 30 (m1); p2 is identical to its reference. SSIM over all three: (0.8 + 1 + 0.6) / 3.
    expect(overall).toMatchObject({ psnr_mean: 25, psnr_identical: 1, referenced: 3 });
    expect(overall.ssim_mean).toBeCloseTo(0.8, 12);
  });

  it('computes every metric within each subject and image type', () => {
    const physics = generator.by_subject['Physics']!;
    // p1 + p2: quizzes 4 (3 right), VE 2 (1 right): 4/6; neither image perfect.
    expect(physics).toMatchObject({ questions: 6, images: 2, perfect_image_rate: 0, ve_accuracy: 0.5 });
    expect(physics.r_inv).toBeCloseTo(4 / 6, 12);
    expect(physics.r_inv_quiz_only).toBeCloseTo(3 / 4, 12);
    expect(physics).toMatchObject({ psnr_mean: 20, psnr_identical: 1, referenced: 2, ssim_mean: 0.9 });

    const plane = generator.by_image_type['Math - Plane Geometric']!;
    // m1 + m2 (m3 unjudged): quizzes 6 (5 right), VE 1 (right): 6/7; m2 perfect of two.
    expect(plane).toMatchObject({ questions: 7, images: 2, perfect_image_rate: 0.5, ve_accuracy: 1 });
    expect(plane.r_inv).toBeCloseTo(6 / 7, 12);
    expect(plane.r_inv_quiz_only).toBeCloseTo(5 / 6, 12);
    expect(plane.r_inv_mean).toBeCloseTo((0.75 + 1) / 2, 12);
    expect(plane.verdicts).toMatchObject({ rejected: 2, failed: 1 });
    expect(generator.by_subject['Math']!.r_inv).toBeCloseTo(6 / 7, 12);
  });

  it('gives null where a group had nothing to grade', () => {
    const empty: Partial<LeaderboardRow> = {
      images: 0,
      questions: 0,
      r_inv: null,
      r_inv_quiz_only: null,
      perfect_image_rate: null,
      ve_accuracy: null,
      judge_means: null,
      psnr_mean: null,
      ssim_mean: null,
      psnr_identical: 0,
      referenced: 0,
    };
    // Chemistry: c1's judge misses a dimension.
    expect(generator.by_subject['Chemistry']).toMatchObject(empty);
    // Biology: b1 is judged but was written without question data.
    expect(generator.by_subject['Biology']).toMatchObject({
      ...empty,
      images: 1,
      judge_means: judgeScores(0, 1, 2, 1, 0),
      r_inv_mean: 0.5,
    });
  });

  it('counts a VE question alone when an image has no quizzes', () => {
    const summary = summarize([
      line('v1', 'Physics', 'Physics - Optical Ray', { judge: PERFECT, quiz_results: [], ve: ve(true) }),
      line('v2', 'Physics', 'Physics - Optical Ray', { judge: PERFECT, quiz_results: [], ve: ve(false) }),
    ]).generators[0]!.overall;
    expect(summary).toMatchObject({
      questions: 2,
      r_inv: 0.5,
      r_inv_quiz_only: null,
      ve_accuracy: 0.5,
      perfect_image_rate: 0.5,
      r_inv_mean: null,
    });
  });

  it('summarizes lines from older builds: per-image mean only, question-level null', () => {
    const old = RECORDS[6]!;
    const legacy = manifestRecord({ ...old, id: 'b2', results: undefined, r_inv: 1, judge: PERFECT });
    const row = summarize([old, legacy]).generators[0]!.overall;
    expect(row).toMatchObject({ images: 2, questions: 0, r_inv: null, perfect_image_rate: null, ve_accuracy: null });
    expect(row.r_inv_mean).toBe(0.75);
  });

  it('gives the question-level metrics exactly, whatever the order of the lines', () => {
    // Counts, divided once at the end: no floating-point sums that depend on the order.
    const questionLevel = (row: LeaderboardRow) =>
      [row.r_inv, row.r_inv_quiz_only, row.perfect_image_rate, row.ve_accuracy, row.questions, row.images].join();
    const reversed = summarize([...RECORDS].reverse()).generators[0]!;
    expect(questionLevel(reversed.overall)).toBe(questionLevel(overall));
    for (const [name, row] of Object.entries(generator.by_image_type))
      expect(questionLevel(reversed.by_image_type[name]!)).toBe(questionLevel(row));
  });
});
