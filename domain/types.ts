/**
 * The records scigen passes between workflows and activities, and writes to the manifest.
 * Pure types and constants: imported by workflow code, so no Node builtins here.
 */

export const VERDICTS = ['accepted', 'rejected', 'skipped', 'failed', 'invalid'] as const;
export type Verdict = (typeof VERDICTS)[number];

/** The pipeline steps, also the values of the `x-scigen-step` request header. */
export const STEPS = [
  'classify',
  'plan',
  'code',
  'repair',
  'refine',
  'image',
  'judge',
  'quiz',
  'answer',
  'visual-answer',
  'grade',
] as const;
export type Step = (typeof STEPS)[number];

/** The options a generated quiz has (step `quiz`); quizzes the input brings may have others (A–E, …). */
export const GENERATED_OPTION_LETTERS = ['A', 'B', 'C', 'D'] as const;
/** An option's key: one uppercase letter. */
export type OptionLetter = string;

/** A multiple-choice question about the problem's given setup, answerable from the image alone. */
export interface Quiz {
  question: string;
  /** Two or more options keyed by single uppercase letters, in letter order. */
  options: Record<OptionLetter, string>;
  /** One of the options' keys. */
  correct_option: OptionLetter;
  /** SciGenBench's pointer to the part of the problem the quiz is about. */
  evidence_snippet?: string;
}

/** A quiz that was not used, with its position in the list it came in (the input's, or a model's answer) and why. */
export interface DroppedQuiz {
  index: number;
  reason: string;
}

/** One input problem after validation (CONTRACT.md, Input). */
export interface Problem {
  id: string | number;
  question: string;
  answer?: string;
  subject?: string;
  image_type?: string;
  caption?: string;
  /** SciGenBench's list of what the image must show. */
  elements?: string[];
  /** SciGenBench's question to be answered from the image (its VE step). */
  multimodal_question?: string;
  /** The usable quizzes the input brought; absent when it brought none (the build generates them). */
  quizzes?: Quiz[];
  /** The input's quizzes that could not be used, by their position in the input's list, with why. */
  dropped_quizzes?: DroppedQuiz[];
  /**
   * The reference image as the input named it (`reference_image`, or SciGenBench's `image`): a path
   * relative to the input file, or a file:// or s3:// URI; or, for a problem without one, the URI of
   * `<id>.<ext>` in the references folder (cli/reference-images.ts). Staging copies it to `reference_image_key`.
   */
  reference_image?: string;
  /**
   * A reference image to compare against (PSNR/SSIM): the artifact key it was staged to. The input
   * names it `reference_image` (or SciGenBench's `image`), a path relative to the input file or a URI.
   */
  reference_image_key?: string;
  /** Unknown input fields, carried to the manifest untouched. */
  extra: Record<string, unknown>;
}

export const JUDGE_DIMENSIONS = [
  'correctness_fidelity',
  'layout_precision',
  'readability_occlusion',
  'scientific_plausibility',
  'expressiveness_richness',
] as const;
export type JudgeDimension = (typeof JUDGE_DIMENSIONS)[number];
export type JudgeScores = Record<JudgeDimension, number>;

/** The judge's dimensions as the paper names them, the same in the UI, the report and the leaderboard (CONTRACT.md). */
export const JUDGE_LABELS: Record<JudgeDimension, { short: string; long: string }> = {
  correctness_fidelity: { short: 'C&F', long: 'Correctness & Fidelity' },
  layout_precision: { short: 'L&P', long: 'Layout & Precision' },
  readability_occlusion: { short: 'R&O', long: 'Readability & Occlusion' },
  scientific_plausibility: { short: 'SP', long: 'Scientific Plausibility' },
  expressiveness_richness: { short: 'E&R', long: 'Expressiveness & Richness' },
};

/** "C&F 2, L&P 1, R&O 2, SP 2, E&R 2". */
export function describeScores(scores: JudgeScores): string {
  return JUDGE_DIMENSIONS.map((dimension) => `${JUDGE_LABELS[dimension].short} ${scores[dimension]}`).join(', ');
}

export interface Usage {
  input_tokens: number;
  output_tokens: number;
  /** What was paid: batch answers at the batch rates. */
  cost_usd: number;
  /**
   * What the same calls would have cost in real time; present once any of them went through a
   * batch (absent: equal to cost_usd).
   */
  realtime_cost_usd?: number;
  /** How many of the calls a batch answered; absent: none. */
  batch_calls?: number;
}

export const ZERO_USAGE: Usage = { input_tokens: 0, output_tokens: 0, cost_usd: 0 };

export function addUsage(a: Usage, b: Usage): Usage {
  const sum: Usage = {
    input_tokens: a.input_tokens + b.input_tokens,
    output_tokens: a.output_tokens + b.output_tokens,
    cost_usd: a.cost_usd + b.cost_usd,
  };
  if (a.realtime_cost_usd === undefined && b.realtime_cost_usd === undefined) return sum;
  return {
    ...sum,
    realtime_cost_usd: realtimeCostOf(a) + realtimeCostOf(b),
    batch_calls: (a.batch_calls ?? 0) + (b.batch_calls ?? 0),
  };
}

/** What a usage's calls would have cost in real time. */
export function realtimeCostOf(usage: Usage): number {
  return usage.realtime_cost_usd ?? usage.cost_usd;
}

/**
 * How a generator makes an image: Matplotlib code that is rendered (ImgCoder), an image model
 * (pixel), or not at all: `external` images were made elsewhere and are only evaluated.
 */
export const PARADIGMS = ['code', 'pixel', 'external'] as const;
export type Paradigm = (typeof PARADIGMS)[number];

/** A generator as a build runs it: its model resolved for the build's provider ('' = the step's configured model). */
export interface GeneratorSpec {
  name: string;
  paradigm: Paradigm;
  model: string;
}

/** A prompt the build's config replaced with a file of the user's (config `prompts`), so its numbers trace to the text. */
export interface ReplacedPrompt {
  /** The prompt's name, as in activities/prompts/<name>.txt. */
  name: string;
  /** Hex sha256 of the replacement's text (UTF-8). */
  sha256: string;
}

/** One quiz as graded for one image: what the answerer chose (null: no readable letter). */
export interface QuizResult {
  question: string;
  correct_option: OptionLetter;
  chosen: OptionLetter | null;
}

/** The filter policy (CONTRACT.md defaults). */
export interface FilterPolicy {
  /** Every judge dimension must reach this. @default 1 */
  minEachDimension: number;
  /** correctness_fidelity must reach this. @default 2 */
  minCorrectnessFidelity: number;
  /** The share of quizzes answered correctly from the image alone must reach this. @default 0.75 */
  minRInv: number;
}

/** One line of a build's staged input: the problem and its filesystem- and id-safe key. */
export interface StagedProblem {
  problemKey: string;
  problem: Problem;
}
