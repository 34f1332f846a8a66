import { ApplicationFailure } from '@temporalio/common';
import pLimit from 'p-limit';
import { isProblemRecord, type ManifestRecord } from '../domain/manifest.ts';
import {
  problemVerdict,
  PROBLEM_RECORD_FORMAT,
  type ProblemRecord,
  type ProblemResult,
} from '../domain/problem-result.ts';
import { problemFacts, type ProblemFacts } from '../domain/problem-facts.ts';
import type { Problem, StagedProblem, Usage, Verdict } from '../domain/types.ts';
import { ArtifactNotFoundError, type ArtifactStore } from '../storage/artifact-store.ts';
import { problemRecordKey, stagedProblemKey, type ProblemLocation } from '../storage/build-layout.ts';
import type { StagedProblemReference } from '../domain/staged-pages.ts';
import { logInfo, withHeartbeats } from './activity-context.ts';
import { readStagedProblem } from './types.ts';

export interface ReadProblemPageInput {
  buildId: string;
  pageKey: string;
}

export interface ReadProblemRecordInput {
  buildId: string;
  problemKey: string;
}

/** What the build counts of a finished problem. */
export interface FinishedProblem {
  verdict: Verdict;
  usage: Usage;
}

/** A page's problem whole, as builds from before 2026-11-26 read it (`readProblemPage`). */
export interface ProblemPageEntry extends StagedProblem {
  /** Set when this problem already has a record: a resumed build does not redo it. */
  finished?: FinishedProblem;
}

/** What the build needs of a page's problem (`listPageProblems`): its key, its id, and whether it is done. */
export interface PageProblem {
  problemKey: string;
  problemId: string | number;
  /** Set when this problem already has a record: a resumed build does not redo it. */
  finished?: FinishedProblem;
}

/** Where the problem to stage is: its line on a staged page, or (problems of older builds) the problem itself. */
export type StageProblemInput = ProblemLocation & ({ staged: StagedProblemReference } | { problem: Problem });

export interface RecordProblemResultInput {
  buildId: string;
  problemKey: string;
  /**
   * The problem, for the record's id, question, answer, reference image, dropped quizzes and extra
   * fields, from problem workflows of builds before 2026-11-26. Absent: read where it was staged.
   */
  problem?: Problem;
  /** The problem's staged page, read when its own staged copy is missing (staging never ran). */
  staged?: StagedProblemReference;
  result: ProblemResult;
}

/** Record reads in flight at once: plenty for S3, harmless for files. */
export const RECORD_READ_CONCURRENCY = 32;

/**
 * Parsed pages a worker keeps for staging problems: the build starts a page's problems one after
 * another, so each worker reads a page (at most 256 KiB) about once instead of once per problem.
 */
export const STAGED_PAGE_CACHE_SIZE = 8;

/**
 * The staged problems of one page. A page that is missing or does not parse can never be read by
 * retrying: it fails the build with a non-retryable failure naming the page and the reason.
 */
export async function readStagedPage(store: ArtifactStore, pageKey: string): Promise<StagedProblem[]> {
  let text: string;
  try {
    text = await store.getText(pageKey);
  } catch (error) {
    if (!(error instanceof ArtifactNotFoundError)) throw error;
    throw ApplicationFailure.nonRetryable(
      `staged input page ${store.uri(pageKey)} is missing; start the build again from its input file`,
      'StagedInputUnreadable',
    );
  }
  return text.split('\n').flatMap((line, index) => {
    if (line.trim() === '') return [];
    try {
      const entry = JSON.parse(line) as StagedProblem;
      if (typeof entry?.problemKey !== 'string' || typeof entry.problem !== 'object' || entry.problem === null)
        throw new Error('not a staged problem (problemKey and problem expected)');
      return [entry];
    } catch (error) {
      throw ApplicationFailure.nonRetryable(
        `staged input page ${store.uri(pageKey)} is corrupt at line ${index + 1}: ${(error as Error).message}`,
        'StagedInputUnreadable',
      );
    }
  });
}

/** A problem's record, in either layout (a ProblemRecord, or a manifest line from before it). */
export async function readRecord(
  store: ArtifactStore,
  buildId: string,
  problemKey: string,
): Promise<ProblemRecord | ManifestRecord | null> {
  try {
    return JSON.parse(await store.getText(problemRecordKey(buildId, problemKey))) as ProblemRecord | ManifestRecord;
  } catch (error) {
    if (error instanceof ArtifactNotFoundError) return null;
    throw error;
  }
}

/** The most recently used staged pages, parsed; a page that could not be read is not kept. */
function createPageCache(store: ArtifactStore, capacity: number) {
  const pages = new Map<string, Promise<StagedProblem[]>>();
  return (pageKey: string): Promise<StagedProblem[]> => {
    let page = pages.get(pageKey);
    if (page) {
      pages.delete(pageKey);
    } else {
      page = readStagedPage(store, pageKey);
      page.catch(() => {
        if (pages.get(pageKey) === page) pages.delete(pageKey);
      });
    }
    pages.set(pageKey, page);
    if (pages.size > capacity) pages.delete(pages.keys().next().value!);
    return page;
  };
}

/** The problem on a staged page's line, checked by key (a page rewritten since the build started is caught). */
async function problemOnPage(
  readPage: (pageKey: string) => Promise<StagedProblem[]>,
  store: ArtifactStore,
  problemKey: string,
  staged: StagedProblemReference,
): Promise<Problem> {
  const page = await readPage(staged.pageKey);
  const entry = page[staged.index]?.problemKey === problemKey ? page[staged.index] : undefined;
  const found = entry ?? page.find((candidate) => candidate.problemKey === problemKey);
  if (!found) {
    throw ApplicationFailure.nonRetryable(
      `problem ${problemKey} is not on staged input page ${store.uri(staged.pageKey)}; start the build again from its input file`,
      'StagedInputUnreadable',
    );
  }
  return found.problem;
}

function finishedOf(record: ProblemRecord | ManifestRecord): FinishedProblem {
  return isProblemRecord(record) ? problemVerdict(record) : { verdict: record.verdict, usage: record.usage };
}

/** Reading and writing the records of a build's problems: registered on the `workflows` task queue. */
export function createRecordActivities(dependencies: { store: ArtifactStore }) {
  const { store } = dependencies;

  const readCachedPage = createPageCache(store, STAGED_PAGE_CACHE_SIZE);

  /** A page's problems whole: what builds from before 2026-11-26 read; kept for those still running. */
  async function readProblemPage(input: ReadProblemPageInput): Promise<ProblemPageEntry[]> {
    const page = await readStagedPage(store, input.pageKey);
    const limit = pLimit(RECORD_READ_CONCURRENCY);
    return withHeartbeats(
      Promise.all(
        page.map((entry) =>
          limit(async (): Promise<ProblemPageEntry> => {
            const record = await readRecord(store, input.buildId, entry.problemKey);
            return record ? { ...entry, finished: finishedOf(record) } : entry;
          }),
        ),
      ),
    );
  }

  /** A page's problems by key and id, each with its verdict when it already has a record. */
  async function listPageProblems(input: ReadProblemPageInput): Promise<PageProblem[]> {
    const page = await readStagedPage(store, input.pageKey);
    const limit = pLimit(RECORD_READ_CONCURRENCY);
    return withHeartbeats(
      Promise.all(
        page.map(({ problemKey, problem }) =>
          limit(async (): Promise<PageProblem> => {
            const record = await readRecord(store, input.buildId, problemKey);
            return { problemKey, problemId: problem.id, ...(record ? { finished: finishedOf(record) } : {}) };
          }),
        ),
      ),
    );
  }

  async function readProblemRecord(input: ReadProblemRecordInput): Promise<FinishedProblem | null> {
    const record = await readRecord(store, input.buildId, input.problemKey);
    return record ? finishedOf(record) : null;
  }

  /**
   * Stages the problem where its activities read it, so their inputs carry keys and not the
   * problem, and tells the workflow what it branches on. A local activity: its result is a marker
   * in the problem's history, so it is the few facts, never the problem.
   */
  async function stageProblem(input: StageProblemInput): Promise<ProblemFacts> {
    const problem =
      'problem' in input ? input.problem : await problemOnPage(readCachedPage, store, input.problemKey, input.staged);
    await store.put(stagedProblemKey(input), JSON.stringify(problem), 'application/json');
    return problemFacts(problem);
  }

  async function recordedProblem(input: RecordProblemResultInput): Promise<Problem> {
    if (input.problem) return input.problem;
    try {
      return await readStagedProblem(store, input);
    } catch (error) {
      if (!(error instanceof ArtifactNotFoundError) || !input.staged) throw error;
      return problemOnPage(readCachedPage, store, input.problemKey, input.staged);
    }
  }

  async function recordProblemResult(input: RecordProblemResultInput): Promise<void> {
    const problem = await recordedProblem(input);
    const result = withVisualQuestions(input.result, problem);
    const record: ProblemRecord = {
      format: PROBLEM_RECORD_FORMAT,
      id: problem.id,
      question: problem.question,
      answer: problem.answer ?? null,
      referenceImageKey: problem.reference_image_key ?? null,
      ...(problem.dropped_quizzes === undefined ? {} : { droppedQuizzes: problem.dropped_quizzes }),
      ...(problem.multimodal_question === undefined ? {} : { multimodalQuestion: problem.multimodal_question }),
      ...(problem.elements === undefined ? {} : { elements: problem.elements }),
      extra: problem.extra,
      ...result,
    };
    await store.put(problemRecordKey(input.buildId, input.problemKey), JSON.stringify(record), 'application/json');
    const primary = result.results[0];
    logInfo('problem recorded', {
      verdict: problemVerdict(result).verdict,
      reasons: primary?.reasons ?? [],
      renderAttempts: primary?.renderAttempts ?? 0,
      rInv: primary?.rInv ?? null,
    });
  }

  return { readProblemPage, listPageProblems, readProblemRecord, stageProblem, recordProblemResult };
}

/** The VE results with the question they asked: the workflow, which never holds the problem's texts, leaves it out. */
function withVisualQuestions(result: ProblemResult, problem: Problem): ProblemResult {
  const question = problem.multimodal_question ?? '';
  return {
    ...result,
    results: result.results.map((each) => (each.ve ? { ...each, ve: { ...each.ve, question } } : each)),
  };
}
