/**
 * What an input file holds, as `scigen validate` prints it and `scigen build` checks it before
 * starting anything (CONTRACT.md, CLI): problems valid and invalid, quizzes usable and dropped,
 * reference images found and missing, the taxonomy's groups and how the build would stage it. Pure:
 * the file and the reference folder are read by cli/input-check.ts.
 */
import { formatInputError, problemKey, type InputError, type ParsedProblems } from './input.ts';
import { cutPages, MAX_PROBLEM_BYTES, PAGE_BYTE_BUDGET, stagedLine, utf8Bytes } from './staged-pages.ts';
import { givenTaxonomy, IMAGE_TYPES, SUBJECTS } from './taxonomy.ts';

/** Where the problems' reference images come from, and which ones the references folder lacks. */
export interface ReferenceCounts {
  /** The references folder (`--references` / config `input.references`; a path made absolute); null without one. */
  folder: string | null;
  /** Images in that folder named like a reference (`<name>.png|jpg|jpeg|webp`). */
  folder_images: number;
  /** Problems whose own `reference_image` / `image` names one (it wins over the folder); each was found. */
  named_by_problems: number;
  /** Problems given `<id>.<ext>` from the folder. */
  from_folder: number;
  /** Ids of the problems the folder has no image for, in input order (only with a folder). */
  missing: (string | number)[];
}

/** One error, as the report lists it: the problem's 0-based index (-1: the file as a whole), line, id and field. */
export interface ReportedInputError {
  index: number;
  line: number | null;
  id: string | number | null;
  field: string | null;
  message: string;
}

export interface InputReport {
  input: string;
  problems: { total: number; valid: number; invalid: number };
  /** Every error found, in input order; a problem may have several. */
  errors: ReportedInputError[];
  /** The valid problems' quizzes. */
  quizzes: {
    usable: number;
    dropped: number;
    /** Dropped quizzes grouped by what was wrong with them, most frequent first. */
    dropped_by_reason: { reason: string; count: number }[];
    /** Problems that bring at least one usable quiz (quiz generation is skipped for them). */
    problems_with_quizzes: number;
    /** Problems left with no usable quiz: the build generates theirs. */
    problems_without_quizzes: number;
    problems_with_dropped: number;
  };
  /** Valid problems that carry each optional field. */
  fields: { answer: number; multimodal_question: number; elements: number };
  references: ReferenceCounts;
  /** The data's own taxonomy (domain/taxonomy.ts givenTaxonomy): what the build's tables group by. */
  taxonomy: {
    /** Problems per subject: the benchmark's five first, in its order, then any other, sorted. */
    subjects: Record<string, number>;
    /** Problems per image type, written "Subject - Type": the benchmark's 25 first, then any other, sorted. */
    image_types: Record<string, number>;
    /** Image types given that are not among the benchmark's 25. */
    unlisted_image_types: string[];
    /** Problems without a subject (the classify step fills it). */
    without_subject: number;
    /** Problems without an image type (SeePhys writes `""`; the classify step fills it). */
    without_image_type: number;
  };
  /** How the build would stage the valid problems: pages of at most `page_size`, each under 256 KiB. */
  staging: { pages: number; page_size: number; largest_problem_bytes: number; max_problem_bytes: number };
}

export interface SummarizeInputOptions {
  /** The file's name as the user gave it; errors are formatted with it. */
  input: string;
  /** config `build.pageSize`. */
  pageSize: number;
  references: ReferenceCounts;
}

/** Problem counts, quizzes, references, taxonomy and staging of a parsed input (reference images already checked). */
export function summarizeInput(parsed: ParsedProblems, options: SummarizeInputOptions): InputReport {
  const invalidIndexes = new Set(parsed.errors.filter((error) => error.index >= 0).map((error) => error.index));
  const { problems } = parsed;

  const droppedReasons = new Map<string, number>();
  let usable = 0;
  let dropped = 0;
  for (const problem of problems) {
    usable += problem.quizzes?.length ?? 0;
    for (const quiz of problem.dropped_quizzes ?? []) {
      dropped += 1;
      const group = dropReasonGroup(quiz.reason);
      droppedReasons.set(group, (droppedReasons.get(group) ?? 0) + 1);
    }
  }
  const count = (test: (problem: (typeof problems)[number]) => boolean) => problems.filter(test).length;

  const subjects = new Map<string, number>();
  const imageTypes = new Map<string, number>();
  let withoutSubject = 0;
  let withoutImageType = 0;
  for (const problem of problems) {
    const taxonomy = givenTaxonomy(problem);
    if (taxonomy.subject === null) withoutSubject += 1;
    else subjects.set(taxonomy.subject, (subjects.get(taxonomy.subject) ?? 0) + 1);
    if (taxonomy.image_type === null) withoutImageType += 1;
    else imageTypes.set(taxonomy.image_type, (imageTypes.get(taxonomy.image_type) ?? 0) + 1);
  }

  const lineBytes = problems.map((problem) => utf8Bytes(stagedLine({ problemKey: problemKey(problem.id), problem })));
  const problemBytes = problems.map((problem) => utf8Bytes(JSON.stringify(problem)));

  return {
    input: options.input,
    problems: {
      total: problems.length + invalidIndexes.size,
      valid: problems.length,
      invalid: invalidIndexes.size,
    },
    errors: parsed.errors.map(reportedError),
    quizzes: {
      usable,
      dropped,
      dropped_by_reason: [...droppedReasons.entries()]
        .map(([reason, times]) => ({ reason, count: times }))
        .sort((a, b) => b.count - a.count || a.reason.localeCompare(b.reason)),
      problems_with_quizzes: count((problem) => (problem.quizzes?.length ?? 0) > 0),
      problems_without_quizzes: count((problem) => (problem.quizzes?.length ?? 0) === 0),
      problems_with_dropped: count((problem) => (problem.dropped_quizzes?.length ?? 0) > 0),
    },
    fields: {
      answer: count((problem) => problem.answer !== undefined && problem.answer.trim() !== ''),
      multimodal_question: count((problem) => problem.multimodal_question !== undefined),
      elements: count((problem) => problem.elements !== undefined),
    },
    references: options.references,
    taxonomy: {
      subjects: orderedCounts(subjects, SUBJECTS),
      image_types: orderedCounts(imageTypes, IMAGE_TYPES),
      unlisted_image_types: [...imageTypes.keys()]
        .filter((imageType) => !(IMAGE_TYPES as readonly string[]).includes(imageType))
        .sort(),
      without_subject: withoutSubject,
      without_image_type: withoutImageType,
    },
    staging: {
      pages: cutPages(lineBytes, { maxProblems: options.pageSize, maxBytes: PAGE_BYTE_BUDGET }).length,
      page_size: options.pageSize,
      largest_problem_bytes: Math.max(0, ...problemBytes),
      max_problem_bytes: MAX_PROBLEM_BYTES,
    },
  };
}

function reportedError(error: InputError): ReportedInputError {
  return { index: error.index, line: error.line, id: error.id ?? null, field: error.field, message: error.message };
}

/** The known names first in their own order, then the others sorted; names with no problem are left out. */
function orderedCounts(counts: Map<string, number>, known: readonly string[]): Record<string, number> {
  const others = [...counts.keys()].filter((name) => !known.includes(name)).sort();
  return Object.fromEntries(
    [...known, ...others].flatMap((name) => {
      const times = counts.get(name);
      return times === undefined ? [] : [[name, times]];
    }),
  );
}

/**
 * What kind of fault dropped a quiz, without the particulars (which keys, which letter), so that
 * `validate` can count them: the reasons come from validateQuiz (domain/parse-model-output.ts).
 */
export function dropReasonGroup(reason: string): string {
  const groups: [RegExp, string][] = [
    [/^question: /, 'no question'],
    [/^options: has keys /, 'option keys are not single letters'],
    [/^options: has \d+ option/, 'fewer than two options'],
    [/^options: must be /, 'options are neither an object nor a list'],
    [/^options\.[A-Z]: repeats /, 'two options are the same'],
    [/^options\.[A-Z]: /, 'an option is empty'],
    [/^correct_option: /, 'correct option not among the options'],
    [/^evidence_snippet: /, 'evidence_snippet is not a string'],
    [/^quiz must be an object/, 'the quiz is not an object'],
  ];
  return groups.find(([pattern]) => pattern.test(reason))?.[1] ?? reason;
}

/** Errors a human report lists before "… and N more". */
export const LISTED_ERRORS = 20;
/** Missing reference ids a human report lists. */
export const LISTED_MISSING_REFERENCES = 10;

/** The full human-readable report of `scigen validate`. */
export function formatInputReport(report: InputReport): string[] {
  const lines = [...problemLines(report)];
  const { quizzes, fields, taxonomy, staging } = report;
  lines.push(
    `quizzes: ${quizzes.usable} usable, ${quizzes.dropped} dropped` +
      (quizzes.dropped > 0 ? ` (from ${plural(quizzes.problems_with_dropped, 'problem')})` : ''),
  );
  for (const { reason, count } of quizzes.dropped_by_reason) lines.push(`  ${count} × ${reason}`);
  lines.push(
    `  usable quizzes in ${plural(quizzes.problems_with_quizzes, 'problem')}; ` +
      `${quizzes.problems_without_quizzes} without any get generated ones`,
  );
  lines.push(
    `fields: ${fields.answer} with answer, ${fields.multimodal_question} with multimodal_question, ` +
      `${fields.elements} with elements`,
  );
  lines.push(...referenceLines(report.references, LISTED_MISSING_REFERENCES));

  const typeCount = Object.keys(taxonomy.image_types).length;
  lines.push(
    `taxonomy: ${plural(Object.keys(taxonomy.subjects).length, 'subject')}, ${plural(typeCount, 'image type')}; ` +
      `${taxonomy.without_subject} without a subject, ${taxonomy.without_image_type} without an image type ` +
      `(the classify step fills them)`,
  );
  for (const [subject, times] of Object.entries(taxonomy.subjects)) {
    const types = Object.entries(taxonomy.image_types)
      .filter(([imageType]) => imageType.startsWith(`${subject} - `))
      .map(([imageType, count]) => `${imageType.slice(subject.length + 3)} ${count}`);
    lines.push(`  ${subject} ${times}${types.length > 0 ? `: ${types.join(', ')}` : ''}`);
  }
  const ungrouped = Object.entries(taxonomy.image_types).filter(
    ([imageType]) => !Object.keys(taxonomy.subjects).some((subject) => imageType.startsWith(`${subject} - `)),
  );
  if (ungrouped.length > 0) {
    lines.push(`  other image types: ${ungrouped.map(([imageType, count]) => `${imageType} ${count}`).join(', ')}`);
  }
  if (taxonomy.unlisted_image_types.length > 0) {
    lines.push(`  not among the benchmark's 25 image types: ${taxonomy.unlisted_image_types.join(', ')}`);
  }
  lines.push(
    `staging: ${plural(staging.pages, 'page')} of at most ${staging.page_size} problems; largest problem ` +
      `${kibibytes(staging.largest_problem_bytes)} (a problem may be ${kibibytes(staging.max_problem_bytes)})`,
  );
  lines.push(...errorLines(report, LISTED_ERRORS));
  return lines;
}

/** The few lines `scigen build` prints of the same check before it starts. */
export function formatInputReportBrief(report: InputReport): string[] {
  const { quizzes, taxonomy } = report;
  const lines = [
    `${problemLines(report)[0]}; quizzes ${quizzes.usable} usable, ${quizzes.dropped} dropped; ` +
      `${plural(Object.keys(taxonomy.image_types).length, 'image type')}, ${taxonomy.without_image_type} problems without one`,
  ];
  const references = referenceLines(report.references, 5);
  if (report.references.folder !== null || report.references.named_by_problems > 0) lines.push(...references);
  return lines;
}

function problemLines(report: InputReport): string[] {
  const { total, valid, invalid } = report.problems;
  const wholeFile = report.errors.filter((error) => error.index < 0).length;
  return [
    `${report.input}: ${plural(total, 'problem')}, ${valid} valid, ${invalid} invalid` +
      (wholeFile > 0 ? `; ${plural(wholeFile, 'error')} about the file as a whole` : ''),
  ];
}

function referenceLines(references: ReferenceCounts, listed: number): string[] {
  const found = references.named_by_problems + references.from_folder;
  if (references.folder === null) {
    return [`references: ${found} named by the problems (reference_image / image)`];
  }
  const lines = [
    `references: ${found} found (${references.named_by_problems} named by the problems, ` +
      `${references.from_folder} from ${references.folder}, which holds ${plural(references.folder_images, 'image')}), ` +
      `${references.missing.length} missing`,
  ];
  if (references.missing.length > 0) {
    const shown = references.missing.slice(0, listed).map((id) => JSON.stringify(id));
    const more = references.missing.length > listed ? `, … and ${references.missing.length - listed} more` : '';
    lines.push(`  no image for ${shown.join(', ')}${more}`);
  }
  return lines;
}

/** The first `listed` errors, formatted as the build reports them, then how many more there are. */
export function errorLines(report: InputReport, listed: number): string[] {
  if (report.errors.length === 0) return [];
  const lines = [
    report.errors.length > listed
      ? `errors (the first ${listed} of ${report.errors.length}):`
      : `${plural(report.errors.length, 'error')}:`,
  ];
  for (const error of report.errors.slice(0, listed)) {
    const { id, ...rest } = error;
    lines.push(`  ${formatInputError(report.input, id === null ? rest : { ...rest, id })}`);
  }
  if (report.errors.length > listed) lines.push(`  … and ${report.errors.length - listed} more`);
  return lines;
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

function kibibytes(bytes: number): string {
  return `${(bytes / 1024).toFixed(1)} KiB`;
}
