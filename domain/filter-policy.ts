/**
 * The filter that decides accepted vs rejected for a judged image (CONTRACT.md, Output).
 * The reason strings are part of the manifest and sample expectations depend on them: keep their
 * format. Imported by workflow code: no Node builtins.
 */
import { JUDGE_DIMENSIONS } from './types.ts';
import type { FilterPolicy, JudgeScores, OptionLetter } from './types.ts';

export const DEFAULT_FILTER_POLICY: Readonly<FilterPolicy> = Object.freeze({
  minEachDimension: 1,
  minCorrectnessFidelity: 2,
  minRInv: 0.75,
});

export interface FilterDecision {
  accepted: boolean;
  reasons: string[];
}

export function applyFilterPolicy(judge: JudgeScores, rInv: number, policy: FilterPolicy): FilterDecision {
  const reasons: string[] = [];
  for (const dimension of JUDGE_DIMENSIONS) {
    // correctness_fidelity answers to both bars; report it once, against the stricter one.
    const minimum =
      dimension === 'correctness_fidelity'
        ? Math.max(policy.minEachDimension, policy.minCorrectnessFidelity)
        : policy.minEachDimension;
    const score = judge[dimension];
    if (score < minimum) reasons.push(`judge: ${dimension} ${score} < ${minimum}`);
  }
  if (rInv < policy.minRInv) reasons.push(`r_inv ${rInv.toFixed(2)} < ${policy.minRInv.toFixed(2)}`);
  return { accepted: reasons.length === 0, reasons };
}

export interface QuizAnswer {
  /** The letter the answering model chose; null when its answer named none. */
  chosen: OptionLetter | null;
  correct: OptionLetter;
}

/** R_inv: the share of quizzes answered correctly from the image alone. */
export function computeRInv(answers: readonly QuizAnswer[]): number {
  if (answers.length === 0) {
    throw new Error('R_inv is undefined without quizzes: an image needs at least one answered quiz');
  }
  const correct = answers.filter((answer) => answer.chosen === answer.correct).length;
  return correct / answers.length;
}
