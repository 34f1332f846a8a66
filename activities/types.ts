import type { Usage } from '../domain/types.ts';

/**
 * What a model step returns: a value, or a reason the model's answer could not be used.
 * An unusable answer is a business outcome the workflow decides on, not a fault for Temporal to retry.
 */
export type StepOutcome<T> = ({ ok: true; value: T } | { ok: false; reason: string }) & { usage: Usage };

/** Names one problem's place in the artifact store. */
export interface ProblemRef {
  buildId: string;
  problemKey: string;
  /** The original id, sent as the `x-scigen-problem` header. */
  problemId: string | number;
}

export function problemPrefix(reference: Pick<ProblemRef, 'buildId' | 'problemKey'>): string {
  return `builds/${reference.buildId}/problems/${reference.problemKey}`;
}
