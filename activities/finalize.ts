import pLimit from 'p-limit';
import { manifestLine, unprocessedManifestLine, type ManifestRecord } from '../domain/manifest.ts';
import { givenTaxonomy } from '../domain/taxonomy.ts';
import { createSummaryAccumulator, type BuildSummary } from '../domain/summary.ts';
import type { BuildProtocol } from '../domain/protocol.ts';
import type { GeneratorSpec, ReplacedPrompt } from '../domain/types.ts';
import { ArtifactNotFoundError, type ArtifactStore } from '../storage/artifact-store.ts';
import { invalidRecordsKey, manifestKey, summaryKey } from '../storage/build-layout.ts';
import { heartbeat, withHeartbeats } from './activity-context.ts';
import { readRecord, readStagedPage, RECORD_READ_CONCURRENCY } from './record.ts';

export interface FinalizeBuildInput {
  buildId: string;
  inputPages: string[];
  /** A cancelled build: only problems with a record get a line. Otherwise a missing record is a failed line. */
  partial: boolean;
  /** The build's generators, in order, for the leaderboard (absent in builds from before generators). */
  generators?: GeneratorSpec[];
  /** The prompts the build's config replaced, written into summary.json. */
  prompts?: ReplacedPrompt[];
  /** The build's protocol and its settings, recorded in summary.json. */
  protocol?: BuildProtocol;
}

export interface FinalizeBuildOutput {
  manifestUri: string;
  summaryUri: string;
  summary: BuildSummary;
}

/** Writes manifest.jsonl and summary.json from the records once every problem has one: registered on the `workflows` task queue. */
export function createFinalizeBuild(dependencies: { store: ArtifactStore }) {
  const { store } = dependencies;
  const uri = (key: string) => store.uri(key);

  return async function finalizeBuild(input: FinalizeBuildInput): Promise<FinalizeBuildOutput> {
    const invalidRecords = await readInvalidRecords(store, input.buildId);
    const accumulator = createSummaryAccumulator(input.generators ? { generators: input.generators } : {});
    const limit = pLimit(RECORD_READ_CONCURRENCY);
    let written = 0;

    // One page of records at a time, read concurrently and written in input order, so the manifest
    // is never held whole and a million-problem build finishes in bounded memory.
    async function* manifestLines(): AsyncIterable<string> {
      for (const pageKey of input.inputPages) {
        const page = await readStagedPage(store, pageKey);
        const records = await Promise.all(
          page.map((entry) => limit(() => readRecord(store, input.buildId, entry.problemKey))),
        );
        for (const [index, found] of records.entries()) {
          const { problem } = page[index]!;
          let line: ManifestRecord;
          if (found !== null) line = manifestLine(found, uri);
          else if (input.partial) continue;
          else {
            const given = givenTaxonomy(problem);
            line = unprocessedManifestLine({
              id: problem.id,
              verdict: 'failed',
              reason: 'no result was recorded for this problem',
              subject: given.subject,
              imageType: given.image_type,
              extra: problem.extra,
            });
          }
          accumulator.add(line);
          written += 1;
          yield `${JSON.stringify(line)}\n`;
        }
        heartbeat({ written });
      }
      for (const line of invalidRecords) {
        accumulator.add(line);
        yield `${JSON.stringify(line)}\n`;
      }
    }

    const manifest = manifestKey(input.buildId);
    const summaryFile = summaryKey(input.buildId);
    await withHeartbeats(store.putStream(manifest, manifestLines(), 'application/x-ndjson'));
    const finished = accumulator.finish({ build_id: input.buildId, finished_at: new Date().toISOString() });
    const summary: BuildSummary = {
      ...finished,
      ...(input.prompts ? { prompts: input.prompts } : {}),
      ...(input.protocol ? { protocol: input.protocol } : {}),
    };
    await store.put(summaryFile, `${JSON.stringify(summary, null, 2)}\n`, 'application/json');
    return { manifestUri: store.uri(manifest), summaryUri: store.uri(summaryFile), summary };
  };
}

async function readInvalidRecords(store: ArtifactStore, buildId: string): Promise<ManifestRecord[]> {
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
