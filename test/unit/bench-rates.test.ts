import { describe, expect, it } from 'vitest';
import { ratesPerTenth } from '../../bench/pipeline-harness.ts';

describe('bench:scale problems/s per tenth', () => {
  it('times each tenth of the problems between its first and last close', () => {
    // 101 problems closing one per 100 ms, then 10x slower for the last tenth.
    const times = Array.from({ length: 91 }, (_, index) => index * 100);
    for (let index = 1; index <= 10; index++) times.push(9000 + index * 1000);
    const rates = ratesPerTenth(times);
    expect(rates).toHaveLength(10);
    expect(rates.slice(0, 9).every((rate) => Math.abs(rate - 10) < 1e-9)).toBe(true);
    expect(rates[9]).toBeCloseTo(1, 9);
  });

  it('gives fewer rates when there are fewer than ten intervals', () => {
    expect(ratesPerTenth([0, 1000, 2000])).toEqual([1, 1]);
    expect(ratesPerTenth([5])).toEqual([]);
  });
});
