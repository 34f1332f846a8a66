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

/** Names one generator's work on one problem. */
export interface GeneratorRef extends ProblemRef {
  /** The generator's name (config `generators[].name`); its artifacts live in a folder of that name. */
  generator: string;
}

/** Where a generator's artifacts for a problem live: `builds/<build>/problems/<key>/<generator>`. */
export function generatorPrefix(reference: Pick<GeneratorRef, 'buildId' | 'problemKey' | 'generator'>): string {
  return `${problemPrefix(reference)}/${reference.generator}`;
}

/**
 * The folder of one code version: `attempt-N` for the first code and its repairs, `refine-R` for
 * refinement round R. Without a generator (results recorded before generators existed), directly
 * under the problem.
 */
export function codeVersionPrefix(
  reference: Pick<ProblemRef, 'buildId' | 'problemKey'> & { generator?: string },
  version: { attempt: number; round?: number },
): string {
  const base =
    reference.generator === undefined
      ? problemPrefix(reference)
      : generatorPrefix({ ...reference, generator: reference.generator });
  return version.round ? `${base}/refine-${version.round}` : `${base}/attempt-${version.attempt}`;
}
