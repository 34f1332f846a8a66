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

/** One manifest.jsonl line, exactly the fields CONTRACT.md fixes. */
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
