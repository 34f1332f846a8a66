import pLimit from 'p-limit';
import { createSummaryAccumulator, type BuildSummary } from '../domain/summary.ts';
import {
  ZERO_USAGE,
  type GeneratorResult,
  type GeneratorSpec,
  type JudgeScores,
  type ManifestRecord,
  type Paradigm,
  type Problem,
  type QuizResult,
  type Usage,
  type Verdict,
} from '../domain/types.ts';
import { ArtifactNotFoundError, type ArtifactStore } from '../storage/artifact-store.ts';
import { heartbeat, logInfo, withHeartbeats } from './activity-context.ts';

/** One line of a build's staged input (`builds/<build>/input.jsonl`). */
export interface StagedProblem {
  problemKey: string;
  problem: Problem;
}

export function buildPrefix(buildId: string): string {
  return `builds/${buildId}`;
}

/** The staged input, page by page: the workflow reads one page at a time, never the whole dataset. */
export const stagedInputPageKey = (buildId: string, page: number) =>
  `${buildPrefix(buildId)}/input/page-${String(page).padStart(6, '0')}.jsonl`;
/** Manifest records of input lines that failed validation (`--skip-invalid`). */
export const invalidRecordsKey = (buildId: string) => `${buildPrefix(buildId)}/invalid.jsonl`;
const recordKey = (buildId: string, problemKey: string) => `${buildPrefix(buildId)}/records/${problemKey}.json`;

export interface ReadProblemPageInput {
  buildId: string;
  pageKey: string;
}

export interface ReadProblemRecordInput {
  buildId: string;
  problemKey: string;
}

export interface ProblemPageEntry extends StagedProblem {
  /** Set when this problem already has a record: a resumed build does not redo it. */
  finished?: { verdict: Verdict; usage: Usage };
}

/** What one generator made of a problem, with artifact keys the record turns into URIs. */
export interface GeneratorOutcome {
  generator: string;
  paradigm: Paradigm;
  model: string;
  verdict: Verdict;
  reasons: string[];
  /** What happened beside the verdict (a refinement round that failed, a comparison that could not be made). */
  notes: string[];
  imageKey: string | null;
  codeKey: string | null;
  judge: JudgeScores | null;
  judgeReasoning: GeneratorResult['judge_reasoning'];
  judgeKey: string | null;
  rInv: number | null;
  quizResults: QuizResult[] | null;
  renderAttempts: number;
  versions: Array<{
    round: number;
    imageKey: string;
    codeKey: string | null;
    judge: JudgeScores | null;
    critique: string | null;
  }>;
  reference: GeneratorResult['reference'];
  usage: Usage;
}

/**
 * What a problem workflow concluded, with artifact keys the record turns into URIs. The top-level
 * fields are the first generator's result; `generators` is absent from outcomes of workflows
 * started before generators existed.
 */
export interface ProblemOutcome {
  verdict: Verdict;
  reasons: string[];
  subject: string | null;
  imageType: string | null;
  imageKey: string | null;
  codeKey: string | null;
  planKey: string | null;
  judge: JudgeScores | null;
  rInv: number | null;
  renderAttempts: number;
  usage: Usage;
  quizKey?: string | null;
  generators?: GeneratorOutcome[];
}

export interface RecordProblemResultInput {
  buildId: string;
  problemKey: string;
  problemId: string | number;
  extra: Record<string, unknown>;
  outcome: ProblemOutcome;
  /** The problem itself, for the record's question, answer and reference image (absent in older workflows). */
  problem?: Problem;
}

export interface FinalizeBuildInput {
  buildId: string;
  inputPages: string[];
  /** A cancelled build: only problems with a record get a line. Otherwise a missing record is a failed line. */
  partial: boolean;
  /** The build's generators, in order, for the leaderboard (absent in builds from before generators). */
  generators?: GeneratorSpec[];
}

export interface FinalizeBuildOutput {
  manifestUri: string;
  summaryUri: string;
  summary: BuildSummary;
}

/** Record reads in flight at once: plenty for S3, harmless for files. */
const RECORD_READ_CONCURRENCY = 32;

/** A problem with no record when the build finished (its record could not be written): never dropped. */
function missingRecord(entry: StagedProblem): ManifestRecord {
  return {
    id: entry.problem.id,
    verdict: 'failed',
    reasons: ['no result was recorded for this problem'],
    subject: entry.problem.subject ?? null,
    image_type: entry.problem.image_type ?? null,
    image: null,
    code: null,
    plan: null,
    judge: null,
    r_inv: null,
    render_attempts: 0,
    usage: ZERO_USAGE,
    extra: entry.problem.extra,
  };
}

/** A generator's outcome as the manifest carries it: keys become URIs. */
function generatorResult(result: GeneratorOutcome, uri: (key: string | null) => string | null): GeneratorResult {
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
      image: uri(version.imageKey)!,
      code: uri(version.codeKey),
      judge: version.judge,
      critique: version.critique,
    })),
    reference: result.reference,
    usage: result.usage,
  };
}

export function createRecordActivities(dependencies: { store: ArtifactStore }) {
  const { store } = dependencies;

  async function readStagedInput(inputKey: string): Promise<StagedProblem[]> {
    const text = await store.getText(inputKey);
    return text
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map((line) => JSON.parse(line) as StagedProblem);
  }

  async function readRecord(buildId: string, problemKey: string): Promise<ManifestRecord | null> {
    try {
      return JSON.parse(await store.getText(recordKey(buildId, problemKey))) as ManifestRecord;
    } catch (error) {
      if (error instanceof ArtifactNotFoundError) return null;
      throw error;
    }
  }

  async function readProblemPage(input: ReadProblemPageInput): Promise<ProblemPageEntry[]> {
    const page = await readStagedInput(input.pageKey);
    const limit = pLimit(RECORD_READ_CONCURRENCY);
    return withHeartbeats(
      Promise.all(
        page.map((entry) =>
          limit(async (): Promise<ProblemPageEntry> => {
            const record = await readRecord(input.buildId, entry.problemKey);
            return record ? { ...entry, finished: { verdict: record.verdict, usage: record.usage } } : entry;
          }),
        ),
      ),
    );
  }

  async function readProblemRecord(input: ReadProblemRecordInput): Promise<{ verdict: Verdict; usage: Usage } | null> {
    const record = await readRecord(input.buildId, input.problemKey);
    return record ? { verdict: record.verdict, usage: record.usage } : null;
  }

  async function recordProblemResult(input: RecordProblemResultInput): Promise<void> {
    const { outcome } = input;
    const uri = (key: string | null) => (key === null ? null : store.uri(key));
    const record: ManifestRecord = {
      id: input.problemId,
      verdict: outcome.verdict,
      reasons: outcome.reasons,
      subject: outcome.subject,
      image_type: outcome.imageType,
      image: uri(outcome.imageKey),
      code: uri(outcome.codeKey),
      plan: uri(outcome.planKey),
      judge: outcome.judge,
      r_inv: outcome.rInv,
      render_attempts: outcome.renderAttempts,
      usage: outcome.usage,
      extra: input.extra,
      ...(input.problem
        ? {
            question: input.problem.question,
            answer: input.problem.answer ?? null,
            reference_image: uri(input.problem.reference_image_key ?? null),
          }
        : {}),
      ...(outcome.generators
        ? {
            generator: outcome.generators[0]!.generator,
            quizzes: uri(outcome.quizKey ?? null),
            results: outcome.generators.map((result) => generatorResult(result, uri)),
          }
        : {}),
    };
    await store.put(recordKey(input.buildId, input.problemKey), JSON.stringify(record), 'application/json');
    logInfo('problem recorded', {
      verdict: record.verdict,
      reasons: record.reasons,
      renderAttempts: record.render_attempts,
      rInv: record.r_inv,
    });
  }

  async function finalizeBuild(input: FinalizeBuildInput): Promise<FinalizeBuildOutput> {
    const invalidRecords = await readInvalidRecords(input.buildId);
    const accumulator = createSummaryAccumulator(input.generators ? { generators: input.generators } : {});
    const limit = pLimit(RECORD_READ_CONCURRENCY);
    let written = 0;

    // One page of records at a time, read concurrently and written in input order, so the manifest
    // is never held whole and a million-problem build finishes in bounded memory.
    async function* manifestLines(): AsyncIterable<string> {
      for (const pageKey of input.inputPages) {
        const page = await readStagedInput(pageKey);
        const records = await Promise.all(
          page.map((entry) => limit(() => readRecord(input.buildId, entry.problemKey))),
        );
        for (const [index, found] of records.entries()) {
          const entry = page[index]!;
          const record = found ?? (input.partial ? null : missingRecord(entry));
          if (record === null) continue;
          accumulator.add(record);
          written += 1;
          yield `${JSON.stringify(record)}\n`;
        }
        heartbeat({ written });
      }
      for (const record of invalidRecords) {
        accumulator.add(record);
        yield `${JSON.stringify(record)}\n`;
      }
    }

    const manifestKey = `${buildPrefix(input.buildId)}/manifest.jsonl`;
    const summaryKey = `${buildPrefix(input.buildId)}/summary.json`;
    await withHeartbeats(store.putStream(manifestKey, manifestLines(), 'application/x-ndjson'));
    const summary = accumulator.finish({ build_id: input.buildId, finished_at: new Date().toISOString() });
    await store.put(summaryKey, `${JSON.stringify(summary, null, 2)}\n`, 'application/json');
    return { manifestUri: store.uri(manifestKey), summaryUri: store.uri(summaryKey), summary };
  }

  async function readInvalidRecords(buildId: string): Promise<ManifestRecord[]> {
    try {
      const text = await store.getText(invalidRecordsKey(buildId));
      return text
        .split('\n')
        .filter((line) => line.trim() !== '')
        .map((line) => JSON.parse(line) as ManifestRecord);
    } catch (error) {
      if (error instanceof ArtifactNotFoundError) return [];
      throw error;
    }
  }

  return { readProblemPage, readProblemRecord, recordProblemResult, finalizeBuild };
}
