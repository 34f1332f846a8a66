/**
 * A problem's result, in the one shape the problem workflow builds and the record activity stores:
 * artifact keys, not URIs. The manifest line (domain/manifest.ts) is made from it when the build
 * finishes; that is the only place keys become URIs. Pure: imported by workflow code.
 */
import type { ClassifiedTaxonomy } from './taxonomy.ts';
import {
  JUDGE_DIMENSIONS,
  ZERO_USAGE,
  type DroppedQuiz,
  type GeneratorSpec,
  type JudgeDimension,
  type JudgeScores,
  type Paradigm,
  type Problem,
  type QuizResult,
  type Usage,
  type Verdict,
} from './types.ts';

/** The judge's words: an overall assessment and one entry per dimension it explained. */
export interface JudgeReasoning {
  overall: string;
  dimensions: Partial<Record<JudgeDimension, string>>;
}

/** One image a generator made: round 0 is the first image, round N the Nth refinement. */
export interface ImageVersion {
  round: number;
  imageKey: string;
  codeKey: string | null;
  judge: JudgeScores | null;
  /** What the refinement was asked to fix (round >= 1). */
  critique: string | null;
}

/** What a generator's result says the same way in both its shapes: the record's (keys) and the manifest's (URIs). */
export interface GeneratorVerdict {
  generator: string;
  paradigm: Paradigm;
  /** The model that wrote the code or drew the image ('' = the step's configured model). */
  model: string;
  verdict: Verdict;
  reasons: string[];
  /** What happened beside the verdict (a refinement round that failed, a comparison that could not be made). */
  notes: string[];
  judge: JudgeScores | null;
  /** PSNR (dB) and SSIM against the problem's reference image; null when there was none to compare with. */
  reference: ReferenceComparison | null;
  usage: Usage;
}

/**
 * A generated image against the problem's reference image, computed as SciGenBench computes it
 * (activities/compare-images.py). `psnr` is null for identical images, whose PSNR is infinite:
 * JSON cannot carry infinity, and a capped number would pass for a measurement.
 */
export interface ReferenceComparison {
  psnr: number | null;
  ssim: number;
}

/**
 * What one generator made of one problem. A build runs one or more generators on the same problems
 * (after one shared classify and, for code generators, one shared plan), so they are compared on
 * equal terms.
 */
export interface GeneratorResult extends GeneratorVerdict {
  /** The image the verdict is about (the best-judged version, a later one on a tie). */
  imageKey: string | null;
  codeKey: string | null;
  judgeReasoning: JudgeReasoning | null;
  judgeKey: string | null;
  rInv: number | null;
  quizResults: QuizResult[] | null;
  renderAttempts: number;
  /** Every image version, oldest first; more than one when a refinement round ran. */
  versions: ImageVersion[];
  /** The VE question's outcome; null when it did not run. Absent from records written before it existed. */
  ve?: VisualAnswer | null;
}

/**
 * SciGenBench's VE question (its ve_infer step): the data's `multimodal_question` answered from the
 * image alone by a vision model (step `visual-answer`), then graded against the problem's `answer`
 * by a text model (step `grade`). Counted as one more question in the question-level R_inv.
 */
export interface VisualAnswer {
  /**
   * The data's `multimodal_question`. The problem workflow never holds the problem's texts, so it
   * leaves this out and the record activity fills it from the staged problem.
   */
  question?: string;
  /** The visual-answer step's free-text answer, stored as an artifact. */
  answerKey: string;
  correct: boolean;
  /** The grader's reason. */
  reason: string;
}

/** What a problem workflow concluded: the shared steps' results, then one result per generator, the build's first first. */
export interface ProblemResult {
  /** The data's subject and image type, the classifier's filling only what the data lacks (domain/taxonomy.ts). */
  subject: string | null;
  imageType: string | null;
  /** What the classify step answered; null when it did not run or failed. Absent from records written before it existed. */
  classified?: ClassifiedTaxonomy | null;
  planKey: string | null;
  /** The quizzes generated for the problem; null when it brought its own (or none were made). */
  quizKey: string | null;
  results: GeneratorResult[];
  /** Everything the problem cost, shared steps included. */
  usage: Usage;
}

/** The record of one finished problem (`records/<problem>.json`): its result and the input it needs for a manifest line. */
export interface ProblemRecord extends ProblemResult {
  /** Tells this layout from records written before it (which were manifest lines already). */
  format: typeof PROBLEM_RECORD_FORMAT;
  id: Problem['id'];
  question: string;
  answer: string | null;
  referenceImageKey: string | null;
  /** The input's quizzes that could not be used; absent from records written before it existed. */
  droppedQuizzes?: DroppedQuiz[];
  /** SciGenBench's `multimodal_question` and `elements`, when the problem has them. */
  multimodalQuestion?: string;
  elements?: string[];
  extra: Record<string, unknown>;
}

export const PROBLEM_RECORD_FORMAT = 2;

/** A generator's result before it has done anything: failed, with no reason yet. */
export function emptyGeneratorResult(generator: GeneratorSpec): GeneratorResult {
  return {
    generator: generator.name,
    paradigm: generator.paradigm,
    model: generator.model,
    verdict: 'failed',
    reasons: [],
    notes: [],
    imageKey: null,
    codeKey: null,
    judge: null,
    judgeReasoning: null,
    judgeKey: null,
    rInv: null,
    quizResults: null,
    renderAttempts: 0,
    versions: [],
    reference: null,
    usage: ZERO_USAGE,
  };
}

/** The problem's verdict and cost as the build counts them: the first generator's verdict, the whole problem's usage. */
export function problemVerdict(result: Pick<ProblemResult, 'results' | 'usage'>): { verdict: Verdict; usage: Usage } {
  return { verdict: result.results[0]?.verdict ?? 'failed', usage: result.usage };
}

function totalScore(scores: JudgeScores | null): number {
  return scores === null ? -1 : JUDGE_DIMENSIONS.reduce((sum, dimension) => sum + scores[dimension], 0);
}

/** The best-judged version (highest total over the five dimensions), the later one on a tie. */
export function bestVersion<T extends { judge: JudgeScores | null }>(versions: readonly [T, ...T[]]): T {
  return versions.reduce((best, version) => (totalScore(version.judge) >= totalScore(best.judge) ? version : best));
}
