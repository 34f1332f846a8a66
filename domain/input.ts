/**
 * Validation of the problem input (CONTRACT.md, Input): JSONL or a JSON array. Every bad record is
 * reported with its line, position, id and field, never silently dropped; a quiz that cannot be used
 * is dropped from its problem with the reason, which the manifest keeps. Pure: the file is read by
 * read-input-file.ts, and problemKey is used by workflow code, so no Node builtins here.
 */
import { validateQuiz } from './parse-model-output.ts';
import { oversizeProblemMessage } from './staged-pages.ts';
import type { DroppedQuiz, Problem, Quiz } from './types.ts';

export interface InputError {
  /** 1-based line where the record starts; null when not known. */
  line: number | null;
  /** 0-based position of the record in the input; -1 for an error about the input as a whole. */
  index: number;
  /** The offending field, e.g. `question` or `elements[2]`; null for the record itself. */
  field: string | null;
  message: string;
  /** The record's id when it had a usable one, so a skipped record can still be named in the manifest. */
  id?: string | number;
}

/** Where a valid problem came from, for errors found after parsing (a reference image that is missing). */
export interface ProblemSource {
  line: number | null;
  index: number;
  /** The field that named the reference image, when one did. */
  referenceField?: ReferenceImageField;
}

export interface ParsedProblems {
  problems: Problem[];
  errors: InputError[];
  /** One per problem, in the same order. */
  sources: ProblemSource[];
}

/** `reference_image` is scigen's name; SciGenBench's files call it `image`. The first wins when both are set. */
export const REFERENCE_IMAGE_FIELDS = ['reference_image', 'image'] as const;
export type ReferenceImageField = (typeof REFERENCE_IMAGE_FIELDS)[number];

const KNOWN_FIELDS = new Set<string>([
  'id',
  'question',
  'answer',
  'subject',
  'image_type',
  'caption',
  'elements',
  'multimodal_question',
  'quizzes',
  ...REFERENCE_IMAGE_FIELDS,
]);
const OPTIONAL_STRING_FIELDS = ['subject', 'image_type', 'caption', 'multimodal_question'] as const;

interface RawRecord {
  value: unknown;
  line: number | null;
  index: number;
}

type FieldError = { field: string | null; message: string };

function describeType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** V8 reports where JSON broke as "position N" (and newer versions as "line L column C"). */
function lineOfParseError(text: string, message: string): number | null {
  const position = /position (\d+)/.exec(message);
  if (position?.[1] === undefined) return null;
  return lineAt(text, Number(position[1]));
}

function lineAt(text: string, offset: number): number {
  let line = 1;
  for (let index = 0; index < offset && index < text.length; index++) {
    if (text.charCodeAt(index) === 10) line++;
  }
  return line;
}

/**
 * The line on which each element of the top-level array starts, found with one string-aware scan.
 * JSON.parse has already accepted the text, so the scan only needs to track depth and strings.
 */
function arrayElementLines(text: string, openIndex: number): number[] {
  const lines: number[] = [];
  let line = lineAt(text, openIndex);
  let depth = 0;
  let inString = false;
  let awaitingElement = false;
  for (let index = openIndex; index < text.length; index++) {
    const character = text[index];
    if (character === '\n') line++;
    if (inString) {
      if (character === '\\') index++;
      else if (character === '"') inString = false;
      continue;
    }
    if (awaitingElement && character !== undefined && !/\s/.test(character) && character !== ']') {
      lines.push(line);
      awaitingElement = false;
    }
    if (character === '"') inString = true;
    else if (character === '[' || character === '{') {
      depth++;
      if (depth === 1) awaitingElement = true;
    } else if (character === ']' || character === '}') {
      depth--;
      if (depth === 0) break;
    } else if (character === ',' && depth === 1) awaitingElement = true;
  }
  return lines;
}

function readJsonArray(text: string, openIndex: number): { records: RawRecord[]; errors: InputError[] } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return {
      records: [],
      errors: [
        { line: lineOfParseError(text, message), index: -1, field: null, message: `malformed JSON array: ${message}` },
      ],
    };
  }
  if (!Array.isArray(parsed)) {
    return { records: [], errors: [{ line: 1, index: -1, field: null, message: 'expected a JSON array of problems' }] };
  }
  const lines = arrayElementLines(text, openIndex);
  const linesKnown = lines.length === parsed.length;
  return {
    records: parsed.map((value: unknown, index) => ({
      value,
      index,
      line: linesKnown ? (lines[index] ?? null) : null,
    })),
    errors: [],
  };
}

function readJsonLines(text: string, sourceName: string): { records: RawRecord[]; errors: InputError[] } {
  const records: RawRecord[] = [];
  const errors: InputError[] = [];
  // A pretty-printed .json file that is not an array fails on its first line; say what was expected.
  const hint = /\.json$/i.test(sourceName) ? ' (expected one JSON object per line, or a JSON array of problems)' : '';
  let index = -1;
  for (const [position, rawLine] of text.split('\n').entries()) {
    const content = rawLine.trim();
    if (content === '') continue;
    const line = position + 1;
    index++;
    try {
      records.push({ value: JSON.parse(content), line, index });
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      errors.push({ line, index, field: null, message: `malformed JSON: ${message}${hint}` });
    }
  }
  return { records, errors };
}

/** The most options a list can give: one per letter A–Z. */
const MAX_LISTED_OPTIONS = 26;

/** Options given as a list are lettered A, B, C, … in order. */
function normalizeQuizInput(quiz: unknown): unknown {
  if (!isObject(quiz)) return quiz;
  const options = quiz['options'];
  if (!Array.isArray(options) || options.length > MAX_LISTED_OPTIONS) return quiz;
  const lettered = Object.fromEntries(
    options.map((option: unknown, index) => [String.fromCharCode(65 + index), option]),
  );
  return { ...quiz, options: lettered };
}

/**
 * The input's quizzes: each one checked on its own. One that cannot be used is dropped with its
 * reason and the problem keeps the others (SciGenBench's files have quizzes keyed "0" or by an
 * answer's text); only a `quizzes` that is not a list is an error of the problem.
 */
function validateQuizzes(value: unknown): { quizzes?: Quiz[]; dropped?: DroppedQuiz[]; errors: FieldError[] } {
  if (value === undefined || value === null) return { errors: [] };
  if (!Array.isArray(value)) {
    return { errors: [{ field: 'quizzes', message: `must be an array of quizzes, got ${describeType(value)}` }] };
  }
  const quizzes: Quiz[] = [];
  const dropped: DroppedQuiz[] = [];
  for (const [index, quiz] of value.entries()) {
    const check = validateQuiz(normalizeQuizInput(quiz));
    if (check.ok) quizzes.push(check.value);
    else dropped.push({ index, reason: check.reason });
  }
  // No usable quiz brings no quizzes: the build generates them, as for a problem without the field.
  return {
    ...(quizzes.length > 0 ? { quizzes } : {}),
    ...(dropped.length > 0 ? { dropped } : {}),
    errors: [],
  };
}

function validateElements(value: unknown): { elements?: string[]; errors: FieldError[] } {
  if (value === undefined || value === null) return { errors: [] };
  if (!Array.isArray(value)) {
    return { errors: [{ field: 'elements', message: `must be an array of strings, got ${describeType(value)}` }] };
  }
  const errors = value.flatMap((element: unknown, index) =>
    typeof element === 'string'
      ? []
      : [{ field: `elements[${index}]`, message: `must be a string, got ${describeType(element)}` }],
  );
  if (errors.length > 0 || value.length === 0) return { errors };
  return { elements: value as string[], errors };
}

function validId(value: unknown): value is string | number {
  return (typeof value === 'string' && value.trim() !== '') || (typeof value === 'number' && Number.isFinite(value));
}

/**
 * A reference image is named by a path (relative to the input file) or a file:// or s3:// URI;
 * whether it exists is checked when the input file is read (read-input-file.ts).
 */
function validateReferenceImage(value: Record<string, unknown>): {
  reference?: string;
  field?: ReferenceImageField;
  errors: FieldError[];
} {
  for (const field of REFERENCE_IMAGE_FIELDS) {
    const reference = value[field];
    if (reference === undefined || reference === null) continue;
    // SciGenBench leaves `image` empty for problems that have none.
    if (field === 'image' && reference === '') continue;
    if (typeof reference !== 'string' || reference.trim() === '') {
      return {
        errors: [
          {
            field,
            message: `must be a path or a file:// or s3:// URI, got ${typeof reference === 'string' ? 'an empty string' : describeType(reference)}`,
          },
        ],
      };
    }
    const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(reference)?.[1]?.toLowerCase();
    if (scheme !== undefined && scheme !== 'file' && scheme !== 's3') {
      return {
        errors: [
          {
            field,
            message: `"${scheme}://" is not supported: use a path relative to the input file, or a file:// or s3:// URI`,
          },
        ],
      };
    }
    return { reference, field, errors: [] };
  }
  return { errors: [] };
}

function validateRecord(value: Record<string, unknown>): {
  problem: Problem;
  referenceField?: ReferenceImageField;
  errors: FieldError[];
} {
  const errors: FieldError[] = [];
  const id = value['id'];
  if (!validId(id)) {
    errors.push({
      field: 'id',
      message:
        id === undefined || id === null
          ? 'required, must be a non-empty string or a finite number'
          : `must be a non-empty string or a finite number, got ${typeof id === 'string' ? 'an empty string' : describeType(id)}`,
    });
  }
  const question = value['question'];
  if (typeof question !== 'string' || question.trim() === '') {
    errors.push({
      field: 'question',
      message:
        question === undefined || question === null
          ? 'required, must be a non-empty string'
          : `must be a non-empty string, got ${typeof question === 'string' ? 'an empty string' : describeType(question)}`,
    });
  }
  const problem: Problem = {
    id: validId(id) ? id : '',
    question: typeof question === 'string' ? question : '',
    extra: {},
  };

  const answer = value['answer'];
  if (typeof answer === 'string') problem.answer = answer;
  else if (typeof answer === 'number' && Number.isFinite(answer)) problem.answer = String(answer);
  else if (answer !== undefined && answer !== null) {
    errors.push({ field: 'answer', message: `must be a string or a number, got ${describeType(answer)}` });
  }

  for (const field of OPTIONAL_STRING_FIELDS) {
    const text = value[field];
    if (typeof text === 'string') {
      if (text.trim() !== '') problem[field] = text;
    } else if (text !== undefined && text !== null) {
      errors.push({ field, message: `must be a string, got ${describeType(text)}` });
    }
  }

  const elements = validateElements(value['elements']);
  errors.push(...elements.errors);
  if (elements.elements !== undefined) problem.elements = elements.elements;

  const quizzes = validateQuizzes(value['quizzes']);
  errors.push(...quizzes.errors);
  if (quizzes.quizzes !== undefined) problem.quizzes = quizzes.quizzes;
  if (quizzes.dropped !== undefined) problem.dropped_quizzes = quizzes.dropped;

  const reference = validateReferenceImage(value);
  errors.push(...reference.errors);
  if (reference.reference !== undefined) problem.reference_image = reference.reference;

  for (const [key, extraValue] of Object.entries(value)) {
    if (!KNOWN_FIELDS.has(key)) problem.extra[key] = extraValue;
  }
  return { problem, errors, ...(reference.field === undefined ? {} : { referenceField: reference.field }) };
}

function describeLocation(line: number | null, index: number): string {
  return line !== null ? `line ${line}` : `[${index}]`;
}

/**
 * Validates every record; `problems` holds the valid ones in input order, `errors` every problem
 * found (a record may have several). `sourceName` only shapes hints in messages.
 */
export function parseProblemsText(text: string, sourceName: string): ParsedProblems {
  const withoutByteOrderMark = text.startsWith('\uFEFF') ? text.slice(1) : text;
  const firstContent = withoutByteOrderMark.search(/\S/);
  const read =
    firstContent !== -1 && withoutByteOrderMark[firstContent] === '['
      ? readJsonArray(withoutByteOrderMark, firstContent)
      : readJsonLines(withoutByteOrderMark, sourceName);

  const problems: Problem[] = [];
  const sources: ProblemSource[] = [];
  const errors: InputError[] = [...read.errors];
  const firstByKey = new Map<string, { id: string | number; line: number | null; index: number }>();
  for (const record of read.records) {
    const where = { line: record.line, index: record.index };
    if (!isObject(record.value)) {
      errors.push({ ...where, field: null, message: `expected a JSON object, got ${describeType(record.value)}` });
      continue;
    }
    const { problem, referenceField, errors: fieldErrors } = validateRecord(record.value);
    const oversize = oversizeProblemMessage(problem);
    if (oversize !== null) fieldErrors.push({ field: null, message: oversize });
    const idIsValid = validId(record.value['id']);
    if (idIsValid) {
      // Keys, not raw ids, must be unique: 1 and "1" would share a workflow id and an artifact folder.
      const key = problemKey(problem.id);
      const first = firstByKey.get(key);
      if (first === undefined) firstByKey.set(key, { id: problem.id, ...where });
      else {
        const location = describeLocation(first.line, first.index);
        fieldErrors.push({
          field: 'id',
          message:
            String(first.id) === String(problem.id)
              ? `duplicate id ${JSON.stringify(problem.id)}, first seen on ${location}`
              : `id ${JSON.stringify(problem.id)} has the same key as id ${JSON.stringify(first.id)} on ${location}`,
        });
      }
    }
    if (fieldErrors.length === 0) {
      problems.push(problem);
      sources.push({ ...where, ...(referenceField === undefined ? {} : { referenceField }) });
    }
    for (const fieldError of fieldErrors) {
      errors.push({ ...where, ...fieldError, ...(idIsValid ? { id: problem.id } : {}) });
    }
  }
  if (problems.length === 0 && errors.length === 0) {
    errors.push({ line: null, index: -1, field: null, message: 'no problems found' });
  }
  return { problems, errors, sources };
}

/**
 * `samples/bad.jsonl:3: problem [2] (id "c"): field "question": required, must be a non-empty string`:
 * where (the line, when known), which problem (its 0-based position, and its id when it had a
 * usable one) and which field.
 */
export function formatInputError(sourceName: string, error: InputError): string {
  const location = error.line !== null ? `${sourceName}:${error.line}` : sourceName;
  const problem =
    error.index < 0
      ? ''
      : ` problem [${error.index}]${error.id === undefined ? '' : ` (id ${JSON.stringify(error.id)})`}:`;
  const body = error.field !== null ? `field "${error.field}": ${error.message}` : error.message;
  return `${location}:${problem} ${body}`;
}

/** A problem that cannot be built, as its one manifest line names it. */
export interface InvalidProblem {
  /** Its id; when it had no usable one, `line-N` (its line, or its 1-based position when no line is known). */
  id: string | number;
  /** Every error found in it, formatted (formatInputError). */
  reasons: string[];
}

/**
 * The invalid problems in input order, each once with all its errors: one invalid problem is one
 * manifest line, however many of its fields are wrong. Errors about the input as a whole are left out.
 */
export function invalidProblems(sourceName: string, errors: readonly InputError[]): InvalidProblem[] {
  const groups = new Map<number, InputError[]>();
  for (const error of errors) {
    if (error.index < 0) continue;
    const group = groups.get(error.index);
    if (group === undefined) groups.set(error.index, [error]);
    else group.push(error);
  }
  return [...groups.values()].map((group) => {
    const first = group[0]!;
    const id = group.find((error) => error.id !== undefined)?.id;
    return {
      id: id ?? `line-${first.line ?? first.index + 1}`,
      reasons: group.map((error) => formatInputError(sourceName, error)),
    };
  });
}

/** 32-bit FNV-1a over UTF-16 code units: tiny, pure and stable across runs and machines. */
function fnv1a(text: string): string {
  let hash = 0x811c9dc5;
  for (let index = 0; index < text.length; index++) {
    hash ^= text.charCodeAt(index);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0).toString(16).padStart(8, '0');
}

const SAFE_KEY = /^[A-Za-z0-9._-]+$/;
/** Leaves room under the 255-byte file name limit and keeps workflow ids short. */
const MAX_READABLE_LENGTH = 80;

/**
 * A problem id made safe for file names and workflow ids. Simple ids stay as they are; others get
 * unsafe characters replaced by `_` plus a hash of the original, so distinct ids stay distinct.
 */
export function problemKey(id: string | number): string {
  const text = String(id);
  if (SAFE_KEY.test(text) && text !== '.' && text !== '..' && text.length <= MAX_READABLE_LENGTH) return text;
  const readable = text.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, MAX_READABLE_LENGTH);
  return `${readable}-${fnv1a(text)}`;
}
