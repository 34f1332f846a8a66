import { ApplicationFailure } from '@temporalio/common';
import pLimit from 'p-limit';
import { isProblemRecord, type ManifestRecord } from '../domain/manifest.ts';
import {
  problemVerdict,
  PROBLEM_RECORD_FORMAT,
  type ProblemRecord,
  type ProblemResult,
} from '../domain/problem-result.ts';
import type { Problem, StagedProblem, Usage, Verdict } from '../domain/types.ts';
import { ArtifactNotFoundError, type ArtifactStore } from '../storage/artifact-store.ts';
import { problemRecordKey, stagedProblemKey } from '../storage/build-layout.ts';
import { logInfo, withHeartbeats } from './activity-context.ts';

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

export interface ProblemPageEntry extends StagedProblem {
  /** Set when this problem already has a record: a resumed build does not redo it. */
  finished?: FinishedProblem;
}

export interface StageProblemInput {
  buildId: string;
  problemKey: string;
  problem: Problem;
}

export interface RecordProblemResultInput {
  buildId: string;
  problemKey: string;
  /** The problem, for the record's id, question, answer, reference image, dropped quizzes and extra fields. */
  problem: Problem;
  result: ProblemResult;
}

/** Record reads in flight at once: plenty for S3, harmless for files. */
export const RECORD_READ_CONCURRENCY = 32;

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

function finishedOf(record: ProblemRecord | ManifestRecord): FinishedProblem {
  return isProblemRecord(record) ? problemVerdict(record) : { verdict: record.verdict, usage: record.usage };
}

/** Reading and writing the records of a build's problems: registered on the `workflows` task queue. */
export function createRecordActivities(dependencies: { store: ArtifactStore }) {
  const { store } = dependencies;

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

  async function readProblemRecord(input: ReadProblemRecordInput): Promise<FinishedProblem | null> {
    const record = await readRecord(store, input.buildId, input.problemKey);
    return record ? finishedOf(record) : null;
  }

  /** Stages the problem where its activities read it, so their inputs carry keys and not the problem. */
  async function stageProblem(input: StageProblemInput): Promise<void> {
    await store.put(stagedProblemKey(input), JSON.stringify(input.problem), 'application/json');
  }

  async function recordProblemResult(input: RecordProblemResultInput): Promise<void> {
    const { problem, result } = input;
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

  return { readProblemPage, readProblemRecord, stageProblem, recordProblemResult };
}
