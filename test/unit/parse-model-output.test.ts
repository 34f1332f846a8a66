import { describe, expect, it } from 'vitest';
import {
  extractJson,
  parseAnswerLetter,
  parseClassification,
  parseCode,
  parseGrade,
  parseJudgement,
  parsePlan,
  parseQuizzes,
  validateQuiz,
} from '../../domain/parse-model-output.ts';

const fullScores = {
  Correctness_Fidelity: 2,
  Layout_Precision: 1,
  Readability_Occlusion: 2,
  Scientific_Plausibility: 2,
  Expressiveness_Richness: 0,
};

function reasonOf(result: { ok: boolean; reason?: string }): string | undefined {
  return result.ok ? undefined : result.reason;
}

describe('extractJson', () => {
  it('reads bare JSON', () => {
    expect(extractJson('  {"a": 1}\n')).toEqual({ ok: true, value: { a: 1 } });
  });

  it('reads a ```json fenced block and a plain fence', () => {
    expect(extractJson('Here you go:\n```json\n{"a": 1}\n```\nDone.')).toEqual({ ok: true, value: { a: 1 } });
    expect(extractJson('```\n{"b": [1, 2]}\n```')).toEqual({ ok: true, value: { b: [1, 2] } });
  });

  it('finds JSON surrounded by prose', () => {
    expect(extractJson('Sure! {"a": "x"} Hope that helps.')).toEqual({ ok: true, value: { a: 'x' } });
  });

  it('takes the last top-level object, not a nested one', () => {
    const text = 'First thought {"draft": 1}. Final: {"outer": {"inner": 2}, "n": 3}';
    expect(extractJson(text)).toEqual({ ok: true, value: { outer: { inner: 2 }, n: 3 } });
  });

  it('ignores braces inside strings and stray braces in prose', () => {
    const text = 'The set {1, 2 is unclosed; answer: {"label": "a } and { b", "quote": "\\"}"}';
    expect(extractJson(text)).toEqual({ ok: true, value: { label: 'a } and { b', quote: '"}' } });
  });

  it('fails on garbage and on arrays', () => {
    expect(extractJson('no json here')).toEqual({ ok: false, reason: 'answer has no JSON object' });
    expect(extractJson('{not: json}').ok).toBe(false);
    expect(extractJson('[1, 2]').ok).toBe(false);
  });
});

describe('parseClassification', () => {
  it('reads "Mathematics" as the benchmark\'s "Math" and normalizes the case of subject and image type', () => {
    const result = parseClassification(
      '```json\n{"visualizable": true, "reason": "has a triangle", "subject": "mathematics", "image_type": "math - plane geometric"}\n```',
    );
    expect(result).toEqual({
      ok: true,
      value: { visualizable: true, reason: 'has a triangle', subject: 'Math', image_type: 'Math - Plane Geometric' },
    });
  });

  it('rejects an unknown subject, an image type outside the taxonomy and a missing field', () => {
    expect(
      reasonOf(
        parseClassification('{"visualizable": true, "reason": "", "subject": "Astrology", "image_type": "chart"}'),
      ),
    ).toMatch(
      /^classify answer field subject: is "Astrology", expected one of Math, Physics, Chemistry, Biology, Universal$/,
    );
    expect(
      reasonOf(parseClassification('{"visualizable": false, "reason": "r", "subject": "Physics", "image_type": "  "}')),
    ).toMatch(/^classify answer field image_type: is "  ", expected one of Math - Plane Geometric, /);
    expect(
      reasonOf(
        parseClassification('{"visualizable": true, "reason": "r", "subject": "Math", "image_type": "Function Plot"}'),
      ),
    ).toMatch(/^classify answer field image_type: is "Function Plot", expected one of .*Universal - Exp\. Setup$/);
    expect(reasonOf(parseClassification('{"reason": "r", "subject": "Physics", "image_type": "optics"}'))).toBe(
      'classify answer field visualizable: is required',
    );
    expect(reasonOf(parseClassification('I cannot help.'))).toBe('classify answer has no JSON object');
  });
});

describe('parsePlan', () => {
  it('accepts empty optional lists', () => {
    expect(parsePlan('{"content": ["triangle ABC"], "layout": [], "labels": [], "constraints": []}')).toEqual({
      ok: true,
      value: { content: ['triangle ABC'], layout: [], labels: [], constraints: [] },
    });
  });

  it('requires content and string items', () => {
    expect(reasonOf(parsePlan('{"content": [], "layout": [], "labels": [], "constraints": []}'))).toBe(
      'plan answer field content: must name at least one item',
    );
    expect(reasonOf(parsePlan('{"content": ["a"], "layout": [3], "labels": [], "constraints": []}'))).toBe(
      'plan answer field layout[0]: must be a non-empty string',
    );
    expect(reasonOf(parsePlan('{"content": ["a"], "layout": [], "labels": []}'))).toBe(
      'plan answer field constraints: is required',
    );
  });
});

describe('parseCode', () => {
  const script = 'import matplotlib\nmatplotlib.use("Agg")\nimport matplotlib.pyplot as plt\nplt.plot([0, 1])\n';

  it('takes the one python block', () => {
    expect(parseCode(`Here is the script:\n\n\`\`\`python\n${script}\`\`\`\nIt draws a line.`)).toEqual({
      ok: true,
      value: script,
    });
    expect(parseCode(`\`\`\`py\nfrom matplotlib import pyplot as plt\n\`\`\``)).toEqual({
      ok: true,
      value: 'from matplotlib import pyplot as plt\n',
    });
  });

  it('reads CRLF answers', () => {
    const result = parseCode('Script:\r\n```python\r\nimport matplotlib.pyplot as plt\r\n```\r\n');
    expect(result.ok && result.value).toBe('import matplotlib.pyplot as plt\n');
    expect(extractJson('```json\r\n{"a": 1}\r\n```\r\n')).toEqual({ ok: true, value: { a: 1 } });
  });

  it('ignores non-python blocks next to it', () => {
    expect(parseCode(`\`\`\`bash\npip install matplotlib\n\`\`\`\n\`\`\`python\n${script}\`\`\``)).toEqual({
      ok: true,
      value: script,
    });
  });

  it('rejects several python blocks', () => {
    expect(reasonOf(parseCode(`\`\`\`python\n${script}\`\`\`\nand\n\`\`\`python\n${script}\`\`\``))).toBe(
      'code answer has 2 python blocks, expected exactly one',
    );
  });

  it('rejects bare code, untagged fences and cut-off blocks', () => {
    expect(reasonOf(parseCode(script))).toBe('code answer has no fenced python block');
    expect(reasonOf(parseCode(`\`\`\`\n${script}\`\`\``))).toBe('code answer has no fenced python block');
    expect(reasonOf(parseCode(`\`\`\`python\n${script}`))).toBe(
      'code answer has an unclosed python block (output cut off?)',
    );
  });

  it('rejects scripts without matplotlib', () => {
    expect(reasonOf(parseCode('```python\nprint("hello")\n```'))).toBe('code answer script does not import matplotlib');
    expect(reasonOf(parseCode('```python\n# import matplotlib\nprint(1)\n```'))).toBe(
      'code answer script does not import matplotlib',
    );
  });
});

describe('parseJudgement', () => {
  it('reads bare JSON with no reasoning', () => {
    expect(parseJudgement(JSON.stringify(fullScores))).toEqual({
      ok: true,
      value: {
        scores: {
          correctness_fidelity: 2,
          layout_precision: 1,
          readability_occlusion: 2,
          scientific_plausibility: 2,
          expressiveness_richness: 0,
        },
        reasoning: '',
        dimension_reasoning: {},
      },
    });
  });

  it('keeps the reasoning written before fenced JSON', () => {
    const text = `The triangle is right but labels overlap {slightly}.\n\n\`\`\`json\n${JSON.stringify(fullScores, null, 2)}\n\`\`\`\n`;
    const result = parseJudgement(text);
    expect(result.ok && result.value.reasoning).toBe('The triangle is right but labels overlap {slightly}.');
  });

  it('keeps the reasoning written before bare JSON in prose', () => {
    const result = parseJudgement(`Looks good overall. ${JSON.stringify(fullScores)}`);
    expect(result.ok && result.value.reasoning).toBe('Looks good overall.');
  });

  it('accepts numeric strings, 2.0 and case-insensitive keys, and keeps per-dimension reasoning', () => {
    const result = parseJudgement(
      '{"correctness_fidelity": "2", "LAYOUT_PRECISION": 2.0, "Readability_Occlusion": 1, "scientific plausibility": 0, ' +
        '"ExpressivenessRichness": 1, "Layout_Precision_reasoning": "aligned"}',
    );
    expect(result).toEqual({
      ok: true,
      value: {
        scores: {
          correctness_fidelity: 2,
          layout_precision: 2,
          readability_occlusion: 1,
          scientific_plausibility: 0,
          expressiveness_richness: 1,
        },
        reasoning: '',
        dimension_reasoning: { layout_precision: 'aligned' },
      },
    });
  });

  it('names the field of an out-of-range or malformed score', () => {
    const withScore = (value: unknown) => JSON.stringify({ ...fullScores, Layout_Precision: value });
    expect(reasonOf(parseJudgement(withScore(3)))).toBe('judge score Layout_Precision is 3, expected 0, 1 or 2');
    expect(reasonOf(parseJudgement(withScore(1.5)))).toBe('judge score Layout_Precision is 1.5, expected 0, 1 or 2');
    expect(reasonOf(parseJudgement(withScore(-1)))).toBe('judge score Layout_Precision is -1, expected 0, 1 or 2');
    expect(reasonOf(parseJudgement(withScore('high')))).toBe(
      'judge score Layout_Precision is "high", expected 0, 1 or 2',
    );
    expect(reasonOf(parseJudgement(withScore('')))).toBe('judge score Layout_Precision is "", expected 0, 1 or 2');
    expect(reasonOf(parseJudgement(withScore(null)))).toBe('judge score Layout_Precision is null, expected 0, 1 or 2');
  });

  it('fails on a missing score instead of counting it as zero', () => {
    const { Scientific_Plausibility: _dropped, ...rest } = fullScores;
    expect(reasonOf(parseJudgement(JSON.stringify(rest)))).toBe('judge score Scientific_Plausibility is missing');
  });

  it('fails on garbage', () => {
    expect(reasonOf(parseJudgement('The image is great, 2/2 everywhere.'))).toBe('judge answer has no JSON object');
  });
});

const quiz = { question: 'How long is AB?', options: { A: '3', B: '4', C: '5', D: '6' }, correct_option: 'C' };

describe('parseQuizzes and validateQuiz', () => {
  it('reads quizzes and normalizes the correct option', () => {
    const result = parseQuizzes(
      `\`\`\`json\n${JSON.stringify({ quizzes: [quiz, { ...quiz, correct_option: 'b' }] })}\n\`\`\``,
    );
    expect(result.ok && result.value.quizzes.map((item) => item.correct_option)).toEqual(['C', 'B']);
  });

  it('drops malformed quizzes one by one, naming each, and keeps the rest', () => {
    const result = parseQuizzes(
      JSON.stringify({
        quizzes: [{ ...quiz, options: { A: '3', B: '4', C: '3', D: '6' } }, quiz, { ...quiz, correct_option: 'E' }],
      }),
    );
    expect(result).toEqual({
      ok: true,
      value: {
        quizzes: [quiz],
        dropped: [
          { index: 0, reason: 'quiz answer field quizzes[0].options.C: repeats option A' },
          { index: 2, reason: 'quiz answer field quizzes[2].correct_option: is "E", expected one of A, B, C, D' },
        ],
      },
    });
  });

  it('fails when no quiz is usable, naming the first problem: empty lists, duplicates, missing options, bad letters', () => {
    expect(reasonOf(parseQuizzes('{"quizzes": []}'))).toBe('quiz answer has no quizzes');
    expect(reasonOf(parseQuizzes('{"questions": []}'))).toBe('quiz answer field quizzes: is required');
    expect(
      reasonOf(parseQuizzes(JSON.stringify({ quizzes: [{ ...quiz, options: { A: '3', B: '4', C: '3', D: '6' } }] }))),
    ).toBe('quiz answer field quizzes[0].options.C: repeats option A');
    expect(
      reasonOf(parseQuizzes(JSON.stringify({ quizzes: [{ ...quiz, options: { A: '3', B: '4', C: '5' } }] }))),
    ).toBe('quiz answer field quizzes[0].options.D: is required');
    expect(reasonOf(parseQuizzes(JSON.stringify({ quizzes: [{ ...quiz, correct_option: 'E' }] })))).toBe(
      'quiz answer field quizzes[0].correct_option: is "E", expected one of A, B, C, D',
    );
    expect(reasonOf(parseQuizzes(JSON.stringify({ quizzes: ['not a quiz'] })))).toBe(
      'quiz answer field quizzes[0]: must be an object',
    );
  });

  it('keeps a generated quiz to A-D, and names the field', () => {
    expect(
      reasonOf(parseQuizzes(JSON.stringify({ quizzes: [{ ...quiz, options: { ...quiz.options, E: '7' } }] }))),
    ).toBe('quiz answer field quizzes[0].options: has unexpected keys E, expected A, B, C, D');
    const check = validateQuiz({ ...quiz, options: { ...quiz.options, E: '7' } }, ['A', 'B', 'C', 'D']);
    expect(check).toEqual({
      ok: false,
      field: 'options',
      problem: 'has unexpected keys E, expected A, B, C, D',
      reason: 'options: has unexpected keys E, expected A, B, C, D',
    });
  });
});

describe('validateQuiz, for the input', () => {
  it('takes any two or more single uppercase letters, in letter order, and keeps the evidence snippet', () => {
    const check = validateQuiz({
      question: ' Which planet? ',
      options: { E: 'Mars', A: 'Venus', C: 'Earth', B: 'Jupiter', D: 'Saturn' },
      correct_option: 'e',
      evidence_snippet: ' the red planet ',
    });
    expect(check).toEqual({
      ok: true,
      value: {
        question: 'Which planet?',
        options: { A: 'Venus', B: 'Jupiter', C: 'Earth', D: 'Saturn', E: 'Mars' },
        correct_option: 'E',
        evidence_snippet: 'the red planet',
      },
    });
    expect(check.ok && Object.keys(check.value.options)).toEqual(['A', 'B', 'C', 'D', 'E']);
    expect(validateQuiz({ ...quiz, options: { A: 'yes', B: 'no' }, correct_option: 'B' }).ok).toBe(true);
  });

  it.each([
    [
      { ...quiz, options: { '0': '3', A: '4', B: '5', C: '6' } },
      'options: has keys "0", expected single uppercase letters (A, B, C, …)',
    ],
    [
      { ...quiz, options: { A: '3', B: '4', '4186.8 g': '5', D: '6' } },
      'options: has keys "4186.8 g", expected single uppercase letters (A, B, C, …)',
    ],
    [{ ...quiz, options: { A: '3', b: '4' } }, 'options: has keys "b", expected single uppercase letters (A, B, C, …)'],
    [{ ...quiz, options: { C: '5' } }, 'options: has 1 option(s), expected at least two'],
    [
      { ...quiz, options: { A: '3', C: '5', D: '6', Y: '4' }, correct_option: 'B' },
      'correct_option: is "B", expected one of A, C, D, Y',
    ],
    [{ ...quiz, question: '   ' }, 'question: must be a non-empty string'],
    [{ ...quiz, evidence_snippet: ['a'] }, 'evidence_snippet: must be a string'],
  ])('drops %j: %s', (input, reason) => {
    const check = validateQuiz(input);
    expect(check.ok ? null : check.reason).toBe(reason);
  });
});

describe('parseGrade', () => {
  it('reads the grade bare or fenced', () => {
    expect(parseGrade('{"correct": true, "reason": "both say 15 cm"}')).toEqual({
      ok: true,
      value: { correct: true, reason: 'both say 15 cm' },
    });
    expect(parseGrade('Checking.\n```json\n{"correct": false, "reason": " 20 cm, not 15 cm "}\n```')).toEqual({
      ok: true,
      value: { correct: false, reason: '20 cm, not 15 cm' },
    });
  });

  it('refuses an answer without a boolean verdict', () => {
    expect(reasonOf(parseGrade('The answer is correct.'))).toBe('grade answer has no JSON object');
    expect(reasonOf(parseGrade('{"correct": "yes", "reason": "same"}'))).toBe(
      'grade answer field correct: must be true or false',
    );
    expect(reasonOf(parseGrade('{"reason": "same"}'))).toBe('grade answer field correct: is required');
  });
});

describe('parseAnswerLetter', () => {
  it.each([
    ['B', 'B'],
    ['The answer is B.', 'B'],
    ['(C)', 'C'],
    ['**D**', 'D'],
    ['Answer: A', 'A'],
    ['Option C looks wrong; the right one is D', 'D'],
    ['A cat sits on the mat', 'A'],
    ['Between B and C, I pick C.', 'C'],
    ['Final answer: \\boxed{B}', 'B'],
    ['B) 4 cm', 'B'],
    ['answer:A', 'A'],
  ])('%j -> %s', (text, letter) => {
    expect(parseAnswerLetter(text)).toEqual({ ok: true, value: letter });
  });

  it.each([['I cannot tell.'], ['ABCD'], ['the answer is b'], ['Dx and Ay'], ['E'], ['']])(
    '%j has no letter',
    (text) => {
      expect(parseAnswerLetter(text)).toEqual({ ok: false, reason: 'answer has no standalone option letter A-D' });
    },
  );

  it("reads the last standalone letter among the quiz's own options", () => {
    const fiveOptions = ['A', 'B', 'C', 'D', 'E'];
    expect(parseAnswerLetter('Not D; the answer is E', fiveOptions)).toEqual({ ok: true, value: 'E' });
    expect(parseAnswerLetter('Answer: E', ['A', 'B', 'C', 'D'])).toEqual({
      ok: false,
      reason: 'answer has no standalone option letter A-D',
    });
    expect(parseAnswerLetter('C, not B. Z', ['A', 'C', 'D', 'Y'])).toEqual({ ok: true, value: 'C' });
    expect(parseAnswerLetter('B', ['A', 'C', 'D', 'Y'])).toEqual({
      ok: false,
      reason: 'answer has no standalone option letter A, C, D, Y',
    });
    expect(parseAnswerLetter('nothing', fiveOptions)).toEqual({
      ok: false,
      reason: 'answer has no standalone option letter A-E',
    });
  });
});
