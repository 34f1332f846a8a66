/**
 * Writes a build's static report: `index.html`, the card chunks under `data/`, and copies of every
 * image, code, plan and judge file it links under `files/`, so the directory opens from file://
 * with no server and no network, whether the artifacts live on disk or on S3.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import pLimit from 'p-limit';
import { buildPrefix, manifestKey, summaryKey } from '../storage/build-layout.ts';
import { createSummaryAccumulator, UNKNOWN_GROUP, type BuildSummary } from '../domain/summary.ts';
import type { ManifestRecord } from '../domain/manifest.ts';
import { VERDICTS } from '../domain/types.ts';
import { ArtifactNotFoundError, type ArtifactStore } from '../storage/artifact-store.ts';
import { compareNames, entriesOf, type KnownGenerator, type ReportEntry } from './aggregate.ts';
import { cardChunkPath, renderCardChunk, renderReportPage, type ReportCard, type ReportIndex } from './html.ts';

export interface WriteReportInput {
  store: ArtifactStore;
  buildId: string;
  /** Created when missing; files of an earlier report there are overwritten. */
  outputDirectory: string;
  /** Cards per data chunk: the page loads one chunk per script tag. @default 100 */
  chunkSize?: number;
  /** Artifact copies in flight at once. @default 16 */
  copyConcurrency?: number;
}

export interface WriteReportOutput {
  indexPath: string;
  problems: number;
  cards: number;
  /** Manifest lines that could not be read, and the like: the report was written without them. */
  warnings: string[];
}

export class ManifestNotFoundError extends Error {
  override readonly name = 'ManifestNotFoundError';
  constructor(
    readonly buildId: string,
    readonly uri: string,
  ) {
    super(`build ${buildId} has no manifest at ${uri} (has it finished? scigen status ${buildId})`);
  }
}

/** Ids of names in the order first seen; sorted at the end, with the index entries remapped. */
class NameTable {
  private readonly ids = new Map<string, number>();
  readonly names: string[] = [];
  idOf(name: string): number {
    let id = this.ids.get(name);
    if (id === undefined) {
      id = this.names.length;
      this.ids.set(name, id);
      this.names.push(name);
    }
    return id;
  }
  /** Sorted names and, per old id, the new one. */
  sorted(): { names: string[]; newIds: number[] } {
    const names = [...this.names].sort(compareNames);
    const position = new Map(names.map((name, id) => [name, id]));
    return { names, newIds: this.names.map((name) => position.get(name)!) };
  }
}

async function readSummary(store: ArtifactStore, buildId: string): Promise<BuildSummary | null> {
  try {
    return JSON.parse(await store.getText(summaryKey(buildId))) as BuildSummary;
  } catch (error) {
    if (error instanceof ArtifactNotFoundError || error instanceof SyntaxError) return null;
    throw error;
  }
}

async function* manifestRecords(store: ArtifactStore, key: string, warnings: string[]): AsyncIterable<ManifestRecord> {
  const lines = createInterface({ input: Readable.from(store.getStream(key)), crlfDelay: Infinity });
  let lineNumber = 0;
  for await (const line of lines) {
    lineNumber++;
    if (line.trim() === '') continue;
    try {
      yield JSON.parse(line) as ManifestRecord;
    } catch (error) {
      warnings.push(`manifest line ${lineNumber} is not JSON (${(error as Error).message}); left out of the report`);
    }
  }
}

/** A path relative to the report directory as an href: each segment percent-encoded. */
function hrefOf(relativePath: string): string {
  return relativePath.split('/').map(encodeURIComponent).join('/');
}

/**
 * Copies artifacts named by manifest URIs into the report. Keys under the build keep their layout
 * (`files/problems/<problem>/…`); a file:// URI outside the store is copied by content hash; any
 * other URI is reported as not copied.
 */
function createArtifactCopier(store: ArtifactStore, buildId: string, outputDirectory: string) {
  const storeRoot = `${store.root}/`;
  const buildKeyPrefix = `${buildPrefix(buildId)}/`;
  const isFileStore = store.root.startsWith('file:');

  async function copyBytes(relativePath: string, read: () => Promise<Uint8Array>): Promise<string> {
    const target = join(outputDirectory, ...relativePath.split('/'));
    await mkdir(dirname(target), { recursive: true });
    await writeFile(target, await read());
    return hrefOf(relativePath);
  }

  return async function copy(uri: string, notes: string[]): Promise<string | null> {
    try {
      if (uri.startsWith(storeRoot)) {
        const rest = uri.slice(storeRoot.length);
        const key = isFileStore ? rest.split('/').map(decodeURIComponent).join('/') : rest;
        const relativePath = key.startsWith(buildKeyPrefix)
          ? `files/${key.slice(buildKeyPrefix.length)}`
          : `files/store/${key}`;
        return await copyBytes(relativePath, () => store.get(key));
      }
      if (uri.startsWith('file:')) {
        const path = fileURLToPath(uri);
        const name = path.split(/[\\/]/).at(-1) ?? 'artifact';
        const digest = createHash('sha256').update(uri).digest('hex').slice(0, 12);
        return await copyBytes(`files/external/${digest}-${name}`, async () => new Uint8Array(await readFile(path)));
      }
      notes.push(`${uri} is outside the artifact store ${store.root}; not copied`);
      return null;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (error instanceof ArtifactNotFoundError || code === 'ENOENT') {
        notes.push(`missing: ${uri}`);
        return null;
      }
      throw error;
    }
  };
}

export async function writeReport(input: WriteReportInput): Promise<WriteReportOutput> {
  const { store, buildId, outputDirectory } = input;
  const chunkSize = input.chunkSize ?? 100;
  const limit = pLimit(input.copyConcurrency ?? 16);
  const manifest = manifestKey(buildId);
  if (!(await store.exists(manifest))) throw new ManifestNotFoundError(buildId, store.uri(manifest));

  const summary = await readSummary(store, buildId);
  const knownGenerators: KnownGenerator[] = (summary?.generators ?? []).map(({ generator, paradigm, model }) => ({
    generator,
    paradigm,
    model,
  }));
  const copyArtifact = createArtifactCopier(store, buildId, outputDirectory);
  // The leaderboard counted as summary.json counts it; lines without results go to the summary's generators.
  const leaderboard = createSummaryAccumulator(
    knownGenerators.length > 0
      ? { generators: knownGenerators.map(({ generator, paradigm, model }) => ({ name: generator, paradigm, model })) }
      : {},
  );
  const generators = new NameTable();
  const subjects = new NameTable();
  const imageTypes = new NameTable();
  const entries: number[] = [];
  const warnings: string[] = [];
  let problems = 0;
  let cards = 0;
  let chunk = 0;
  let pending: ReportEntry[] = [];

  await mkdir(join(outputDirectory, 'data'), { recursive: true });

  async function toCard(
    { record, result }: ReportEntry,
    copies: Map<string, Promise<string | null>>,
  ): Promise<ReportCard> {
    const notes: string[] = [];
    // The plan is shared by a problem's generators, and the last version is the final image: copy each once.
    const copy = (uri: string | null): Promise<string | null> => {
      if (uri === null) return Promise.resolve(null);
      let copied = copies.get(uri);
      if (copied === undefined) {
        copied = limit(() => copyArtifact(uri, notes));
        copies.set(uri, copied);
      }
      return copied;
    };
    const versions = result.versions.length > 1 ? result.versions : [];
    return {
      id: record.id,
      generator: result.generator,
      paradigm: result.paradigm,
      model: result.model,
      verdict: result.verdict,
      subject: record.subject,
      image_type: record.image_type,
      question: record.question ?? null,
      answer: record.answer ?? null,
      image: await copy(result.image),
      code: await copy(result.code),
      plan: await copy(record.plan),
      judge_file: await copy(result.judge_uri),
      judge: result.judge,
      judge_reasoning: result.judge_reasoning,
      r_inv: result.r_inv,
      reasons: result.reasons,
      quiz_results: result.quiz_results,
      versions: await Promise.all(
        versions.map(async (version) => ({
          ...version,
          image: await copy(version.image),
          code: await copy(version.code),
        })),
      ),
      reference: result.reference,
      render_attempts: result.render_attempts,
      notes,
    };
  }

  async function flushChunk(): Promise<void> {
    if (pending.length === 0) return;
    const copies = new Map<string, Promise<string | null>>();
    const chunkCards = await Promise.all(pending.map((entry) => toCard(entry, copies)));
    await writeFile(join(outputDirectory, ...cardChunkPath(chunk).split('/')), renderCardChunk(chunk, chunkCards));
    chunk++;
    pending = [];
  }

  for await (const record of manifestRecords(store, manifest, warnings)) {
    problems++;
    leaderboard.add(record);
    for (const entry of entriesOf(record, knownGenerators)) {
      entries.push(
        generators.idOf(entry.result.generator),
        VERDICTS.indexOf(entry.result.verdict),
        subjects.idOf(record.subject ?? UNKNOWN_GROUP),
        imageTypes.idOf(record.image_type ?? UNKNOWN_GROUP),
      );
      cards++;
      pending.push(entry);
      if (pending.length === chunkSize) await flushChunk();
    }
  }
  await flushChunk();

  const sortedSubjects = subjects.sorted();
  const sortedImageTypes = imageTypes.sorted();
  for (let position = 0; position < entries.length; position += 4) {
    entries[position + 2] = sortedSubjects.newIds[entries[position + 2]!]!;
    entries[position + 3] = sortedImageTypes.newIds[entries[position + 3]!]!;
  }
  const index: ReportIndex = {
    count: cards,
    chunkSize,
    generators: generators.names,
    verdicts: [...VERDICTS],
    subjects: sortedSubjects.names,
    imageTypes: sortedImageTypes.names,
    entries,
  };
  const indexPath = join(outputDirectory, 'index.html');
  const page = renderReportPage({
    buildId,
    summary,
    leaderboard: leaderboard.finish({ build_id: buildId, finished_at: '' }).generators,
    index,
    problems,
    generatedAt: new Date().toISOString(),
  });
  await writeFile(indexPath, page);
  return { indexPath, problems, cards, warnings };
}
