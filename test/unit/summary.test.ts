import { describe, expect, it } from 'vitest';
import { createSummaryAccumulator } from '../../domain/summary.ts';
import type { ManifestRecord } from '../../domain/manifest.ts';
import { judgeScores, manifestRecord } from '../helpers/manifest.ts';

const records: ManifestRecord[] = [
  manifestRecord({
    id: 1,
    verdict: 'accepted',
    subject: 'Mathematics',
    image_type: 'plane geometry',
    judge: judgeScores(2, 2, 2, 2, 2),
    r_inv: 1,
    render_attempts: 1,
    usage: { input_tokens: 1000, output_tokens: 500, cost_usd: 0.01 },
  }),
  manifestRecord({
    id: 2,
    verdict: 'rejected',
    subject: 'Mathematics',
    image_type: 'function plot',
    judge: judgeScores(1, 2, 1, 2, 0),
    r_inv: 0.5,
    render_attempts: 3,
    usage: { input_tokens: 2000, output_tokens: 800, cost_usd: 0.02 },
  }),
  manifestRecord({
    id: 3,
    verdict: 'accepted',
    subject: 'Physics',
    image_type: 'plane geometry',
    judge: judgeScores(2, 1, 2, 1, 1),
    r_inv: 0.75,
    render_attempts: 2,
    usage: { input_tokens: 1500, output_tokens: 700, cost_usd: 0.015 },
  }),
  manifestRecord({
    id: 4,
    verdict: 'skipped',
    subject: 'Universal',
    image_type: null,
    usage: { input_tokens: 300, output_tokens: 20, cost_usd: 0.001 },
  }),
  manifestRecord({
    id: 5,
    verdict: 'failed',
    subject: 'Physics',
    image_type: 'circuit',
    render_attempts: 4,
    usage: { input_tokens: 4000, output_tokens: 3000, cost_usd: 0.05 },
  }),
  manifestRecord({ id: 6, verdict: 'invalid' }),
];

describe('createSummaryAccumulator', () => {
  const summary = (() => {
    const accumulator = createSummaryAccumulator();
    for (const item of records) accumulator.add(item);
    return accumulator.finish({ build_id: 'b1', finished_at: '2025-01-01T00:00:00.000Z' });
  })();

  it('counts problems and verdicts', () => {
    expect(summary.build_id).toBe('b1');
    expect(summary.finished_at).toBe('2025-01-01T00:00:00.000Z');
    expect(summary.problems).toBe(6);
    expect(summary.verdicts).toEqual({ accepted: 2, rejected: 1, skipped: 1, failed: 1, invalid: 1 });
  });

  it('averages only over records that have a value', () => {
    // Judged: records 1–3. R_inv: (1 + 0.5 + 0.75) / 3. Render attempts: (1 + 3 + 2 + 4) / 4.
    expect(summary.r_inv_mean).toBeCloseTo(0.75, 12);
    expect(summary.judge_means).toEqual({
      correctness_fidelity: 5 / 3,
      layout_precision: 5 / 3,
      readability_occlusion: 5 / 3,
      scientific_plausibility: 5 / 3,
      expressiveness_richness: 1,
    });
    expect(summary.render_attempts_mean).toBe(2.5);
  });

  it('sums usage', () => {
    expect(summary.usage.input_tokens).toBe(8800);
    expect(summary.usage.output_tokens).toBe(5020);
    expect(summary.usage.cost_usd).toBeCloseTo(0.096, 12);
  });

  it('groups by subject, with null under "unknown"', () => {
    expect(Object.keys(summary.by_subject)).toEqual(['Mathematics', 'Physics', 'Universal', 'unknown']);
    expect(summary.by_subject['Mathematics']).toEqual({
      problems: 2,
      verdicts: { accepted: 1, rejected: 1, skipped: 0, failed: 0, invalid: 0 },
      r_inv_mean: 0.75,
      judge_means: {
        correctness_fidelity: 1.5,
        layout_precision: 2,
        readability_occlusion: 1.5,
        scientific_plausibility: 2,
        expressiveness_richness: 1,
      },
    });
    expect(summary.by_subject['Physics']).toEqual({
      problems: 2,
      verdicts: { accepted: 1, rejected: 0, skipped: 0, failed: 1, invalid: 0 },
      r_inv_mean: 0.75,
      judge_means: judgeScores(2, 1, 2, 1, 1),
    });
    expect(summary.by_subject['Universal']).toEqual({
      problems: 1,
      verdicts: { accepted: 0, rejected: 0, skipped: 1, failed: 0, invalid: 0 },
      r_inv_mean: null,
      judge_means: null,
    });
    expect(summary.by_subject['unknown']?.verdicts.invalid).toBe(1);
  });

  it('groups by image type', () => {
    expect(Object.keys(summary.by_image_type)).toEqual(['circuit', 'function plot', 'plane geometry', 'unknown']);
    expect(summary.by_image_type['plane geometry']).toEqual({
      problems: 2,
      verdicts: { accepted: 2, rejected: 0, skipped: 0, failed: 0, invalid: 0 },
      r_inv_mean: 0.875,
      judge_means: {
        correctness_fidelity: 2,
        layout_precision: 1.5,
        readability_occlusion: 2,
        scientific_plausibility: 1.5,
        expressiveness_richness: 1.5,
      },
    });
    expect(summary.by_image_type['unknown']?.problems).toBe(2);
    expect(summary.by_image_type['circuit']?.r_inv_mean).toBeNull();
  });

  it('gives nulls, not zeros, when nothing was judged', () => {
    const accumulator = createSummaryAccumulator();
    accumulator.add(manifestRecord({ id: 'x', verdict: 'skipped' }));
    const empty = accumulator.finish({ build_id: 'b2', finished_at: 't' });
    expect(empty.r_inv_mean).toBeNull();
    expect(empty.judge_means).toBeNull();
    expect(empty.render_attempts_mean).toBeNull();
    expect(createSummaryAccumulator().finish({ build_id: 'b3', finished_at: 't' })).toMatchObject({
      problems: 0,
      by_subject: {},
      usage: { input_tokens: 0, output_tokens: 0, cost_usd: 0 },
    });
  });

  it('does not depend on record order', () => {
    const accumulator = createSummaryAccumulator();
    for (const item of [...records].reverse()) accumulator.add(item);
    const reversed = accumulator.finish({ build_id: 'b1', finished_at: '2025-01-01T00:00:00.000Z' });
    expect(JSON.stringify(Object.keys(reversed.by_subject))).toBe(JSON.stringify(Object.keys(summary.by_subject)));
    expect(reversed.verdicts).toEqual(summary.verdicts);
  });
});
