import { describe, expect, it } from 'vitest';
import { formatInputError, invalidProblems, parseProblemsText } from '../../domain/input.ts';
import { cutPages, locateProblem, MAX_PROBLEM_BYTES, utf8Bytes } from '../../domain/staged-pages.ts';

describe('staged pages', () => {
  it('close at the problem count or before the byte budget, never empty', () => {
    expect(cutPages([10, 10, 10, 10, 10], { maxProblems: 2, maxBytes: 1000 })).toEqual([2, 2, 1]);
    expect(cutPages([40, 40, 40, 10, 90], { maxProblems: 100, maxBytes: 100 })).toEqual([2, 2, 1]);
    // An entry bigger than the budget gets a page of its own.
    expect(cutPages([10, 500, 10], { maxProblems: 100, maxBytes: 100 })).toEqual([1, 1, 1]);
    expect(cutPages([], { maxProblems: 2, maxBytes: 100 })).toEqual([]);
  });

  it('locate a problem by page counts, or by page size for a build staged before them', () => {
    const layout = { pageSize: 4, pageCounts: [4, 2, 3] };
    expect(locateProblem(0, layout, 9)).toEqual({ page: 0, first: 0, count: 4 });
    expect(locateProblem(5, layout, 9)).toEqual({ page: 1, first: 4, count: 2 });
    expect(locateProblem(6, layout, 9)).toEqual({ page: 2, first: 6, count: 3 });
    expect(locateProblem(5, { pageSize: 4 }, 9)).toEqual({ page: 1, first: 4, count: 4 });
    expect(locateProblem(8, { pageSize: 4 }, 9)).toEqual({ page: 2, first: 8, count: 1 });
  });

  it('count UTF-8 bytes, as the payload does', () => {
    expect(utf8Bytes('aé€')).toBe(1 + 2 + 3);
  });
});

describe('a problem too large to pass through Temporal', () => {
  const text = [
    JSON.stringify({ id: 'small', question: 'Draw a triangle.' }),
    JSON.stringify({ id: 'huge', question: `Draw this: ${'x'.repeat(300 * 1024)}` }),
  ].join('\n');

  it('is an input error naming its line, position, id and size', () => {
    const parsed = parseProblemsText(text, 'problems.jsonl');
    expect(parsed.problems.map((problem) => problem.id)).toEqual(['small']);
    expect(parsed.errors.map((error) => formatInputError('problems.jsonl', error))).toEqual([
      expect.stringMatching(
        /^problems\.jsonl:2: problem \[1\] \(id "huge"\): the problem is 300\.\d KiB serialized, over the 256 KiB a problem may be/,
      ),
    ]);
    expect(invalidProblems('problems.jsonl', parsed.errors).map((invalid) => invalid.id)).toEqual(['huge']);
  });

  it('is accepted just under the limit', () => {
    const question = 'x'.repeat(MAX_PROBLEM_BYTES - 100);
    expect(parseProblemsText(JSON.stringify({ id: 'a', question }), 'problems.jsonl').errors).toEqual([]);
  });
});
