import { ApplicationFailure } from '@temporalio/common';
import { createSummaryAccumulator, type BuildSummary } from '../domain/summary.ts';
import type { JudgeScores, ManifestRecord, Problem, Usage, Verdict } from '../domain/types.ts';
import { ArtifactNotFoundError, type ArtifactStore } from '../storage/artifact-store.ts';

/** One line of a build's staged input (`builds/<build>/input.jsonl`). */
export interface StagedProblem {
  problemKey: string;
  problem: Problem;
}

export function buildPrefix(buildId: string): string {
  return `builds/${buildId}`;
}

export const stagedInputKey = (buildId: string) => `${buildPrefix(buildId)}/input.jsonl`;
/** Manifest records of input lines that failed validation (`--skip-invalid`). */
export const invalidRecordsKey = (buildId: string) => `${buildPrefix(buildId)}/invalid.jsonl`;
const recordKey = (buildId: string, problemKey: string) => `${buildPrefix(buildId)}/records/${problemKey}.json`;

export interface ReadProblemPageInput {
  buildId: string;
  inputKey: string;
  offset: number;
  limit: number;
}

export interface ProblemPageEntry extends StagedProblem {
  /** Set when this problem already has a record: a resumed build does not redo it. */
  finished?: { verdict: Verdict; usage: Usage };
}

/** What a problem workflow concluded, with artifact keys the record turns into URIs. */
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
}

export interface RecordProblemResultInput {
  buildId: string;
  problemKey: string;
  problemId: string | number;
  extra: Record<string, unknown>;
  outcome: ProblemOutcome;
}

export interface FinalizeBuildInput {
  buildId: string;
  inputKey: string;
}

export interface FinalizeBuildOutput {
  manifestUri: string;
  summaryUri: string;
  summary: BuildSummary;
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
    const page = (await readStagedInput(input.inputKey)).slice(input.offset, input.offset + input.limit);
    return Promise.all(
      page.map(async (entry): Promise<ProblemPageEntry> => {
        const record = await readRecord(input.buildId, entry.problemKey);
        return record ? { ...entry, finished: { verdict: record.verdict, usage: record.usage } } : entry;
      }),
    );
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
    };
    await store.put(recordKey(input.buildId, input.problemKey), JSON.stringify(record), 'application/json');
  }

  async function finalizeBuild(input: FinalizeBuildInput): Promise<FinalizeBuildOutput> {
    const staged = await readStagedInput(input.inputKey);
    const invalidRecords = await readInvalidRecords(input.buildId);
    const accumulator = createSummaryAccumulator();

    // Records are read one at a time and streamed out, so the manifest is never held whole.
    async function* manifestLines(): AsyncIterable<string> {
      for (const entry of staged) {
        const record = await readRecord(input.buildId, entry.problemKey);
        if (!record) {
          throw ApplicationFailure.nonRetryable(`no result recorded for problem ${JSON.stringify(entry.problem.id)}`, 'MissingProblemRecord');
        }
        accumulator.add(record);
        yield `${JSON.stringify(record)}\n`;
      }
      for (const record of invalidRecords) {
        accumulator.add(record);
        yield `${JSON.stringify(record)}\n`;
      }
    }

    const manifestKey = `${buildPrefix(input.buildId)}/manifest.jsonl`;
    const summaryKey = `${buildPrefix(input.buildId)}/summary.json`;
    await store.putStream(manifestKey, manifestLines(), 'application/x-ndjson');
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

  return { readProblemPage, recordProblemResult, finalizeBuild };
}
