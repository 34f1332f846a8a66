import pLimit from 'p-limit';
import { inputDescriptionKey, manifestKey } from '../storage/build-layout.ts';
import { ArtifactNotFoundError, type ArtifactStore } from '../storage/artifact-store.ts';
import { createImagefolderWriter } from './imagefolder-writer.ts';
import type { ExportWriter } from './item-record.ts';
import {
  emptyCounts,
  keyOfUri,
  selectItems,
  type ExportItem,
  type SelectionCounts,
  type SelectionOptions,
} from './items.ts';
import { createJsonlWriter } from './jsonl-writer.ts';
import { createParquetWriter } from './parquet-writer.ts';

export const EXPORT_FORMATS = ['jsonl', 'parquet', 'hf'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

export interface ExportBuildOptions extends SelectionOptions {
  store: ArtifactStore;
  buildId: string;
  format: ExportFormat;
  /** A local folder; what the format writes there replaces an earlier export of that format. */
  outDirectory: string;
  /** Python with pyarrow, for `parquet`. */
  python?: string;
  /** Rows per Parquet row group. @default 256 */
  parquetRowsPerGroup?: number;
  /** Called for each item left out because its image could not be read. */
  onMissingImage?: (item: ExportItem, reason: string) => void;
}

export interface ExportBuildResult {
  paths: string[];
  items: number;
  counts: SelectionCounts;
  /** Items whose image URI is outside the store or whose artifact is gone: left out. */
  missingImages: number;
}

/** Why nothing was exported: no build, no manifest yet, or nothing selected. */
export class ExportError extends Error {
  override readonly name = 'ExportError';
}

/** Images read ahead of the writer: enough to hide S3 latency, few enough to bound memory. */
const IMAGE_READ_AHEAD = 8;

export function isExportFormat(value: string): value is ExportFormat {
  return (EXPORT_FORMATS as readonly string[]).includes(value);
}

async function createWriter(options: ExportBuildOptions): Promise<ExportWriter> {
  switch (options.format) {
    case 'jsonl':
      return createJsonlWriter(options.outDirectory);
    case 'hf':
      return createImagefolderWriter(options.outDirectory);
    case 'parquet':
      if (options.python === undefined)
        throw new ExportError('the parquet export needs a Python with pyarrow (run npm run setup)');
      return createParquetWriter(options.outDirectory, {
        python: options.python,
        ...(options.parquetRowsPerGroup === undefined ? {} : { rowsPerGroup: options.parquetRowsPerGroup }),
      });
  }
}

async function assertManifestExists(store: ArtifactStore, buildId: string): Promise<void> {
  if (await store.exists(manifestKey(buildId))) return;
  const started = await store.exists(inputDescriptionKey(buildId));
  throw new ExportError(
    started
      ? `build ${buildId} has no manifest yet (${store.uri(manifestKey(buildId))}): it is still running or did not finish; see scigen status ${buildId}`
      : `no build ${buildId} in the artifact store ${store.root} (no ${manifestKey(buildId)}); check the build id with scigen status ${buildId}, or SCIGEN_ARTIFACTS`,
  );
}

function describeEmpty(buildId: string, options: SelectionOptions, counts: SelectionCounts): string {
  const verdicts = Object.entries(counts.verdicts)
    .map(([verdict, count]) => `${verdict} ${count}`)
    .join(', ');
  const generators = [...counts.generators].join(', ') || 'none';
  if (options.generator !== undefined && !counts.generators.has(options.generator)) {
    return `build ${buildId} has no generator ${JSON.stringify(options.generator)} (its generators: ${generators})`;
  }
  const what = options.all ? 'no result with an image' : 'no accepted result';
  const more = options.all ? '' : '; --all exports every result that has an image';
  return `nothing to export from build ${buildId}: ${what} in ${counts.lines} manifest lines (verdicts: ${verdicts || 'none'}; generators: ${generators})${more}`;
}

/**
 * Exports a finished build's items. The manifest is streamed and images are read a few at a time,
 * so memory stays bounded whatever the build's size.
 */
export async function exportBuild(options: ExportBuildOptions): Promise<ExportBuildResult> {
  const { store, buildId } = options;
  await assertManifestExists(store, buildId);
  const counts = emptyCounts();
  const writer = await createWriter(options);
  const limit = pLimit(IMAGE_READ_AHEAD);
  let written = 0;
  let missingImages = 0;

  const readImage = async (item: ExportItem): Promise<Uint8Array | string> => {
    const key = keyOfUri(store, item.image);
    if (key === null) return `image ${item.image} is outside the artifact store ${store.root}`;
    try {
      return await store.get(key);
    } catch (error) {
      if (error instanceof ArtifactNotFoundError) return `image ${item.image} is missing`;
      throw error;
    }
  };

  const write = async (item: ExportItem, image: Uint8Array | string | null): Promise<void> => {
    if (typeof image === 'string') {
      missingImages += 1;
      options.onMissingImage?.(item, image);
      return;
    }
    await writer.add(item, image);
    written += 1;
  };

  try {
    // A small window of image reads in flight; items are written in manifest order.
    const pending: Array<{ item: ExportItem; image: Promise<Uint8Array | string | null> }> = [];
    for await (const item of selectItems(store, buildId, options, counts)) {
      const image = writer.needsImageBytes ? limit(() => readImage(item)) : Promise.resolve(null);
      image.catch(() => {});
      pending.push({ item, image });
      if (pending.length >= IMAGE_READ_AHEAD) {
        const next = pending.shift()!;
        await write(next.item, await next.image);
      }
    }
    for (const next of pending) await write(next.item, await next.image);
    if (written === 0) {
      throw new ExportError(
        counts.selected > 0
          ? `nothing to export from build ${buildId}: none of the ${counts.selected} selected images could be read`
          : describeEmpty(buildId, options, counts),
      );
    }
    const paths = await writer.finish();
    return { paths, items: written, counts, missingImages };
  } catch (error) {
    await writer.abort().catch(() => {});
    throw error;
  }
}
