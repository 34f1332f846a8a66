/**
 * What a finished build tells the one who started it (CONTRACT.md, `scigen build`): whether any
 * image was evaluated, which decides the exit code, and the reasons problems failed most often.
 * Tallied one manifest line at a time, like the summary.
 */
import type { ManifestRecord, ManifestResult } from './manifest.ts';
import type { Verdict } from './types.ts';

/** A failure reason and the number of problems it ended. */
export interface CountedReason {
  reason: string;
  problems: number;
}

export interface BuildOutcome {
  /**
   * Evaluated images: generator results with an image that the judge scored. A build with none
   * (every problem failed, was skipped or invalid) evaluated nothing, whatever it cost.
   */
  evaluatedImages: number;
  /** The most frequent reasons of failed and invalid results, most frequent first. */
  failureReasons: CountedReason[];
}

export interface BuildOutcomeTally {
  add(record: ManifestRecord): void;
  /** @param limit how many reasons to keep, the most frequent; ties in the reason's alphabetical order. */
  finish(limit: number): BuildOutcome;
}

/** The verdicts whose reasons say what went wrong (a skip or a rejection is an outcome, not a failure). */
const FAILURE_VERDICTS: ReadonlySet<Verdict> = new Set(['failed', 'invalid']);

export function createBuildOutcomeTally(): BuildOutcomeTally {
  let evaluatedImages = 0;
  const reasonCounts = new Map<string, number>();
  return {
    add(record) {
      // Lines written before generator results existed, and invalid lines, carry one result at the top level.
      const results: readonly Pick<ManifestResult, 'image' | 'judge' | 'verdict' | 'reasons'>[] = record.results ?? [
        record,
      ];
      // A reason every generator shares (a failed plan) counts once for the problem.
      const reasons = new Set<string>();
      for (const result of results) {
        if (result.image !== null && result.judge !== null) evaluatedImages++;
        if (FAILURE_VERDICTS.has(result.verdict)) for (const reason of result.reasons) reasons.add(reason);
      }
      for (const reason of reasons) reasonCounts.set(reason, (reasonCounts.get(reason) ?? 0) + 1);
    },
    finish(limit) {
      const failureReasons = [...reasonCounts]
        .map(([reason, problems]) => ({ reason, problems }))
        .sort((left, right) => right.problems - left.problems || left.reason.localeCompare(right.reason))
        .slice(0, limit);
      return { evaluatedImages, failureReasons };
    },
  };
}

/** "3 × plan: invalid API key for openai (401)". */
export function formatCountedReason(counted: CountedReason): string {
  return `${counted.problems} × ${counted.reason}`;
}
