/**
 * summary.json (CONTRACT.md, Output): counts per verdict, subject and image type, mean judge scores
 * and mean R_inv, tokens and cost, and the leaderboard: SciGenBench's metrics per generator, overall
 * and per group (LeaderboardRow says how each is counted). Built one manifest record at a time so a
 * build of any size is summarized without holding its manifest. Means keep full precision; the
 * report and the leaderboard table round.
 */
import { addUsage, JUDGE_DIMENSIONS, VERDICTS, ZERO_USAGE } from './types.ts';
import type { GeneratorSpec, JudgeScores, Paradigm, ReplacedPrompt, Usage, Verdict } from './types.ts';
import { FORMER_GENERATOR, resultFromTopLevel, type ManifestRecord, type ManifestResult } from './manifest.ts';
import type { BuildProtocol } from './protocol.ts';

export type VerdictCounts = Record<Verdict, number>;

export interface GroupSummary {
  problems: number;
  verdicts: VerdictCounts;
  /** Mean of per-image R_inv (each image's share of quizzes answered right) over the records that have one; null when none has. */
  r_inv_mean: number | null;
  /** Mean per dimension over the records judged on all five dimensions; null when none was. */
  judge_means: JudgeScores | null;
}

/**
 * One leaderboard cell: a generator's results over a group of problems (the paper's main table).
 * The question-level metrics follow SciGenBench's own aggregation (its run.py): every graded
 * question of every judged image counts once, the image's quizzes and its VE question alike.
 * A quiz whose answer named no letter is graded and wrong. Rates are 0–1, null when nothing was graded.
 */
export interface LeaderboardRow extends GroupSummary {
  /** Images with all five judge scores: the images every question-level metric is over. */
  images: number;
  /** Question-level R_inv: correct answers over graded questions (quizzes and VE questions) of judged images. */
  r_inv: number | null;
  /** The same over quiz questions alone. */
  r_inv_quiz_only: number | null;
  /** Share of judged images with at least one graded question whose questions were all answered right. */
  perfect_image_rate: number | null;
  /** VE questions answered right over VE questions graded. */
  ve_accuracy: number | null;
  /** Graded questions: quiz answers plus VE questions. */
  questions: number;
  /** Means over the images that had a reference image; PSNR over those not identical to it. Null when none. */
  psnr_mean: number | null;
  ssim_mean: number | null;
  /** Images identical to their reference: infinite PSNR, left out of psnr_mean and counted here. */
  psnr_identical: number;
  /** Images compared with a reference image. */
  referenced: number;
}

/** One generator's line of the leaderboard, overall and per subject and image type. */
export interface GeneratorSummary {
  generator: string;
  paradigm: Paradigm;
  model: string;
  overall: LeaderboardRow;
  by_subject: Record<string, LeaderboardRow>;
  by_image_type: Record<string, LeaderboardRow>;
  usage: Usage;
}

export interface BuildSummary {
  build_id: string;
  problems: number;
  verdicts: VerdictCounts;
  r_inv_mean: number | null;
  judge_means: JudgeScores | null;
  /** Mean over the records that rendered at least once; null when none did. */
  render_attempts_mean: number | null;
  by_subject: Record<string, GroupSummary>;
  by_image_type: Record<string, GroupSummary>;
  usage: Usage;
  /**
   * The leaderboard: one entry per generator, in the build's order. The top-level counts and
   * means above are the first generator's (they are what manifest lines carry at top level).
   */
  generators: GeneratorSummary[];
  /** The prompts the build's config replaced with the user's files (name, sha256 of the text); absent when none was. */
  prompts?: ReplacedPrompt[];
  /** The protocol the build ran and the settings it implied (activities/finalize.ts sets it). */
  protocol?: BuildProtocol;
  finished_at: string;
}

export interface SummaryAccumulator {
  /** Adds one manifest line: the top level to the build's counts, each generator result to the leaderboard. */
  add(record: ManifestRecord): void;
  finish(meta: { build_id: string; finished_at: string }): BuildSummary;
}

/** The group for records without a subject or image type (skipped, invalid, failed early). */
export const UNKNOWN_GROUP = 'unknown';

interface GroupTotals {
  problems: number;
  verdicts: VerdictCounts;
  rInvSum: number;
  rInvCount: number;
  judgeSums: JudgeScores;
  judgedCount: number;
}

function zeroVerdicts(): VerdictCounts {
  return Object.fromEntries(VERDICTS.map((verdict) => [verdict, 0])) as VerdictCounts;
}

function zeroScores(): JudgeScores {
  return Object.fromEntries(JUDGE_DIMENSIONS.map((dimension) => [dimension, 0])) as JudgeScores;
}

function createTotals(): GroupTotals {
  return { problems: 0, verdicts: zeroVerdicts(), rInvSum: 0, rInvCount: 0, judgeSums: zeroScores(), judgedCount: 0 };
}

function addToTotals(totals: GroupTotals, record: Pick<ManifestRecord, 'verdict' | 'r_inv' | 'judge'>): void {
  totals.problems++;
  totals.verdicts[record.verdict]++;
  if (record.r_inv !== null) {
    totals.rInvSum += record.r_inv;
    totals.rInvCount++;
  }
  if (hasAllScores(record.judge)) {
    for (const dimension of JUDGE_DIMENSIONS) totals.judgeSums[dimension] += record.judge[dimension];
    totals.judgedCount++;
  }
}

/** A judgement with all five scores (the official means drop rows missing any). */
function hasAllScores(judge: JudgeScores | null | undefined): judge is JudgeScores {
  return (
    judge !== null && judge !== undefined && JUDGE_DIMENSIONS.every((dimension) => Number.isFinite(judge[dimension]))
  );
}

function summarizeTotals(totals: GroupTotals): GroupSummary {
  const judgedCount = totals.judgedCount;
  return {
    problems: totals.problems,
    verdicts: { ...totals.verdicts },
    r_inv_mean: totals.rInvCount === 0 ? null : totals.rInvSum / totals.rInvCount,
    judge_means:
      judgedCount === 0
        ? null
        : (Object.fromEntries(
            JUDGE_DIMENSIONS.map((dimension) => [dimension, totals.judgeSums[dimension] / judgedCount]),
          ) as JudgeScores),
  };
}

/** Groups sorted by name, so summary.json is byte-identical for the same records in any order. */
function summarizeGroups<T, R>(groups: Map<string, T>, summarize: (totals: T) => R): Record<string, R> {
  return Object.fromEntries(
    [...groups.entries()]
      .sort(([left], [right]) => (left < right ? -1 : left > right ? 1 : 0))
      .map(([name, totals]) => [name, summarize(totals)]),
  );
}

function addToGroup(groups: Map<string, GroupTotals>, name: string | null, record: ManifestRecord): void {
  const key = name ?? UNKNOWN_GROUP;
  let totals = groups.get(key);
  if (totals === undefined) {
    totals = createTotals();
    groups.set(key, totals);
  }
  addToTotals(totals, record);
}

interface RowTotals extends GroupTotals {
  quizQuestions: number;
  quizCorrect: number;
  veQuestions: number;
  veCorrect: number;
  /** Judged images with at least one graded question, and those with every one right. */
  questionedImages: number;
  perfectImages: number;
  psnrSum: number;
  psnrCount: number;
  ssimSum: number;
  referenced: number;
}

function createRowTotals(): RowTotals {
  return {
    ...createTotals(),
    quizQuestions: 0,
    quizCorrect: 0,
    veQuestions: 0,
    veCorrect: 0,
    questionedImages: 0,
    perfectImages: 0,
    psnrSum: 0,
    psnrCount: 0,
    ssimSum: 0,
    referenced: 0,
  };
}

/** The graded questions of one image: its quiz answers (no letter = wrong) and its VE question, when they ran. */
export function gradedQuestions(result: Pick<ManifestResult, 'quiz_results' | 've'>): {
  quizQuestions: number;
  quizCorrect: number;
  veQuestions: number;
  veCorrect: number;
} {
  const quizzes = result.quiz_results ?? [];
  const ve = result.ve ?? null;
  return {
    quizQuestions: quizzes.length,
    quizCorrect: quizzes.filter((quiz) => quiz.chosen !== null && quiz.chosen === quiz.correct_option).length,
    veQuestions: ve === null ? 0 : 1,
    veCorrect: ve?.correct === true ? 1 : 0,
  };
}

function addToRow(totals: RowTotals, result: ManifestResult): void {
  addToTotals(totals, { verdict: result.verdict, r_inv: result.r_inv, judge: result.judge });
  // Questions count for judged images only: an image the judge never scored has no place in the table.
  if (hasAllScores(result.judge)) {
    const graded = gradedQuestions(result);
    totals.quizQuestions += graded.quizQuestions;
    totals.quizCorrect += graded.quizCorrect;
    totals.veQuestions += graded.veQuestions;
    totals.veCorrect += graded.veCorrect;
    const questions = graded.quizQuestions + graded.veQuestions;
    if (questions > 0) {
      totals.questionedImages++;
      if (graded.quizCorrect + graded.veCorrect === questions) totals.perfectImages++;
    }
  }
  if (result.reference) {
    totals.referenced++;
    totals.ssimSum += result.reference.ssim;
    if (result.reference.psnr !== null) {
      totals.psnrSum += result.reference.psnr;
      totals.psnrCount++;
    }
  }
}

const share = (part: number, whole: number): number | null => (whole === 0 ? null : part / whole);

function summarizeRow(totals: RowTotals): LeaderboardRow {
  return {
    ...summarizeTotals(totals),
    images: totals.judgedCount,
    r_inv: share(totals.quizCorrect + totals.veCorrect, totals.quizQuestions + totals.veQuestions),
    r_inv_quiz_only: share(totals.quizCorrect, totals.quizQuestions),
    perfect_image_rate: share(totals.perfectImages, totals.questionedImages),
    ve_accuracy: share(totals.veCorrect, totals.veQuestions),
    questions: totals.quizQuestions + totals.veQuestions,
    psnr_mean: share(totals.psnrSum, totals.psnrCount),
    ssim_mean: share(totals.ssimSum, totals.referenced),
    psnr_identical: totals.referenced - totals.psnrCount,
    referenced: totals.referenced,
  };
}

interface GeneratorTotals {
  generator: string;
  paradigm: Paradigm;
  model: string;
  overall: RowTotals;
  bySubject: Map<string, RowTotals>;
  byImageType: Map<string, RowTotals>;
  usage: Usage;
}

function rowIn(groups: Map<string, RowTotals>, name: string | null): RowTotals {
  const key = name ?? UNKNOWN_GROUP;
  let totals = groups.get(key);
  if (totals === undefined) {
    totals = createRowTotals();
    groups.set(key, totals);
  }
  return totals;
}

/**
 * The results a manifest line contributes to the leaderboard. A line without `results` is the
 * same outcome for every generator of the build: no generator got the problem (invalid input), or
 * the only one made what the top level says. Its usage is counted once, for a sole generator.
 */
export function resultsOf(record: ManifestRecord, generators: readonly GeneratorSpec[]): ManifestResult[] {
  if (record.results && record.results.length > 0) return record.results;
  return generators.map((generator) =>
    resultFromTopLevel(record, generator, generators.length === 1 ? record.usage : ZERO_USAGE),
  );
}

/**
 * @param options.generators the build's generators in order, so the leaderboard lists them in
 *   that order and lines without results (invalid input) count for each. Default: the one former generator.
 */
export function createSummaryAccumulator(options: { generators?: readonly GeneratorSpec[] } = {}): SummaryAccumulator {
  const knownGenerators = options.generators && options.generators.length > 0 ? options.generators : [FORMER_GENERATOR];
  const leaderboard = new Map<string, GeneratorTotals>();
  const generatorTotals = (result: Pick<ManifestResult, 'generator' | 'paradigm' | 'model'>): GeneratorTotals => {
    let totals = leaderboard.get(result.generator);
    if (totals === undefined) {
      totals = {
        generator: result.generator,
        paradigm: result.paradigm,
        model: result.model,
        overall: createRowTotals(),
        bySubject: new Map(),
        byImageType: new Map(),
        usage: { ...ZERO_USAGE },
      };
      leaderboard.set(result.generator, totals);
    }
    // The former generator's model is unknown until a result names it.
    if (totals.model === '' && result.model !== '') totals.model = result.model;
    return totals;
  };
  // The build's generators first, in its order, even those no line mentions yet.
  for (const generator of knownGenerators)
    generatorTotals({ generator: generator.name, paradigm: generator.paradigm, model: generator.model });
  const overall = createTotals();
  const bySubject = new Map<string, GroupTotals>();
  const byImageType = new Map<string, GroupTotals>();
  let usage: Usage = { ...ZERO_USAGE };
  let renderAttemptsSum = 0;
  let renderedCount = 0;

  return {
    add(record) {
      addToTotals(overall, record);
      addToGroup(bySubject, record.subject, record);
      addToGroup(byImageType, record.image_type, record);
      usage = addUsage(usage, record.usage);
      for (const result of resultsOf(record, knownGenerators)) {
        const totals = generatorTotals(result);
        addToRow(totals.overall, result);
        addToRow(rowIn(totals.bySubject, record.subject), result);
        addToRow(rowIn(totals.byImageType, record.image_type), result);
        totals.usage = addUsage(totals.usage, result.usage);
      }
      if (record.render_attempts > 0) {
        renderAttemptsSum += record.render_attempts;
        renderedCount++;
      }
    },
    finish(meta) {
      const totals = summarizeTotals(overall);
      return {
        build_id: meta.build_id,
        problems: totals.problems,
        verdicts: totals.verdicts,
        r_inv_mean: totals.r_inv_mean,
        judge_means: totals.judge_means,
        render_attempts_mean: renderedCount === 0 ? null : renderAttemptsSum / renderedCount,
        by_subject: summarizeGroups(bySubject, summarizeTotals),
        by_image_type: summarizeGroups(byImageType, summarizeTotals),
        usage: { ...usage },
        generators: [...leaderboard.values()].map((totals) => ({
          generator: totals.generator,
          paradigm: totals.paradigm,
          model: totals.model,
          overall: summarizeRow(totals.overall),
          by_subject: summarizeGroups(totals.bySubject, summarizeRow),
          by_image_type: summarizeGroups(totals.byImageType, summarizeRow),
          usage: { ...totals.usage },
        })),
        finished_at: meta.finished_at,
      };
    },
  };
}
