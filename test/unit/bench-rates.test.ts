import { describe, expect, it } from 'vitest';
import { heapTrend, ratesPerTenth, type HeapSample } from '../../bench/pipeline-harness.ts';

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

describe('bench:scale live-heap trend', () => {
  const MB = 2 ** 20;
  /** 101 samples one second apart, the heap at `heapMb(index)`. */
  const samples = (heapMb: (index: number) => number): HeapSample[] =>
    Array.from({ length: 101 }, (_, index) => ({
      ms: 1_000_000 + index * 1000,
      heapUsedBytes: heapMb(index) * MB,
    }));

  it('reads the growth per thousand problems between the second and the last tenth', () => {
    // 100 MB growing 1 MB per sample: median 115 MB in [10 s, 20 s], 195 MB in [90 s, 100 s].
    const trend = heapTrend(
      samples((index) => 100 + index),
      8000,
    )!;
    expect(trend.earlyMegabytes).toBeCloseTo(115, 6);
    expect(trend.lateMegabytes).toBeCloseTo(195, 6);
    // 80 MB over the 6400 problems of 0.8 of the build: 12.8 MB per 1000.
    expect(trend.growthKilobytesPerThousandProblems).toBeCloseTo((80 * 1024) / 6.4, 6);
  });

  it('is flat for a flat heap and says nothing from a handful of samples', () => {
    expect(
      heapTrend(
        samples(() => 90),
        1000,
      )!.growthKilobytesPerThousandProblems,
    ).toBe(0);
    expect(heapTrend(samples(() => 90).slice(0, 10), 1000)).toBeNull();
  });
});
