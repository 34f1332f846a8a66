import { describe, expect, it } from 'vitest';
import { createBuildOutcomeTally, formatCountedReason } from '../../domain/build-outcome.ts';
import type { ManifestRecord } from '../../domain/manifest.ts';
import { judgeScores, manifestRecord, manifestResult } from '../helpers/manifest.ts';

const AUTH = 'plan: invalid API key for openai (401)';

function tally(records: ManifestRecord[], limit = 5) {
  const outcome = createBuildOutcomeTally();
  for (const record of records) outcome.add(record);
  return outcome.finish(limit);
}

describe('the outcome of a finished build', () => {
  it('counts no evaluated image when every problem failed, was skipped or invalid, and counts the reasons per problem', () => {
    const outcome = tally([
      manifestRecord({ id: 'a', verdict: 'failed', reasons: [AUTH] }),
      manifestRecord({ id: 'b', verdict: 'failed', reasons: [AUTH] }),
      manifestRecord({ id: 'c', verdict: 'failed', reasons: ['render failed after 3 attempts: SyntaxError'] }),
      manifestRecord({ id: 'd', verdict: 'skipped', reasons: ['not visualizable: needs a photo'] }),
      manifestRecord({ id: 'e', verdict: 'invalid', reasons: ['in.jsonl:5: field "question": required'] }),
      // A failed judge leaves an image without scores: it was not evaluated.
      manifestRecord({ id: 'f', verdict: 'failed', reasons: [AUTH], image: 'file:///f.png' }),
    ]);
    expect(outcome.evaluatedImages).toBe(0);
    expect(outcome.failureReasons.map(formatCountedReason)).toEqual([
      `3 × ${AUTH}`,
      '1 × in.jsonl:5: field "question": required',
      '1 × render failed after 3 attempts: SyntaxError',
    ]);
  });

  it('counts a judged image of any generator, and a reason all generators share once per problem', () => {
    const failed = (generator: string) =>
      manifestResult({ generator, paradigm: 'code', model: 'm', verdict: 'failed', reasons: [AUTH] });
    const outcome = tally([
      manifestRecord({ id: 'a', verdict: 'failed', reasons: [AUTH], results: [failed('one'), failed('two')] }),
      manifestRecord({
        id: 'b',
        verdict: 'failed',
        reasons: [AUTH],
        results: [
          failed('one'),
          manifestResult({
            generator: 'two',
            paradigm: 'pixel',
            model: 'p',
            verdict: 'rejected',
            reasons: ['r_inv 0.5 < 0.75'],
            image: 'file:///b.png',
            judge: judgeScores(2, 2, 2, 2, 2),
          }),
        ],
      }),
    ]);
    expect(outcome.evaluatedImages).toBe(1);
    expect(outcome.failureReasons).toEqual([{ reason: AUTH, problems: 2 }]);
  });

  it('keeps the most frequent reasons up to the limit', () => {
    const records = ['x', 'y', 'y', 'z', 'z', 'z'].map((reason, index) =>
      manifestRecord({ id: index, verdict: 'failed', reasons: [reason] }),
    );
    expect(tally(records, 2).failureReasons).toEqual([
      { reason: 'z', problems: 3 },
      { reason: 'y', problems: 2 },
    ]);
  });
});
