import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import { manifestKey, stagedPagesPrefix } from '../storage/build-layout.ts';
import { problemKey } from '../domain/input.ts';
import { FORMER_GENERATOR, resultFromTopLevel, type ManifestRecord, type ManifestResult } from '../domain/manifest.ts';
import type { ReferenceComparison } from '../domain/problem-result.ts';
import type { JudgeScores, Paradigm, StagedProblem, Verdict } from '../domain/types.ts';
import type { ArtifactStore } from '../storage/artifact-store.ts';

/** One exported example: one generator's result for one problem. */
export interface ExportItem {
  /** Unique within the export and safe as a file name: `<problem key>__<generator>`. */
  id: string;
  problemId: string | number;
  generator: string;
  paradigm: Paradigm;
  model: string | null;
  verdict: Verdict;
  reasons: string[];
  question: string | null;
  answer: string | null;
  subject: string | null;
  imageType: string | null;
  /** URIs as the manifest has them. */
  image: string;
  code: string | null;
  plan: string | null;
  judge: JudgeScores | null;
  rInv: number | null;
  /** PSNR null: identical to the reference (infinite PSNR). */
  reference: ReferenceComparison | null;
  extra: Record<string, unknown>;
}

export interface SelectionOptions {
  /** Every result that has an image, whatever its verdict; otherwise only `accepted` ones. */
  all: boolean;
  /** Keep only this generator's results. */
  generator?: string;
}

/** What the manifest held, for the closing line and for explaining an empty export. */
export interface SelectionCounts {
  lines: number;
  /** Results seen (after the generator filter), by verdict. */
  verdicts: Partial<Record<Verdict, number>>;
  /** Every generator name met, filtered or not, so a mistyped `--generator` can be told apart. */
  generators: Set<string>;
  selected: number;
  /** With `all`: results left out because they have no image (failed, skipped). */
  withoutImage: number;
}

/** Records written before generator results existed carry one ImgCoder result in their top-level fields. */

function resultsOf(record: ManifestRecord): ManifestResult[] {
  if (record.results !== undefined) return record.results;
  // An invalid input line never reached a generator.
  if (record.verdict === 'invalid') return [];
  return [resultFromTopLevel(record, { ...FORMER_GENERATOR, name: record.generator ?? FORMER_GENERATOR.name })];
}

/** The manifest's records one at a time, read as a stream: a build of any size fits. */
export async function* readManifest(store: ArtifactStore, buildId: string): AsyncIterable<ManifestRecord> {
  const lines = createInterface({ input: Readable.from(store.getStream(manifestKey(buildId))), crlfDelay: Infinity });
  let lineNumber = 0;
  for await (const line of lines) {
    lineNumber += 1;
    if (line.trim() === '') continue;
    try {
      yield JSON.parse(line) as ManifestRecord;
    } catch (error) {
      throw new Error(
        `${store.uri(manifestKey(buildId))}:${lineNumber}: malformed manifest line: ${(error as Error).message}`,
      );
    }
  }
}

/**
 * Questions of manifest lines written before lines carried them, from the staged input. The
 * manifest follows the staged input's order, so one page is held at a time and read forward.
 */
function createStagedQuestionLookup(store: ArtifactStore, buildId: string) {
  let pageKeys: string[] | undefined;
  let pageIndex = -1;
  let page = new Map<string, StagedProblem>();

  async function load(index: number): Promise<void> {
    const text = await store.getText(pageKeys![index]!);
    page = new Map(
      text
        .split('\n')
        .filter((line) => line.trim() !== '')
        .map((line) => JSON.parse(line) as StagedProblem)
        .map((entry) => [entry.problemKey, entry]),
    );
    pageIndex = index;
  }

  return async function stagedProblem(id: string | number): Promise<StagedProblem | null> {
    pageKeys ??= await store.list(stagedPagesPrefix(buildId));
    const key = problemKey(id);
    if (page.has(key)) return page.get(key)!;
    // Forward first (the usual case), then once around from the start.
    const order = [...pageKeys.keys()].map((offset) => (pageIndex + 1 + offset) % pageKeys!.length);
    for (const index of order) {
      if (index === pageIndex) continue;
      await load(index);
      if (page.has(key)) return page.get(key)!;
    }
    return null;
  };
}

/** Selects the items of a build's manifest, counting what it passes over in `counts`. */
export async function* selectItems(
  store: ArtifactStore,
  buildId: string,
  options: SelectionOptions,
  counts: SelectionCounts,
): AsyncIterable<ExportItem> {
  const stagedProblem = createStagedQuestionLookup(store, buildId);
  for await (const record of readManifest(store, buildId)) {
    counts.lines += 1;
    for (const result of resultsOf(record)) {
      counts.generators.add(result.generator);
      if (options.generator !== undefined && result.generator !== options.generator) continue;
      counts.verdicts[result.verdict] = (counts.verdicts[result.verdict] ?? 0) + 1;
      if (!options.all && result.verdict !== 'accepted') continue;
      if (result.image === null) {
        counts.withoutImage += 1;
        continue;
      }
      let question = record.question ?? null;
      let answer = record.answer ?? null;
      if (record.question === undefined) {
        const staged = await stagedProblem(record.id);
        question = staged?.problem.question ?? null;
        answer = staged?.problem.answer ?? null;
      }
      counts.selected += 1;
      yield {
        id: `${problemKey(record.id)}__${problemKey(result.generator)}`,
        problemId: record.id,
        generator: result.generator,
        paradigm: result.paradigm,
        model: result.model === '' ? null : result.model,
        verdict: result.verdict,
        reasons: result.reasons,
        question,
        answer,
        subject: record.subject,
        imageType: record.image_type,
        image: result.image,
        code: result.code,
        plan: record.plan,
        judge: result.judge,
        rInv: result.r_inv,
        reference: result.reference,
        extra: record.extra,
      };
    }
  }
}

export function emptyCounts(): SelectionCounts {
  return { lines: 0, verdicts: {}, generators: new Set(), selected: 0, withoutImage: 0 };
}

/**
 * The store key behind a URI the manifest shows. File URIs are percent-encoded by `uri()`, so
 * both sides are compared decoded.
 */
export function keyOfUri(store: ArtifactStore, uri: string): string | null {
  const root = store.root.startsWith('file:') ? decodeURI(store.root) : store.root;
  const target = uri.startsWith('file:') ? decodeURI(uri) : uri;
  return target.startsWith(`${root}/`) ? target.slice(root.length + 1) : null;
}
