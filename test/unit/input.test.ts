import { writeFile, chmod } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatInputError, invalidProblems, parseProblemsText, problemKey } from '../../domain/input.ts';
import { readProblemsFile } from '../../domain/read-input-file.ts';
import { useTemporaryDirectory } from '../helpers/temporary-directory.ts';

/** Problems written for these tests in the layouts of SciGenBench's data/scigen.json and data/seephys.json. */
const fixtures = new URL('../fixtures/scigenbench/', import.meta.url);

const quiz = { question: 'What is AB?', options: { A: '3', B: '4', C: '5', D: '6' }, correct_option: 'C' };

function jsonl(...records: unknown[]): string {
  return records.map((record) => JSON.stringify(record)).join('\n') + '\n';
}

function formatted(text: string, source = 'problems.jsonl'): string[] {
  return parseProblemsText(text, source).errors.map((error) => formatInputError(source, error));
}

describe('parseProblemsText, JSONL', () => {
  it('reads valid problems, converts answers and keeps unknown fields in extra', () => {
    const text = jsonl(
      {
        id: 'geo-1',
        question: 'A triangle has sides 3, 4, 5.',
        answer: 6,
        subject: 'Mathematics',
        source: 'textbook',
        tags: ['a'],
      },
      { id: 2, question: 'A ball falls.', caption: 'free fall', quizzes: [quiz] },
    );
    const result = parseProblemsText(`\n${text}\n   \n`, 'problems.jsonl');
    expect(result.errors).toEqual([]);
    expect(result.problems).toEqual([
      {
        id: 'geo-1',
        question: 'A triangle has sides 3, 4, 5.',
        answer: '6',
        subject: 'Mathematics',
        extra: { source: 'textbook', tags: ['a'] },
      },
      { id: 2, question: 'A ball falls.', caption: 'free fall', quizzes: [quiz], extra: {} },
    ]);
  });

  it('treats null optional fields and empty quiz lists as absent', () => {
    const result = parseProblemsText(
      jsonl({ id: 1, question: 'q', answer: null, subject: null, quizzes: [] }),
      'p.jsonl',
    );
    expect(result).toEqual({
      problems: [{ id: 1, question: 'q', extra: {} }],
      errors: [],
      sources: [{ line: 1, index: 0 }],
    });
  });

  it('reports a malformed line with its line number and keeps going', () => {
    const text = `${JSON.stringify({ id: 1, question: 'q' })}\n\n{"id": 2, "question": }\n${JSON.stringify({ id: 3, question: 'q' })}\n`;
    const result = parseProblemsText(text, 'bad.jsonl');
    expect(result.problems.map((problem) => problem.id)).toEqual([1, 3]);
    expect(result.errors).toHaveLength(1);
    expect(result.errors[0]).toMatchObject({ line: 3, index: 1, field: null });
    expect(formatInputError('bad.jsonl', result.errors[0]!)).toMatch(/^bad\.jsonl:3: problem \[1\]: malformed JSON: /);
  });

  it('names the missing question', () => {
    expect(
      formatted(jsonl({ id: 1, question: 'q' }, { id: 2, question: 'q' }, { id: 3 }), 'samples/bad.jsonl'),
    ).toEqual(['samples/bad.jsonl:3: problem [2] (id 3): field "question": required, must be a non-empty string']);
  });

  it('reports every bad field of a record and carries its id', () => {
    const result = parseProblemsText(
      jsonl({ id: 'x', question: '  ', subject: 5, elements: ['ok', 3], quizzes: [{ ...quiz, correct_option: 'F' }] }),
      'p.jsonl',
    );
    expect(result.problems).toEqual([]);
    expect(result.errors).toEqual([
      { line: 1, index: 0, field: 'question', message: 'must be a non-empty string, got an empty string', id: 'x' },
      { line: 1, index: 0, field: 'subject', message: 'must be a string, got number', id: 'x' },
      { line: 1, index: 0, field: 'elements[1]', message: 'must be a string, got number', id: 'x' },
    ]);
  });

  it('rejects bad ids and non-object lines', () => {
    expect(formatted(jsonl({ question: 'q' }, { id: '', question: 'q' }, { id: true, question: 'q' }, [1, 2]))).toEqual(
      [
        'problems.jsonl:1: problem [0]: field "id": required, must be a non-empty string or a finite number',
        'problems.jsonl:2: problem [1]: field "id": must be a non-empty string or a finite number, got an empty string',
        'problems.jsonl:3: problem [2]: field "id": must be a non-empty string or a finite number, got boolean',
        'problems.jsonl:4: problem [3]: expected a JSON object, got array',
      ],
    );
  });

  it('names both lines of a duplicate id', () => {
    const text = jsonl({ id: 'a', question: 'q' }, { id: 'b', question: 'q' }, { id: 'a', question: 'again' });
    const result = parseProblemsText(text, 'p.jsonl');
    expect(result.problems.map((problem) => problem.id)).toEqual(['a', 'b']);
    expect(result.errors.map((error) => formatInputError('p.jsonl', error))).toEqual([
      'p.jsonl:3: problem [2] (id "a"): field "id": duplicate id "a", first seen on line 1',
    ]);
  });

  it('treats ids that share a key as duplicates', () => {
    expect(formatted(jsonl({ id: 7, question: 'q' }, { id: '7', question: 'q' }))).toEqual([
      'problems.jsonl:2: problem [1] (id "7"): field "id": duplicate id "7", first seen on line 1',
    ]);
  });

  it('reports empty input once', () => {
    expect(formatted('', 'empty.jsonl')).toEqual(['empty.jsonl: no problems found']);
    expect(formatted(' \n\n \n', 'empty.jsonl')).toEqual(['empty.jsonl: no problems found']);
    expect(formatted('[]', 'empty.json')).toEqual(['empty.json: no problems found']);
  });

  it('hints at the layouts when a .json file is neither JSONL nor an array', () => {
    expect(formatted('{\n  "id": 1,\n  "question": "q"\n}\n', 'one.json')[0]).toMatch(
      /^one\.json:1: problem \[0\]: malformed JSON: .*\(expected one JSON object per line, or a JSON array of problems\)$/,
    );
  });
});

describe('parseProblemsText, reference images', () => {
  it("takes reference_image, or SciGenBench's image, as a path or a file:// or s3:// URI", () => {
    const result = parseProblemsText(
      jsonl(
        { id: 1, question: 'q', reference_image: 'images/1.png' },
        { id: 2, question: 'q', image: 's3://bench/images/2.png' },
        { id: 3, question: 'q', reference_image: 'file:///data/3.png', image: 'ignored.png' },
        { id: 4, question: 'q', image: '' },
      ),
      'p.jsonl',
    );
    expect(result.errors).toEqual([]);
    expect(result.problems.map((problem) => problem.reference_image)).toEqual([
      'images/1.png',
      's3://bench/images/2.png',
      'file:///data/3.png',
      undefined,
    ]);
    expect(
      result.problems.every((problem) => !('image' in problem.extra) && !('reference_image' in problem.extra)),
    ).toBe(true);
    expect(result.sources).toEqual([
      { line: 1, index: 0, referenceField: 'reference_image' },
      { line: 2, index: 1, referenceField: 'image' },
      { line: 3, index: 2, referenceField: 'reference_image' },
      { line: 4, index: 3 },
    ]);
  });

  it('names the line and field of a bad reference', () => {
    expect(
      formatted(
        jsonl(
          { id: 1, question: 'q', reference_image: 42 },
          { id: 2, question: 'q', image: 'https://example.invalid/2.png' },
          { id: 3, question: 'q', reference_image: ' ' },
        ),
      ),
    ).toEqual([
      'problems.jsonl:1: problem [0] (id 1): field "reference_image": must be a path or a file:// or s3:// URI, got number',
      'problems.jsonl:2: problem [1] (id 2): field "image": "https://" is not supported: use a path relative to the input file, or a file:// or s3:// URI',
      'problems.jsonl:3: problem [2] (id 3): field "reference_image": must be a path or a file:// or s3:// URI, got an empty string',
    ]);
  });
});

describe('parseProblemsText, JSON array', () => {
  const array = `\uFEFF[
  {
    "id": "sci/1",
    "question": "Draw the circuit.",
    "quizzes": [{"question": "How many resistors?", "options": ["1", "2", "3", "4"], "correct_option": "b"}]
  },
  {"id": 2, "question": "has a \\"[\\" in it, {"},
  {
    "id": 3
  }
]`;

  it('normalizes options given as a list and lowercase letters', () => {
    const result = parseProblemsText(array, 'bench.json');
    expect(result.problems).toEqual([
      {
        id: 'sci/1',
        question: 'Draw the circuit.',
        quizzes: [
          { question: 'How many resistors?', options: { A: '1', B: '2', C: '3', D: '4' }, correct_option: 'B' },
        ],
        extra: {},
      },
      { id: 2, question: 'has a "[" in it, {', extra: {} },
    ]);
  });

  it('reports element errors with the line where the element starts', () => {
    expect(formatted(array, 'bench.json')).toEqual([
      'bench.json:8: problem [2] (id 3): field "question": required, must be a non-empty string',
    ]);
  });

  it('letters option lists of any length, and drops a quiz with a one-option list', () => {
    const text = JSON.stringify([
      {
        id: 1,
        question: 'q',
        quizzes: [
          { ...quiz, options: ['1', '2', '3'] },
          { ...quiz, options: ['1'], correct_option: 'A' },
        ],
      },
    ]);
    const result = parseProblemsText(text, 'a.json');
    expect(result.errors).toEqual([]);
    expect(result.problems[0]!.quizzes).toEqual([
      { question: 'What is AB?', options: { A: '1', B: '2', C: '3' }, correct_option: 'C' },
    ]);
    expect(result.problems[0]!.dropped_quizzes).toEqual([
      { index: 1, reason: 'options: has 1 option(s), expected at least two' },
    ]);
  });

  it('reports a malformed array once, with the line when the engine says where', () => {
    const errors = parseProblemsText('[\n  {"id": 1, "question": "q"},\n  {"id": 2,, }\n]', 'broken.json').errors;
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ index: -1, field: null });
    expect(errors[0]!.message).toMatch(/^malformed JSON array: /);
    if (errors[0]!.line !== null) expect(errors[0]!.line).toBe(3);
  });

  it('falls back to the index when no line is known', () => {
    expect(formatInputError('a.json', { line: null, index: 4, field: 'question', message: 'required' })).toBe(
      'a.json: problem [4]: field "question": required',
    );
  });
});

describe("SciGenBench's published layouts", () => {
  it('loads the scigen.json layout as it is: unusable quizzes dropped with their reasons, the problems kept', async () => {
    const parsed = await readProblemsFile(new URL('scigen-layout.json', fixtures).pathname);
    expect(parsed.errors).toEqual([]);
    expect(parsed.problems.map((problem) => problem.id)).toEqual(['wi-lens-0001', 'wi-cell-0002', 'wi-graph-0003']);
    const [lens, cell, graph] = parsed.problems;

    expect(lens!.image_type).toBe('Physics - Optical Ray');
    expect(lens!.elements).toHaveLength(3);
    expect(lens!.multimodal_question).toBe('Using the distances marked in the figure, find where the image forms.');
    expect(lens!.quizzes).toEqual([
      {
        question: 'How far in front of the lens is the object placed?',
        options: { A: '10 cm', B: '15 cm', C: '20 cm', D: '30 cm' },
        correct_option: 'D',
        evidence_snippet: 'stands 30 cm in front of a thin converging lens',
      },
      {
        question: 'Which kind of lens is shown?',
        options: { A: 'diverging', B: 'plano-concave', C: 'meniscus', D: 'cylindrical', E: 'converging' },
        correct_option: 'E',
        evidence_snippet: 'a thin converging lens',
      },
    ]);
    expect(lens!.dropped_quizzes).toEqual([
      { index: 2, reason: 'options: has keys "0", expected single uppercase letters (A, B, C, …)' },
      { index: 3, reason: 'correct_option: is "D", expected one of A, B, C, E' },
    ]);

    expect(cell!.quizzes?.map((quiz) => quiz.correct_option)).toEqual(['C']);
    expect(cell!.dropped_quizzes).toEqual([
      { index: 0, reason: 'options: has keys "50 mm long", expected single uppercase letters (A, B, C, …)' },
    ]);
    expect(cell!).not.toHaveProperty('multimodal_question');

    // No usable quiz left: the problem stays, and the build generates its quizzes.
    expect(graph!.quizzes).toBeUndefined();
    expect(graph!.dropped_quizzes).toEqual([
      { index: 0, reason: 'question: must be a non-empty string' },
      { index: 1, reason: 'options: has keys "1", "2", "3", "4", expected single uppercase letters (A, B, C, …)' },
    ]);

    // First-class fields, not carried under extra.
    for (const problem of parsed.problems) expect(problem.extra).toEqual({});
  });

  it('loads the seephys.json layout as it is: numeric ids, an empty image_type', async () => {
    const parsed = await readProblemsFile(new URL('seephys-layout.json', fixtures).pathname);
    expect(parsed.errors).toEqual([]);
    expect(parsed.problems.map((problem) => problem.id)).toEqual([4101, 4102]);
    expect(parsed.problems.map((problem) => problem.image_type)).toEqual([undefined, undefined]);
    expect(parsed.problems[0]!.quizzes).toHaveLength(1);
    expect(parsed.problems[0]!.dropped_quizzes).toEqual([
      { index: 1, reason: 'options: has keys "0", expected single uppercase letters (A, B, C, …)' },
    ]);
    expect(parsed.problems[1]!).not.toHaveProperty('dropped_quizzes');
    expect(parsed.sources.map((source) => source.line)).toEqual([2, 23]);
  });

  it('checks elements and multimodal_question', () => {
    const result = parseProblemsText(
      jsonl(
        { id: 1, question: 'q', elements: [], multimodal_question: '' },
        { id: 2, question: 'q', elements: 'a wire', multimodal_question: 7 },
      ),
      'p.jsonl',
    );
    expect(result.problems).toEqual([{ id: 1, question: 'q', extra: {} }]);
    expect(result.errors.map((error) => formatInputError('p.jsonl', error))).toEqual([
      'p.jsonl:2: problem [1] (id 2): field "multimodal_question": must be a string, got number',
      'p.jsonl:2: problem [1] (id 2): field "elements": must be an array of strings, got string',
    ]);
  });

  it('keeps a problem whose quizzes field is not a list out, naming it', () => {
    expect(formatted(jsonl({ id: 'z', question: 'q', quizzes: { A: 'x' } }))).toEqual([
      'problems.jsonl:1: problem [0] (id "z"): field "quizzes": must be an array of quizzes, got object',
    ]);
  });
});

describe('invalidProblems', () => {
  it('gives one entry per invalid problem with all its reasons, and names problems without an id by line', () => {
    const text = jsonl(
      { id: 'ok', question: 'q' },
      { id: 'two-faults', question: '', elements: [1] },
      { question: 'q' },
      { id: 'ok', question: 'again' },
    );
    const { errors } = parseProblemsText(text, 'p.jsonl');
    expect(invalidProblems('p.jsonl', errors)).toEqual([
      {
        id: 'two-faults',
        reasons: [
          'p.jsonl:2: problem [1] (id "two-faults"): field "question": must be a non-empty string, got an empty string',
          'p.jsonl:2: problem [1] (id "two-faults"): field "elements[0]": must be a string, got number',
        ],
      },
      {
        id: 'line-3',
        reasons: ['p.jsonl:3: problem [2]: field "id": required, must be a non-empty string or a finite number'],
      },
      {
        id: 'ok',
        reasons: ['p.jsonl:4: problem [3] (id "ok"): field "id": duplicate id "ok", first seen on line 1'],
      },
    ]);
  });

  it('leaves out errors about the input as a whole, and names by position when no line is known', () => {
    expect(
      invalidProblems('a.json', [
        { line: null, index: -1, field: null, message: 'no problems found' },
        { line: null, index: 4, field: 'question', message: 'required' },
      ]),
    ).toEqual([{ id: 'line-5', reasons: ['a.json: problem [4]: field "question": required'] }]);
  });
});

describe('problemKey', () => {
  it('keeps simple ids readable', () => {
    expect(problemKey('geo-1')).toBe('geo-1');
    expect(problemKey(42)).toBe('42');
    expect(problemKey('v1.2_final')).toBe('v1.2_final');
  });

  it('replaces unsafe characters and appends a stable hash', () => {
    const key = problemKey('math/geometry 1');
    expect(key).toMatch(/^math_geometry_1-[0-9a-f]{8}$/);
    expect(problemKey('math/geometry 1')).toBe(key);
    expect(problemKey('math geometry/1')).not.toBe(key);
    expect(problemKey('math_geometry_1')).toBe('math_geometry_1');
  });

  it('never yields a path traversal or an overlong name', () => {
    expect(problemKey('..')).toMatch(/^\.\.-[0-9a-f]{8}$/);
    expect(problemKey('.')).toMatch(/^\.-[0-9a-f]{8}$/);
    const long = problemKey('x'.repeat(500));
    expect(long.length).toBeLessThanOrEqual(89);
    expect(long).not.toBe(problemKey('x'.repeat(501)));
  });
});

describe('readProblemsFile', () => {
  const directory = useTemporaryDirectory('input');

  it('reads and validates a file', async () => {
    const path = join(directory.path, 'ok.jsonl');
    await writeFile(path, jsonl({ id: 1, question: 'q' }));
    expect(await readProblemsFile(path)).toEqual({
      problems: [{ id: 1, question: 'q', extra: {} }],
      errors: [],
      sources: [{ line: 1, index: 0 }],
    });
  });

  it('explains a missing file and a directory', async () => {
    const missing = join(directory.path, 'missing.jsonl');
    const [missingError] = (await readProblemsFile(missing)).errors;
    expect(formatInputError(missing, missingError!)).toBe(`${missing}: no such file`);
    const [directoryError] = (await readProblemsFile(directory.path)).errors;
    expect(directoryError!.message).toBe('is a directory, expected a JSONL or JSON file');
  });

  it.skipIf(process.getuid?.() === 0)('explains an unreadable file', async () => {
    const path = join(directory.path, 'secret.jsonl');
    await writeFile(path, jsonl({ id: 1, question: 'q' }));
    await chmod(path, 0o000);
    expect((await readProblemsFile(path)).errors[0]!.message).toBe('permission denied');
  });
});
