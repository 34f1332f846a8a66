/**
 * manifest.jsonl's lines (CONTRACT.md, Output), and the one place they are made: from a problem's
 * record when the build finishes. Keys become URIs here and nowhere else, and the contract's
 * top-level fields are the build's first generator's result.
 */
import type { ClassifiedTaxonomy } from './taxonomy.ts';
import type { GeneratorResult, GeneratorVerdict, JudgeReasoning, ProblemRecord } from './problem-result.ts';
import {
  ZERO_USAGE,
  type DroppedQuiz,
  type GeneratorSpec,
  type JudgeScores,
  type Problem,
  type QuizResult,
  type Usage,
  type Verdict,
} from './types.ts';

/** One image version of a generator as the manifest carries it. */
export interface ManifestImageVersion {
  round: number;
  image: string;
  code: string | null;
  judge: JudgeScores | null;
  critique: string | null;
}

/** One generator's result as the manifest carries it (domain/problem-result.ts GeneratorResult, keys as URIs). */
export interface ManifestResult extends GeneratorVerdict {
  image: string | null;
  code: string | null;
  judge_reasoning: JudgeReasoning | null;
  judge_uri: string | null;
  r_inv: number | null;
  quiz_results: QuizResult[] | null;
  render_attempts: number;
  versions: ManifestImageVersion[];
  /** The VE question's outcome (domain/problem-result.ts VisualAnswer); absent or null when it did not run. */
  ve?: ManifestVisualAnswer | null;
}

export interface ManifestVisualAnswer {
  question: string;
  answer_uri: string;
  correct: boolean;
  reason: string;
}

/** One manifest.jsonl line: the fields CONTRACT.md fixes, then scigen's additions. */
export interface ManifestRecord {
  id: string | number;
  verdict: Verdict;
  reasons: string[];
  subject: string | null;
  image_type: string | null;
  image: string | null;
  code: string | null;
  plan: string | null;
  judge: JudgeScores | null;
  r_inv: number | null;
  render_attempts: number;
  usage: Usage;
  extra: Record<string, unknown>;
  /** Additions (absent from lines written before they existed, and from `invalid` lines): */
  /** The classify step's subject and image type, kept beside the data's (which win); null when it did not run. */
  classified?: ClassifiedTaxonomy | null;
  /** Name of the generator whose result the top-level fields carry (the build's first). */
  generator?: string;
  /** URI of the quizzes used when they were generated, shared by all generators. */
  quizzes?: string | null;
  /** The problem's question and given answer, for reports and exports. */
  question?: string;
  answer?: string | null;
  /** SciGenBench's question about the image and the elements it should show, when the problem has them. */
  multimodal_question?: string;
  elements?: string[];
  /** URI of the staged reference image, when the problem has one. */
  reference_image?: string | null;
  /** The input's quizzes that could not be used (by position in the input's list), when there were any. */
  dropped_quizzes?: DroppedQuiz[];
  /** One entry per generator of the build, the first one first. */
  results?: ManifestResult[];
}

/** Turns an artifact key into the URI a manifest shows (ArtifactStore.uri). */
export type UriOf = (key: string) => string;

/** A record's manifest line. Records written before ProblemRecord existed were manifest lines already. */
export function manifestLine(record: ProblemRecord | ManifestRecord, uriOf: UriOf): ManifestRecord {
  if (!isProblemRecord(record)) return record;
  const uri = (key: string | null) => (key === null ? null : uriOf(key));
  const results = record.results.map((result) => manifestResult(result, uriOf, record.multimodalQuestion));
  const primary = results[0]!;
  return {
    id: record.id,
    verdict: primary.verdict,
    reasons: primary.reasons,
    subject: record.subject,
    image_type: record.imageType,
    classified: record.classified ?? null,
    image: primary.image,
    code: primary.code,
    plan: uri(record.planKey),
    judge: primary.judge,
    r_inv: primary.r_inv,
    render_attempts: primary.render_attempts,
    usage: record.usage,
    extra: record.extra,
    question: record.question,
    answer: record.answer,
    ...(record.multimodalQuestion === undefined ? {} : { multimodal_question: record.multimodalQuestion }),
    ...(record.elements === undefined ? {} : { elements: record.elements }),
    reference_image: uri(record.referenceImageKey),
    generator: primary.generator,
    quizzes: uri(record.quizKey),
    ...(record.droppedQuizzes?.length ? { dropped_quizzes: record.droppedQuizzes } : {}),
    results,
  };
}

export function isProblemRecord(record: ProblemRecord | ManifestRecord): record is ProblemRecord {
  return 'format' in record && record.format === 2;
}

function manifestResult(result: GeneratorResult, uriOf: UriOf, visualQuestion: string | undefined): ManifestResult {
  const uri = (key: string | null) => (key === null ? null : uriOf(key));
  return {
    generator: result.generator,
    paradigm: result.paradigm,
    model: result.model,
    verdict: result.verdict,
    reasons: result.reasons,
    notes: result.notes,
    image: uri(result.imageKey),
    code: uri(result.codeKey),
    judge: result.judge,
    judge_reasoning: result.judgeReasoning,
    judge_uri: uri(result.judgeKey),
    r_inv: result.rInv,
    quiz_results: result.quizResults,
    render_attempts: result.renderAttempts,
    versions: result.versions.map((version) => ({
      round: version.round,
      image: uriOf(version.imageKey),
      code: uri(version.codeKey),
      judge: version.judge,
      critique: version.critique,
    })),
    reference: result.reference,
    usage: result.usage,
    ...(result.ve === undefined
      ? {}
      : {
          ve:
            result.ve === null
              ? null
              : {
                  question: result.ve.question ?? visualQuestion ?? '',
                  answer_uri: uriOf(result.ve.answerKey),
                  correct: result.ve.correct,
                  reason: result.ve.reason,
                },
        }),
  };
}

/**
 * A manifest line that no generator got to: an invalid input problem (every reason it is invalid),
 * or a problem that left no record.
 */
export function unprocessedManifestLine(line: {
  id: Problem['id'];
  verdict: Verdict;
  reason: string | string[];
  subject?: string | null;
  imageType?: string | null;
  extra?: Record<string, unknown>;
}): ManifestRecord {
  return {
    id: line.id,
    verdict: line.verdict,
    reasons: typeof line.reason === 'string' ? [line.reason] : line.reason,
    subject: line.subject ?? null,
    image_type: line.imageType ?? null,
    image: null,
    code: null,
    plan: null,
    judge: null,
    r_inv: null,
    render_attempts: 0,
    usage: ZERO_USAGE,
    extra: line.extra ?? {},
  };
}

/** Builds from before generators existed had one code generator of this name. */
export const FORMER_GENERATOR: GeneratorSpec = { name: 'imgcoder', paradigm: 'code', model: '' };

/**
 * A manifest line's top-level fields as one generator's result: for lines without `results` (an
 * invalid input line, or a line from before generators existed).
 */
export function resultFromTopLevel(
  record: ManifestRecord,
  generator: GeneratorSpec,
  usage: Usage = record.usage,
): ManifestResult {
  return {
    generator: generator.name,
    paradigm: generator.paradigm,
    model: generator.model,
    verdict: record.verdict,
    reasons: record.reasons,
    notes: [],
    image: record.image,
    code: record.code,
    judge: record.judge,
    judge_reasoning: null,
    judge_uri: null,
    r_inv: record.r_inv,
    quiz_results: null,
    render_attempts: record.render_attempts,
    versions: [],
    reference: null,
    usage,
  };
}
