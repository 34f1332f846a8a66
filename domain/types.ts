/**
 * The records scigen passes between workflows and activities, and writes to the manifest.
 * Pure types and constants: imported by workflow code, so no Node builtins here.
 */

export const SUBJECTS = ['Mathematics', 'Physics', 'Chemistry', 'Biology', 'Universal'] as const;
export type Subject = (typeof SUBJECTS)[number];

export const VERDICTS = ['accepted', 'rejected', 'skipped', 'failed', 'invalid'] as const;
export type Verdict = (typeof VERDICTS)[number];

/** The pipeline steps, also the values of the `x-scigen-step` request header. */
export const STEPS = ['classify', 'plan', 'code', 'repair', 'refine', 'image', 'judge', 'quiz', 'answer'] as const;
export type Step = (typeof STEPS)[number];

export const OPTION_LETTERS = ['A', 'B', 'C', 'D'] as const;
export type OptionLetter = (typeof OPTION_LETTERS)[number];

/** A multiple-choice question about the problem's given setup, answerable from the image alone. */
export interface Quiz {
  question: string;
  options: Record<OptionLetter, string>;
  correct_option: OptionLetter;
}

/** One input problem after validation (CONTRACT.md, Input). */
export interface Problem {
  id: string | number;
  question: string;
  answer?: string;
  subject?: string;
  image_type?: string;
  caption?: string;
  quizzes?: Quiz[];
  /**
   * The reference image as the input named it (`reference_image`, or SciGenBench's `image`): a path
   * relative to the input file, or a file:// or s3:// URI. Staging copies it to `reference_image_key`.
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

export interface Usage {
  input_tokens: number;
  output_tokens: number;
  cost_usd: number;
}

export const ZERO_USAGE: Usage = { input_tokens: 0, output_tokens: 0, cost_usd: 0 };

export function addUsage(a: Usage, b: Usage): Usage {
  return {
    input_tokens: a.input_tokens + b.input_tokens,
    output_tokens: a.output_tokens + b.output_tokens,
    cost_usd: a.cost_usd + b.cost_usd,
  };
}

/** How a generator makes an image: Matplotlib code that is rendered (ImgCoder), or an image model. */
export const PARADIGMS = ['code', 'pixel'] as const;
export type Paradigm = (typeof PARADIGMS)[number];

/** A generator as a build runs it: its model resolved for the build's provider ('' = the step's configured model). */
export interface GeneratorSpec {
  name: string;
  paradigm: Paradigm;
  model: string;
}

/** One quiz as graded for one image: what the answerer chose (null: no readable letter). */
export interface QuizResult {
  question: string;
  correct_option: OptionLetter;
  chosen: OptionLetter | null;
}

/** One image version of a generator: round 0 is the first image, round N the Nth refinement. */
export interface ImageVersion {
  round: number;
  image: string;
  code: string | null;
  judge: JudgeScores | null;
  /** What the refinement was asked to fix (round >= 1). */
  critique: string | null;
}

/**
 * What one generator made of one problem. A build runs one or more generators on the same
 * problems (after one shared classify and, for code generators, one shared plan), so they are
 * compared on equal terms; the manifest line's top-level fields repeat the first generator's result.
 */
export interface GeneratorResult {
  generator: string;
  paradigm: Paradigm;
  /** The model that wrote the code or drew the image. */
  model: string;
  verdict: Verdict;
  reasons: string[];
  /** What happened beside the verdict: a refinement round that failed, a comparison that could not be made. */
  notes: string[];
  /** URI of the image the verdict is about (the best-judged version, a later one on a tie), or null. */
  image: string | null;
  code: string | null;
  judge: JudgeScores | null;
  /** The judge's words: `overall` and one entry per dimension it explained. URI of judge.json in `judge_uri`. */
  judge_reasoning: { overall: string; dimensions: Partial<Record<JudgeDimension, string>> } | null;
  judge_uri: string | null;
  r_inv: number | null;
  quiz_results: QuizResult[] | null;
  render_attempts: number;
  /** Every image version, oldest first; more than one when a refinement round ran. */
  versions: ImageVersion[];
  /** PSNR (dB) and SSIM against the problem's reference image, when it has one and an image was made. */
  reference: { psnr: number; ssim: number } | null;
  usage: Usage;
}

/** One manifest.jsonl line: the fields CONTRACT.md fixes, then scigen's additions. */
export interface ManifestRecord {
  id: string | number;
  verdict: Verdict;
  reasons: string[];
  subject: string | null;
  image_type: string | null;
  image: string | null;
  code: string | null;
  plan: string | null;
  judge: JudgeScores | null;
  r_inv: number | null;
  render_attempts: number;
  usage: Usage;
  extra: Record<string, unknown>;
  /** Additions (absent from records written before they existed, and from `invalid` lines): */
  /** Name of the generator whose result the top-level fields carry (the build's first). */
  generator?: string;
  /** URI of the quizzes used (given with the problem or generated), shared by all generators. */
  quizzes?: string | null;
  /** The problem's question and given answer, for reports and exports. */
  question?: string;
  answer?: string | null;
  /** URI of the staged reference image, when the problem has one. */
  reference_image?: string | null;
  /** One entry per generator of the build, the first one first. */
  results?: GeneratorResult[];
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
