import { describe, expect, it } from 'vitest';
import { applyFilterPolicy, computeRInv, DEFAULT_FILTER_POLICY } from '../../domain/filter-policy.ts';
import type { JudgeScores } from '../../domain/types.ts';

const perfect: JudgeScores = {
  correctness_fidelity: 2,
  layout_precision: 2,
  readability_occlusion: 2,
  scientific_plausibility: 2,
  expressiveness_richness: 2,
};

describe('DEFAULT_FILTER_POLICY', () => {
  it('holds the contract defaults', () => {
    expect(DEFAULT_FILTER_POLICY).toEqual({ minEachDimension: 1, minCorrectnessFidelity: 2, minRInv: 0.75 });
  });
});

describe('applyFilterPolicy', () => {
  it('accepts the boundary: every dimension 1, correctness 2, r_inv exactly 0.75', () => {
    const judge: JudgeScores = {
      correctness_fidelity: 2,
      layout_precision: 1,
      readability_occlusion: 1,
      scientific_plausibility: 1,
      expressiveness_richness: 1,
    };
    expect(applyFilterPolicy(judge, 0.75, DEFAULT_FILTER_POLICY)).toEqual({ accepted: true, reasons: [] });
    expect(applyFilterPolicy(perfect, 1, DEFAULT_FILTER_POLICY)).toEqual({ accepted: true, reasons: [] });
  });

  it('names each dimension below the bar', () => {
    const judge = { ...perfect, layout_precision: 0, expressiveness_richness: 0 };
    expect(applyFilterPolicy(judge, 1, DEFAULT_FILTER_POLICY)).toEqual({
      accepted: false,
      reasons: ['judge: layout_precision 0 < 1', 'judge: expressiveness_richness 0 < 1'],
    });
  });

  it('reports correctness_fidelity once, against the higher bar', () => {
    expect(applyFilterPolicy({ ...perfect, correctness_fidelity: 1 }, 1, DEFAULT_FILTER_POLICY).reasons).toEqual([
      'judge: correctness_fidelity 1 < 2',
    ]);
    expect(applyFilterPolicy({ ...perfect, correctness_fidelity: 0 }, 1, DEFAULT_FILTER_POLICY).reasons).toEqual([
      'judge: correctness_fidelity 0 < 2',
    ]);
  });

  it('formats r_inv with two decimals', () => {
    expect(applyFilterPolicy(perfect, 0.5, DEFAULT_FILTER_POLICY)).toEqual({
      accepted: false,
      reasons: ['r_inv 0.50 < 0.75'],
    });
    expect(applyFilterPolicy(perfect, 2 / 3, DEFAULT_FILTER_POLICY).reasons).toEqual(['r_inv 0.67 < 0.75']);
    expect(applyFilterPolicy(perfect, 0, DEFAULT_FILTER_POLICY).reasons).toEqual(['r_inv 0.00 < 0.75']);
  });

  it('lists judge reasons before the r_inv reason', () => {
    const judge = { ...perfect, correctness_fidelity: 1, readability_occlusion: 0 };
    expect(applyFilterPolicy(judge, 0.25, DEFAULT_FILTER_POLICY).reasons).toEqual([
      'judge: correctness_fidelity 1 < 2',
      'judge: readability_occlusion 0 < 1',
      'r_inv 0.25 < 0.75',
    ]);
  });

  it('follows other policies', () => {
    const lenient = { minEachDimension: 0, minCorrectnessFidelity: 1, minRInv: 0.5 };
    expect(applyFilterPolicy({ ...perfect, correctness_fidelity: 1, layout_precision: 0 }, 0.5, lenient).accepted).toBe(
      true,
    );
    expect(applyFilterPolicy({ ...perfect, correctness_fidelity: 0 }, 0.5, lenient).reasons).toEqual([
      'judge: correctness_fidelity 0 < 1',
    ]);

    const strict = { minEachDimension: 2, minCorrectnessFidelity: 2, minRInv: 1 };
    expect(
      applyFilterPolicy({ ...perfect, correctness_fidelity: 1, scientific_plausibility: 1 }, 0.75, strict).reasons,
    ).toEqual(['judge: correctness_fidelity 1 < 2', 'judge: scientific_plausibility 1 < 2', 'r_inv 0.75 < 1.00']);

    // A correctness bar below the general one must not loosen correctness below the general bar.
    const inverted = { minEachDimension: 1, minCorrectnessFidelity: 0, minRInv: 0 };
    expect(applyFilterPolicy({ ...perfect, correctness_fidelity: 0 }, 0, inverted).reasons).toEqual([
      'judge: correctness_fidelity 0 < 1',
    ]);
  });
});

describe('computeRInv', () => {
  it('is the share answered correctly, with unreadable answers wrong', () => {
    expect(
      computeRInv([
        { chosen: 'A', correct: 'A' },
        { chosen: 'B', correct: 'C' },
        { chosen: 'D', correct: 'D' },
        { chosen: null, correct: 'B' },
      ]),
    ).toBe(0.5);
    expect(computeRInv([{ chosen: 'C', correct: 'C' }])).toBe(1);
    expect(
      computeRInv([
        { chosen: 'A', correct: 'A' },
        { chosen: 'A', correct: 'A' },
        { chosen: 'B', correct: 'A' },
      ]),
    ).toBeCloseTo(2 / 3, 12);
  });

  it('refuses to define R_inv without quizzes', () => {
    expect(() => computeRInv([])).toThrow(/R_inv is undefined without quizzes/);
  });
});
