import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  ANSWER_SCHEMAS,
  parseClassification,
  parseJudgement,
  parsePlan,
  parseQuizzes,
} from '../../domain/parse-model-output.ts';
import { toGeminiResponseJsonSchema, toOpenAiResponseFormat } from '../../providers/response-schema.ts';
import { checkGeminiJsonSchema, checkOpenAiStrictSchema } from '../../scripted/wire-checks.ts';

// The schema a JSON step sends and the parser that reads its answer come from one zod schema:
// an answer that follows the schema must parse, and the generated JSON Schemas must stay inside
// what each API accepts.

const conforming = {
  classify: { visualizable: true, reason: 'a concrete setup', subject: 'Physics', image_type: 'Physics - Optical Ray' },
  plan: { content: ['lens'], layout: ['centre'], labels: ['f = 10 cm'], constraints: ['no image position'] },
  judge: {
    reasoning: 'Labels are clear.',
    Correctness_Fidelity: 2,
    Layout_Precision: 1,
    Readability_Occlusion: 2,
    Scientific_Plausibility: 2,
    Expressiveness_Richness: 1,
  },
  quiz: {
    quizzes: [
      { question: 'Which lens?', options: { A: 'convex', B: 'concave', C: 'plane', D: 'none' }, correct_option: 'A' },
    ],
  },
  grade: { correct: false, reason: 'The answer gives 20 cm; the reference says 15 cm.' },
};

describe('answer schemas', () => {
  it('accept a conforming answer through the tolerant parsers', () => {
    expect(parseClassification(JSON.stringify(conforming.classify))).toEqual({ ok: true, value: conforming.classify });
    expect(parsePlan(JSON.stringify(conforming.plan))).toEqual({ ok: true, value: conforming.plan });
    const judged = parseJudgement(JSON.stringify(conforming.judge));
    expect(judged.ok && judged.value.reasoning).toBe('Labels are clear.');
    expect(judged.ok && judged.value.scores.layout_precision).toBe(1);
    expect(parseQuizzes(JSON.stringify(conforming.quiz))).toEqual({
      ok: true,
      value: { quizzes: conforming.quiz.quizzes, dropped: [] },
    });
    for (const [step, schema] of Object.entries(ANSWER_SCHEMAS)) {
      expect(schema.safeParse(conforming[step as keyof typeof conforming]).success, step).toBe(true);
    }
  });

  it('still read answers from servers without schema mode (prose around JSON, lower-case subject)', () => {
    const classified = parseClassification(
      `Here you go:\n\`\`\`json\n${JSON.stringify({ ...conforming.classify, subject: 'physics' })}\n\`\`\``,
    );
    expect(classified.ok && classified.value.subject).toBe('Physics');
    const judged = parseJudgement(
      `The figure is fine.\n${JSON.stringify({ ...conforming.judge, reasoning: undefined })}`,
    );
    expect(judged.ok && judged.value.reasoning).toBe('The figure is fine.');
  });

  it('become JSON Schemas inside OpenAI strict mode and Gemini responseJsonSchema', () => {
    for (const [name, schema] of Object.entries(ANSWER_SCHEMAS)) {
      const openAi = toOpenAiResponseFormat({ name, schema });
      expect(openAi.json_schema.strict).toBe(true);
      expect(checkOpenAiStrictSchema(openAi.json_schema.schema), name).toBeUndefined();
      expect(checkGeminiJsonSchema(toGeminiResponseJsonSchema({ name, schema })), name).toBeUndefined();
    }
  });

  it('refuse to build a Gemini schema with a keyword Gemini does not support', () => {
    const withLength = z.object({ name: z.string().min(1) });
    expect(() => toGeminiResponseJsonSchema({ name: 'bad', schema: withLength })).toThrow(
      /"minLength", which Gemini's responseJsonSchema does not support/,
    );
  });
});

describe('schema conversion', () => {
  it('is made once per schema and name, and what is handed out cannot be changed by a caller', () => {
    const schema = z.object({ answer: z.string() });
    const first = toOpenAiResponseFormat({ name: 'answer_a', schema });
    expect(toOpenAiResponseFormat({ name: 'answer_a', schema })).toBe(first);
    const renamed = toOpenAiResponseFormat({ name: 'answer_b', schema });
    expect(renamed).not.toBe(first);
    expect(renamed.json_schema.name).toBe('answer_b');
    expect(() => {
      (first.json_schema.schema as Record<string, unknown>)['properties'] = {};
    }).toThrow(TypeError);
    const gemini = toGeminiResponseJsonSchema({ name: 'answer_a', schema });
    expect(toGeminiResponseJsonSchema({ name: 'answer_a', schema })).toBe(gemini);
    expect(toGeminiResponseJsonSchema({ name: 'answer_a', schema: z.object({ other: z.number() }) })).not.toEqual(
      gemini,
    );
  });
});
