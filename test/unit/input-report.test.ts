import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { parseProblemsText } from '../../domain/input.ts';
import {
  dropReasonGroup,
  errorLines,
  formatInputReport,
  formatInputReportBrief,
  summarizeInput,
  type ReferenceCounts,
} from '../../domain/input-report.ts';
import { validateQuiz } from '../../domain/parse-model-output.ts';
import { MAX_PROBLEM_BYTES } from '../../domain/staged-pages.ts';

/** Problems written for these tests in the layouts of SciGenBench's data/scigen.json and data/seephys.json. */
const fixtures = new URL('../fixtures/validate/', import.meta.url);
const noReferences: ReferenceCounts = {
  folder: null,
  folder_images: 0,
  named_by_problems: 0,
  from_folder: 0,
  missing: [],
};

async function reportOf(name: string, options: { pageSize?: number; references?: ReferenceCounts } = {}) {
  const text = await readFile(new URL(name, fixtures), 'utf8');
  return summarizeInput(parseProblemsText(text, name), {
    input: name,
    pageSize: options.pageSize ?? 500,
    references: options.references ?? noReferences,
  });
}

describe('summarizeInput', () => {
  it('counts the scigen.json layout: quizzes usable and dropped by reason, fields, taxonomy groups', async () => {
    const report = await reportOf('scigen.json');
    expect(report.problems).toEqual({ total: 5, valid: 5, invalid: 0 });
    expect(report.errors).toEqual([]);
    // The incline keeps its A–E quiz and its quiz with options as a list; benzene and the dice lose both quizzes.
    expect(report.quizzes).toEqual({
      usable: 5,
      dropped: 4,
      dropped_by_reason: [
        { reason: 'option keys are not single letters', count: 2 },
        { reason: 'correct option not among the options', count: 1 },
        { reason: 'no question', count: 1 },
      ],
      problems_with_quizzes: 3,
      problems_without_quizzes: 2,
      problems_with_dropped: 2,
    });
    expect(report.fields).toEqual({ answer: 5, multimodal_question: 4, elements: 5 });
    expect(report.taxonomy).toEqual({
      subjects: { Math: 1, Physics: 3, Chemistry: 1 },
      image_types: {
        'Math - Set & Probability': 1,
        'Physics - Mechanical': 1,
        'Physics - Astronomical': 1,
        'Chemistry - Molecular Structure': 1,
        'Physics - Nuclear': 1,
      },
      unlisted_image_types: ['Physics - Nuclear'],
      without_subject: 0,
      without_image_type: 0,
    });
    expect(report.staging).toMatchObject({ pages: 1, page_size: 500, max_problem_bytes: MAX_PROBLEM_BYTES });
    expect(report.staging.largest_problem_bytes).toBeGreaterThan(500);
  });

  it('counts the seephys.json layout: numeric ids, empty image types, no multimodal question', async () => {
    const references: ReferenceCounts = {
      folder: '/data/seephys_images',
      folder_images: 4,
      named_by_problems: 1,
      from_folder: 2,
      missing: [4104],
    };
    const report = await reportOf('seephys.json', { references });
    expect(report.problems).toEqual({ total: 4, valid: 4, invalid: 0 });
    expect(report.quizzes).toMatchObject({ usable: 4, dropped: 1, problems_with_quizzes: 4 });
    expect(report.fields).toEqual({ answer: 4, multimodal_question: 0, elements: 4 });
    expect(report.taxonomy).toEqual({
      subjects: {},
      image_types: {},
      unlisted_image_types: [],
      without_subject: 4,
      without_image_type: 4,
    });
    expect(report.references).toBe(references);
  });

  it('counts each invalid problem once, however many of its fields are wrong, and keeps every error', async () => {
    const report = await reportOf('invalid.jsonl');
    expect(report.problems).toEqual({ total: 3, valid: 1, invalid: 2 });
    expect(report.errors).toEqual([
      {
        index: 1,
        line: 2,
        id: 'no-question',
        field: 'question',
        message: 'must be a non-empty string, got an empty string',
      },
      { index: 2, line: 3, id: 'bad-quizzes', field: 'elements[1]', message: 'must be a string, got number' },
      {
        index: 2,
        line: 3,
        id: 'bad-quizzes',
        field: 'quizzes',
        message: 'must be an array of quizzes, got object',
      },
    ]);
  });

  it('reports an unreadable file as an error about the file as a whole, with no problems', () => {
    const report = summarizeInput(parseProblemsText('[{"id": 1,', 'broken.json'), {
      input: 'broken.json',
      pageSize: 500,
      references: noReferences,
    });
    expect(report.problems).toEqual({ total: 0, valid: 0, invalid: 0 });
    expect(report.errors).toHaveLength(1);
    expect(report.errors[0]).toMatchObject({ index: -1, id: null, field: null });
    expect(formatInputReport(report)[0]).toBe(
      'broken.json: 0 problems, 0 valid, 0 invalid; 1 error about the file as a whole',
    );
  });

  it('pages the problems as the build stages them: by count, and before a page passes 256 KiB', () => {
    const long = 'x'.repeat(100 * 1024);
    const text = Array.from({ length: 7 }, (_, index) => JSON.stringify({ id: index, question: long })).join('\n');
    const parsed = parseProblemsText(text, 'long.jsonl');
    const byBytes = summarizeInput(parsed, { input: 'long.jsonl', pageSize: 500, references: noReferences });
    // Two 100 KiB problems fit under the 256 KiB budget, a third does not: pages of 2, 2, 2, 1.
    expect(byBytes.staging.pages).toBe(4);
    const byCount = summarizeInput(parsed, { input: 'long.jsonl', pageSize: 1, references: noReferences });
    expect(byCount.staging.pages).toBe(7);
    expect(byCount.staging.largest_problem_bytes).toBeGreaterThan(100 * 1024);
  });

  it('turns a problem too large to pass through Temporal into an error naming its size', () => {
    const text = `${JSON.stringify({ id: 'big', question: 'y'.repeat(MAX_PROBLEM_BYTES) })}\n`;
    const report = summarizeInput(parseProblemsText(text, 'big.jsonl'), {
      input: 'big.jsonl',
      pageSize: 500,
      references: noReferences,
    });
    expect(report.problems).toEqual({ total: 1, valid: 0, invalid: 1 });
    expect(report.errors[0]!.message).toMatch(
      /^the problem is 256\.0 KiB serialized, over the 256 KiB a problem may be/,
    );
  });
});

describe('dropReasonGroup', () => {
  const reasonOf = (quiz: unknown): string => {
    const check = validateQuiz(quiz);
    if (check.ok) throw new Error('expected the quiz to be unusable');
    return check.reason;
  };
  const quiz = { question: 'Which?', options: { A: '1', B: '2', C: '3', D: '4' }, correct_option: 'A' };

  it('groups every way validateQuiz drops an input quiz without its particulars', () => {
    const cases: [unknown, string][] = [
      [{ ...quiz, question: '' }, 'no question'],
      [{ ...quiz, question: undefined }, 'no question'],
      [{ ...quiz, options: { 0: '1', A: '2', B: '3' } }, 'option keys are not single letters'],
      [{ ...quiz, options: { A: '1', B: '2', 'two cells': '3' } }, 'option keys are not single letters'],
      [{ ...quiz, options: { A: '1' } }, 'fewer than two options'],
      [{ ...quiz, options: 'A or B' }, 'options are neither an object nor a list'],
      [{ ...quiz, options: { A: '1', B: '1' } }, 'two options are the same'],
      [{ ...quiz, options: { A: '1', B: ' ' } }, 'an option is empty'],
      [{ ...quiz, correct_option: 'E' }, 'correct option not among the options'],
      [{ ...quiz, correct_option: undefined }, 'correct option not among the options'],
      [{ ...quiz, evidence_snippet: 3 }, 'evidence_snippet is not a string'],
      ['a quiz', 'the quiz is not an object'],
    ];
    for (const [input, group] of cases) expect(dropReasonGroup(reasonOf(input)), reasonOf(input)).toBe(group);
  });

  it('keeps a reason it does not know as it is', () => {
    expect(dropReasonGroup('asks the same question as an earlier quiz')).toBe(
      'asks the same question as an earlier quiz',
    );
  });
});

describe('formatInputReport', () => {
  it('prints counts, dropped reasons, references with missing ids, taxonomy per subject and staging', async () => {
    const report = await reportOf('seephys.json', {
      references: {
        folder: '/data/seephys_images',
        folder_images: 4,
        named_by_problems: 1,
        from_folder: 2,
        missing: [4104],
      },
    });
    expect(formatInputReport(report)).toEqual([
      'seephys.json: 4 problems, 4 valid, 0 invalid',
      'quizzes: 4 usable, 1 dropped (from 1 problem)',
      '  1 × option keys are not single letters',
      '  usable quizzes in 4 problems; 0 without any get generated ones',
      'fields: 4 with answer, 0 with multimodal_question, 4 with elements',
      'references: 3 found (1 named by the problems, 2 from /data/seephys_images, which holds 4 images), 1 missing',
      '  no image for 4104',
      'taxonomy: 0 subjects, 0 image types; 4 without a subject, 4 without an image type (the classify step fills them)',
      expect.stringMatching(
        /^staging: 1 page of at most 500 problems; largest problem 0\.\d KiB \(a problem may be 256\.0 KiB\)$/,
      ),
    ]);
  });

  it('lists image types under their subject and names those outside the benchmark', async () => {
    const lines = formatInputReport(await reportOf('scigen.json'));
    expect(lines).toContain('  Physics 3: Mechanical 1, Astronomical 1, Nuclear 1');
    expect(lines).toContain("  not among the benchmark's 25 image types: Physics - Nuclear");
    expect(lines).toContain('references: 0 named by the problems (reference_image / image)');
  });

  it('lists the first errors with file, line, problem, id and field, then how many more', async () => {
    const report = await reportOf('invalid.jsonl');
    expect(errorLines(report, 2)).toEqual([
      'errors (the first 2 of 3):',
      '  invalid.jsonl:2: problem [1] (id "no-question"): field "question": must be a non-empty string, got an empty string',
      '  invalid.jsonl:3: problem [2] (id "bad-quizzes"): field "elements[1]": must be a string, got number',
      '  … and 1 more',
    ]);
    expect(formatInputReport(report).at(-1)).toBe(
      '  invalid.jsonl:3: problem [2] (id "bad-quizzes"): field "quizzes": must be an array of quizzes, got object',
    );
  });

  it('gives the build a brief form, with the references line only when there are references', async () => {
    expect(formatInputReportBrief(await reportOf('scigen.json'))).toEqual([
      'scigen.json: 5 problems, 5 valid, 0 invalid; quizzes 5 usable, 4 dropped; 5 image types, 0 problems without one',
    ]);
    const missing = Array.from({ length: 7 }, (_, index) => 5000 + index);
    const brief = formatInputReportBrief(
      await reportOf('seephys.json', {
        references: { folder: 's3://bench/seephys', folder_images: 0, named_by_problems: 0, from_folder: 0, missing },
      }),
    );
    expect(brief.slice(1)).toEqual([
      'references: 0 found (0 named by the problems, 0 from s3://bench/seephys, which holds 0 images), 7 missing',
      '  no image for 5000, 5001, 5002, 5003, 5004, … and 2 more',
    ]);
  });
});
