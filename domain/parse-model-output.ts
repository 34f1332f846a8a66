/**
 * Parsers for the model answers the LLM wire contract accepts (CONTRACT.md). Each returns a value
 * instead of throwing: a parse failure is a business outcome the workflow branches on (retry the
 * step, record a reason), not an exception Temporal would retry blindly.
 * Imported by workflow code: no Node builtins.
 */
import { z } from 'zod';
import {
  canonicalImageType,
  canonicalSubject,
  IMAGE_TYPES,
  SUBJECTS,
  type ImageType,
  type Subject,
} from './taxonomy.ts';
import { GENERATED_OPTION_LETTERS, JUDGE_DIMENSIONS } from './types.ts';
import type { DroppedQuiz, JudgeDimension, JudgeScores, OptionLetter, Quiz } from './types.ts';

export type Parsed<T> = { ok: true; value: T } | { ok: false; reason: string };

export interface Classification {
  visualizable: boolean;
  reason: string;
  subject: Subject;
  image_type: ImageType;
}

export interface Plan {
  content: string[];
  layout: string[];
  labels: string[];
  constraints: string[];
}

export interface Judgement {
  scores: JudgeScores;
  /** What the judge wrote before its JSON, trimmed; '' when it answered with JSON only. */
  reasoning: string;
  /** Per-dimension explanations, when the judge added fields such as `Layout_Precision_reasoning`. */
  dimension_reasoning: Partial<Record<JudgeDimension, string>>;
}

/** The wire names of the judge dimensions, as the judge prompt asks for them. */
export const JUDGE_WIRE_KEYS: Record<JudgeDimension, string> = {
  correctness_fidelity: 'Correctness_Fidelity',
  layout_precision: 'Layout_Precision',
  readability_occlusion: 'Readability_Occlusion',
  scientific_plausibility: 'Scientific_Plausibility',
  expressiveness_richness: 'Expressiveness_Richness',
};

type JsonObject = Record<string, unknown>;

interface LocatedJson {
  value: JsonObject;
  /** The text before the JSON (and before its code fence, if fenced). */
  before: string;
}

function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function parseObject(text: string): JsonObject | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return isJsonObject(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

// `\r?` because some providers answer with CRLF line endings.
const FENCED_BLOCK = /^[ \t]*```[ \t]*([\w+.-]*)[^\n]*\n([\s\S]*?)^[ \t]*```[ \t]*\r?$/gm;

interface FencedBlock {
  language: string;
  body: string;
  start: number;
}

function fencedBlocks(text: string): FencedBlock[] {
  return [...text.matchAll(FENCED_BLOCK)].map((match) => ({
    language: (match[1] ?? '').toLowerCase(),
    body: match[2] ?? '',
    start: match.index,
  }));
}

/**
 * The index of the `}` closing the object opened at `start`, or -1. Tracks JSON strings so braces
 * inside them do not count.
 */
function matchingBrace(text: string, start: number): number {
  let depth = 0;
  let inString = false;
  for (let index = start; index < text.length; index++) {
    const character = text[index];
    if (inString) {
      if (character === '\\') index++;
      else if (character === '"') inString = false;
      continue;
    }
    if (character === '"') inString = true;
    else if (character === '{') depth++;
    else if (character === '}') {
      depth--;
      if (depth === 0) return index;
    }
  }
  return -1;
}

/**
 * Every top-level object in prose, left to right. A `{` that does not open parseable JSON (a set
 * in the reasoning, an unclosed brace) is skipped rather than allowed to swallow the rest.
 */
function objectsInProse(text: string): { value: JsonObject; start: number }[] {
  const found: { value: JsonObject; start: number }[] = [];
  let index = text.indexOf('{');
  while (index !== -1) {
    const end = matchingBrace(text, index);
    const value = end === -1 ? undefined : parseObject(text.slice(index, end + 1));
    if (value !== undefined) {
      found.push({ value, start: index });
      index = text.indexOf('{', end + 1);
    } else {
      index = text.indexOf('{', index + 1);
    }
  }
  return found;
}

const TRAILING_FENCE_OPENER = /```[ \t]*[\w+.-]*[ \t]*$/;

function locateJson(text: string): LocatedJson | undefined {
  const whole = parseObject(text.trim());
  if (whole !== undefined) return { value: whole, before: '' };

  const blocks = fencedBlocks(text).filter((block) => block.language === 'json' || block.language === '');
  for (const block of blocks.reverse()) {
    const value = parseObject(block.body.trim());
    if (value !== undefined) return { value, before: text.slice(0, block.start) };
  }

  const last = objectsInProse(text).at(-1);
  if (last === undefined) return undefined;
  // An unterminated or malformed fence around the JSON leaves its opener in the prose.
  return { value: last.value, before: text.slice(0, last.start).replace(TRAILING_FENCE_OPENER, '') };
}

/**
 * The JSON object in a model answer: bare, in a ```json (or plain ```) fence, or surrounded by
 * prose, in which case the last top-level object wins because judges reason first, then answer.
 */
export function extractJson(text: string): Parsed<JsonObject> {
  const located = locateJson(text);
  if (located === undefined) return { ok: false, reason: 'answer has no JSON object' };
  return { ok: true, value: located.value };
}

function describeIssue(step: string, error: z.ZodError): string {
  const issue = error.issues[0];
  if (issue === undefined) return `${step} answer is invalid`;
  const path = issue.path
    .map((segment, position) =>
      typeof segment === 'number' ? `[${segment}]` : position === 0 ? String(segment) : `.${String(segment)}`,
    )
    .join('');
  return path === '' ? `${step} answer ${issue.message}` : `${step} answer field ${path}: ${issue.message}`;
}

function parseWithSchema<T>(step: string, text: string, schema: z.ZodType<T>): Parsed<T> {
  const json = extractJson(text);
  if (!json.ok) return { ok: false, reason: `${step} answer has no JSON object` };
  const result = schema.safeParse(json.value);
  if (!result.success) return { ok: false, reason: describeIssue(step, result.error) };
  return { ok: true, value: result.data };
}

/** Zod's error option, telling a missing field from one of the wrong type. */
function missingOr(message: string) {
  return { error: (issue: { input: unknown }) => (issue.input === undefined ? 'is required' : message) };
}

// Non-emptiness is a refinement, not `.min(1)`: these schemas also become the JSON Schema sent
// in the providers' schema modes, and length keywords are outside the subset both APIs accept.
const nonEmptyString = z
  .string(missingOr('must be a non-empty string'))
  .trim()
  .refine((value) => value.length > 0, { error: 'must be a non-empty string' });

/** A closed set of names: "is "X", expected one of A, B, …" (or "is required"). */
function oneOf<const Names extends readonly [string, ...string[]]>(names: Names) {
  return z.enum(names, {
    error: (issue) =>
      issue.input === undefined
        ? 'is required'
        : `is ${describeValue(issue.input)}, expected one of ${names.join(', ')}`,
  });
}

/**
 * The classify answer: SciGenBench's subjects and image types (domain/taxonomy.ts). Its JSON Schema
 * (output side: the two enums) is what the providers' schema modes ask for; the same schema then
 * validates the answer, schema mode or not. Models write "physics" or "Mathematics" when no schema
 * holds them to the enum; the canonical name is meant, so the answer is read as that.
 */
export const classificationAnswerSchema = z.object({
  visualizable: z.boolean(missingOr('must be true or false')),
  reason: z.string(missingOr('must be a string')).trim(),
  subject: z.preprocess(canonicalSubject, oneOf(SUBJECTS)),
  image_type: z.preprocess(canonicalImageType, oneOf(IMAGE_TYPES)),
});

export function parseClassification(text: string): Parsed<Classification> {
  return parseWithSchema('classify', text, classificationAnswerSchema);
}

const planItems = z.array(nonEmptyString, missingOr('must be an array of strings'));

/** The plan answer: ImgCoder's four parts. Sent as the schema and used to validate, like classify's. */
export const planAnswerSchema = z.object({
  content: planItems.min(1, { error: 'must name at least one item' }),
  layout: planItems,
  labels: planItems,
  constraints: planItems,
});

export function parsePlan(text: string): Parsed<Plan> {
  return parseWithSchema('plan', text, planAnswerSchema);
}

const PYTHON_LANGUAGES = new Set(['python', 'py', 'python3']);
const IMPORTS_MATPLOTLIB = /^[ \t]*(?:import[ \t]+[^\n#]*\bmatplotlib\b|from[ \t]+matplotlib\b)/m;
const UNCLOSED_PYTHON_FENCE = /^[ \t]*```[ \t]*(?:python3?|py)\b/im;

/** The script from the one fenced python block the code, repair and refine steps must answer with. */
export function parseCode(text: string): Parsed<string> {
  const blocks = fencedBlocks(text).filter((block) => PYTHON_LANGUAGES.has(block.language));
  if (blocks.length > 1) {
    return { ok: false, reason: `code answer has ${blocks.length} python blocks, expected exactly one` };
  }
  const block = blocks[0];
  if (block === undefined) {
    if (UNCLOSED_PYTHON_FENCE.test(text)) {
      return { ok: false, reason: 'code answer has an unclosed python block (output cut off?)' };
    }
    return { ok: false, reason: 'code answer has no fenced python block' };
  }
  const script = block.body.replace(/\s+$/, '') + '\n';
  if (script.trim() === '') return { ok: false, reason: 'code answer has an empty python block' };
  if (!IMPORTS_MATPLOTLIB.test(script)) {
    return { ok: false, reason: 'code answer script does not import matplotlib' };
  }
  return { ok: true, value: script };
}

/** Lowercase letters and digits only, so `Layout_Precision`, `layout precision` and `LayoutPrecision` meet. */
function normalizeKey(key: string): string {
  return key.toLowerCase().replace(/[^a-z0-9]/g, '');
}

function findField(object: JsonObject, wireKey: string, normalizedNames: string[]): { found: boolean; value: unknown } {
  if (Object.hasOwn(object, wireKey)) return { found: true, value: object[wireKey] };
  const key = Object.keys(object).find((candidate) => normalizedNames.includes(normalizeKey(candidate)));
  return key === undefined ? { found: false, value: undefined } : { found: true, value: object[key] };
}

const NUMERIC_STRING = /^\s*-?\d+(?:\.\d+)?\s*$/;

function describeValue(value: unknown): string {
  return typeof value === 'number' ? String(value) : JSON.stringify(value);
}

const SCORE_MESSAGE = (issue: { input: unknown }) =>
  issue.input === undefined ? 'is missing' : `is ${describeValue(issue.input)}, expected 0, 1 or 2`;
const judgeScore = z.int({ error: SCORE_MESSAGE }).min(0, { error: SCORE_MESSAGE }).max(2, { error: SCORE_MESSAGE });

/**
 * The judge answer in the wire names of CONTRACT.md. `reasoning` comes first so that a model held
 * to this schema reasons before it scores; without a schema the reasoning is the prose before
 * the JSON, which the parser moves into this field before validating.
 */
export const judgementAnswerSchema = z.object({
  reasoning: z.string(),
  Correctness_Fidelity: judgeScore,
  Layout_Precision: judgeScore,
  Readability_Occlusion: judgeScore,
  Scientific_Plausibility: judgeScore,
  Expressiveness_Richness: judgeScore,
});

/**
 * The judge's five 0–2 scores. Tolerant reading first (key spelling, numeric strings, reasoning
 * in prose), then judgementAnswerSchema decides. A missing or out-of-range score fails the
 * parse; it never becomes 0.
 */
export function parseJudgement(text: string): Parsed<Judgement> {
  const located = locateJson(text);
  if (located === undefined) return { ok: false, reason: 'judge answer has no JSON object' };
  const fieldReasoning = located.value['reasoning'];
  const proseReasoning = located.before.trim();
  const candidate: Record<string, unknown> = {
    reasoning: proseReasoning || (typeof fieldReasoning === 'string' ? fieldReasoning.trim() : ''),
  };
  const dimensionReasoning: Partial<Record<JudgeDimension, string>> = {};
  for (const dimension of JUDGE_DIMENSIONS) {
    const wireKey = JUDGE_WIRE_KEYS[dimension];
    const normalized = normalizeKey(wireKey);
    const field = findField(located.value, wireKey, [normalized]);
    candidate[wireKey] =
      typeof field.value === 'string' && NUMERIC_STRING.test(field.value) ? Number(field.value) : field.value;
    const explanation = findField(located.value, `${wireKey}_reasoning`, [
      `${normalized}reasoning`,
      `${normalized}reason`,
    ]);
    if (typeof explanation.value === 'string' && explanation.value.trim() !== '') {
      dimensionReasoning[dimension] = explanation.value.trim();
    }
  }
  const result = judgementAnswerSchema.safeParse(candidate);
  if (!result.success) {
    const issue = result.error.issues[0];
    return { ok: false, reason: `judge score ${String(issue?.path[0] ?? '')} ${issue?.message ?? 'is invalid'}` };
  }
  const scores = Object.fromEntries(
    JUDGE_DIMENSIONS.map((dimension) => [
      dimension,
      result.data[JUDGE_WIRE_KEYS[dimension] as keyof typeof result.data],
    ]),
  ) as JudgeScores;
  return { ok: true, value: { scores, reasoning: result.data.reasoning, dimension_reasoning: dimensionReasoning } };
}

export type QuizCheck =
  { ok: true; value: Quiz } | { ok: false; reason: string; field: string | null; problem: string };

function quizFailure(field: string | null, problem: string): QuizCheck {
  return { ok: false, reason: field === null ? `quiz ${problem}` : `${field}: ${problem}`, field, problem };
}

const SINGLE_LETTER = /^[A-Z]$/;

/** "A-D" for a run of letters from A, else the letters listed: "A, C, D". */
export function describeLetters(letters: readonly string[]): string {
  const fromA = letters.every((letter, index) => letter === String.fromCharCode(65 + index));
  return fromA && letters.length > 2 ? `${letters[0]}-${letters.at(-1)}` : letters.join(', ');
}

/** The option keys: exactly `letters` when given (a generated quiz), else any two or more single uppercase letters. */
function checkOptionKeys(options: JsonObject, letters: readonly string[] | undefined): QuizCheck | string[] {
  const keys = Object.keys(options);
  if (letters !== undefined) {
    const unexpected = keys.filter((key) => !letters.includes(key));
    if (unexpected.length > 0) {
      return quizFailure('options', `has unexpected keys ${unexpected.join(', ')}, expected ${letters.join(', ')}`);
    }
    return [...letters];
  }
  const notLetters = keys.filter((key) => !SINGLE_LETTER.test(key));
  if (notLetters.length > 0) {
    const listed = notLetters.map((key) => JSON.stringify(key)).join(', ');
    return quizFailure('options', `has keys ${listed}, expected single uppercase letters (A, B, C, …)`);
  }
  if (keys.length < 2) return quizFailure('options', `has ${keys.length} option(s), expected at least two`);
  return keys.sort();
}

function checkEvidenceSnippet(quiz: JsonObject): QuizCheck | { evidence_snippet?: string } {
  const snippet = quiz['evidence_snippet'];
  if (snippet === undefined || snippet === null) return {};
  if (typeof snippet !== 'string') return quizFailure('evidence_snippet', 'must be a string');
  return snippet.trim() === '' ? {} : { evidence_snippet: snippet.trim() };
}

/**
 * Checks one quiz, from a model or from the input: a question, options non-empty and distinct (two
 * equal options make the quiz unanswerable from the image), and a correct option among them. A
 * model's quiz must have exactly `letters` (A–D); the input's may have any two or more single
 * uppercase letters (SciGenBench has A–E). `field` is the path inside the quiz that is wrong (null:
 * the quiz itself), so callers can point at it.
 */
export function validateQuiz(quiz: unknown, letters?: readonly string[]): QuizCheck {
  if (!isJsonObject(quiz)) return quizFailure(null, 'must be an object');
  const question = quiz['question'];
  if (typeof question !== 'string' || question.trim() === '') {
    return quizFailure('question', question === undefined ? 'is required' : 'must be a non-empty string');
  }
  const options = quiz['options'];
  if (!isJsonObject(options)) {
    return quizFailure(
      'options',
      `must be an object with keys ${letters === undefined ? 'A, B, …' : letters.join(', ')}`,
    );
  }
  const keys = checkOptionKeys(options, letters);
  if (!Array.isArray(keys)) return keys;
  const normalized: Record<OptionLetter, string> = {};
  const seen = new Map<string, OptionLetter>();
  for (const letter of keys) {
    const option = options[letter];
    if (typeof option !== 'string' || option.trim() === '') {
      return quizFailure(`options.${letter}`, option === undefined ? 'is required' : 'must be a non-empty string');
    }
    const text = option.trim();
    const duplicateOf = seen.get(text);
    if (duplicateOf !== undefined) return quizFailure(`options.${letter}`, `repeats option ${duplicateOf}`);
    seen.set(text, letter);
    normalized[letter] = text;
  }
  const given = quiz['correct_option'];
  const correctOption = typeof given === 'string' ? keys.find((key) => key === given.trim().toUpperCase()) : undefined;
  if (correctOption === undefined) {
    const expected = `one of ${keys.join(', ')}`;
    return quizFailure(
      'correct_option',
      given === undefined ? `is required, ${expected}` : `is ${describeValue(given)}, expected ${expected}`,
    );
  }
  const evidence = checkEvidenceSnippet(quiz);
  if ('ok' in evidence) return evidence;
  return {
    ok: true,
    value: { question: question.trim(), options: normalized, correct_option: correctOption, ...evidence },
  };
}

const quizOption = z.string();

/**
 * The quiz answer's shape, sent as the schema in schema mode. validateQuiz adds what a JSON Schema
 * cannot say (options distinct and non-empty) and normalizes; this schema then checks the result.
 */
export const quizAnswerSchema = z.object({
  quizzes: z
    .array(
      z.object({
        question: z.string(),
        options: z.object({ A: quizOption, B: quizOption, C: quizOption, D: quizOption }),
        correct_option: z.enum(GENERATED_OPTION_LETTERS),
      }),
    )
    .min(1),
});

/**
 * The quiz answer: each quiz checked on its own (validateQuiz). Malformed quizzes are dropped with
 * their reason rather than wasting the whole paid answer; an answer with no usable quiz at all is a
 * parse failure naming the first problem.
 */
export function parseQuizzes(text: string): Parsed<{ quizzes: Quiz[]; dropped: DroppedQuiz[] }> {
  const json = extractJson(text);
  if (!json.ok) return { ok: false, reason: 'quiz answer has no JSON object' };
  const quizzes = json.value['quizzes'];
  if (!Array.isArray(quizzes)) {
    return {
      ok: false,
      reason: `quiz answer field quizzes: ${quizzes === undefined ? 'is required' : 'must be an array'}`,
    };
  }
  if (quizzes.length === 0) return { ok: false, reason: 'quiz answer has no quizzes' };
  const value: Quiz[] = [];
  const dropped: DroppedQuiz[] = [];
  for (const [index, quiz] of quizzes.entries()) {
    const check = validateQuiz(quiz, GENERATED_OPTION_LETTERS);
    if (check.ok) {
      value.push(check.value);
    } else {
      const field = check.field === null ? `quizzes[${index}]` : `quizzes[${index}].${check.field}`;
      dropped.push({ index, reason: `quiz answer field ${field}: ${check.problem}` });
    }
  }
  if (value.length === 0) return { ok: false, reason: dropped[0]!.reason };
  const checked = quizAnswerSchema.safeParse({ quizzes: value });
  if (!checked.success) return { ok: false, reason: describeIssue('quiz', checked.error) };
  return { ok: true, value: { quizzes: value, dropped } };
}

/** The grade answer: whether the visual answer matches the problem's answer, and why. */
export const gradeAnswerSchema = z.object({
  correct: z.boolean(missingOr('must be true or false')),
  reason: z.string(missingOr('must be a string')).trim(),
});

export type Grade = z.output<typeof gradeAnswerSchema>;

export function parseGrade(text: string): Parsed<Grade> {
  return parseWithSchema('grade', text, gradeAnswerSchema);
}

/** The answer schemas of the JSON steps, by step: what schema mode asks for and what validates. */
export const ANSWER_SCHEMAS = {
  classify: classificationAnswerSchema,
  plan: planAnswerSchema,
  judge: judgementAnswerSchema,
  quiz: quizAnswerSchema,
  grade: gradeAnswerSchema,
} as const;

/** A capital letter with no letter, digit or underscore on either side. */
const STANDALONE_LETTER = /(?<![\p{L}\p{N}_])[A-Z](?![\p{L}\p{N}_])/gu;

/**
 * The contract's rule, taken literally: the last standalone option letter in the answer, among the
 * quiz's own option letters (a stray "E" does not count for an A–D quiz).
 */
export function parseAnswerLetter(
  text: string,
  letters: readonly OptionLetter[] = GENERATED_OPTION_LETTERS,
): Parsed<OptionLetter> {
  const last = [...text.matchAll(STANDALONE_LETTER)].filter((match) => letters.includes(match[0])).at(-1);
  if (last === undefined) {
    return { ok: false, reason: `answer has no standalone option letter ${describeLetters(letters)}` };
  }
  return { ok: true, value: last[0] };
}
