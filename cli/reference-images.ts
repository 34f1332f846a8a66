import { readFile, stat } from 'node:fs/promises';
import { dirname, extname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import pLimit from 'p-limit';
import type { StagedProblem } from '../domain/types.ts';
import { referenceImageKey } from '../storage/build-layout.ts';
import type { InputError, ParsedProblems } from '../domain/input.ts';
import type { ArtifactStore } from '../storage/artifact-store.ts';
import { createS3Store } from '../storage/s3-store.ts';

/** Reference files checked or copied at once. */
const REFERENCE_CONCURRENCY = 8;

type ReferenceLocation = { kind: 'file'; path: string } | { kind: 's3'; bucket: string; key: string; uri: string };

/** A path is relative to the input file's folder; file:// and s3:// URIs are taken as they are. */
export function resolveReferenceLocation(reference: string, inputPath: string): ReferenceLocation {
  if (/^s3:\/\//i.test(reference)) {
    const match = /^s3:\/\/([^/]+)\/(.+)$/i.exec(reference);
    if (match === null) throw new Error(`not an object URI: ${reference} (expected s3://bucket/key)`);
    return { kind: 's3', bucket: match[1]!, key: match[2]!, uri: reference };
  }
  if (/^file:/i.test(reference)) return { kind: 'file', path: fileURLToPath(reference) };
  return { kind: 'file', path: resolve(dirname(inputPath), reference) };
}

function describe(location: ReferenceLocation): string {
  return location.kind === 'file' ? location.path : location.uri;
}

/** How reference objects on S3 are reached: config `s3PathStyle`. */
export interface ReferenceReadOptions {
  s3PathStyle?: boolean;
}

function bucketStore(location: { bucket: string }, options: ReferenceReadOptions): ArtifactStore {
  return createS3Store(`s3://${location.bucket}`, { pathStyle: options.s3PathStyle ?? false });
}

async function readReference(location: ReferenceLocation, options: ReferenceReadOptions): Promise<Uint8Array> {
  if (location.kind === 'file') return new Uint8Array(await readFile(location.path));
  return bucketStore(location, options).get(location.key);
}

async function referenceProblem(location: ReferenceLocation, options: ReferenceReadOptions): Promise<string | null> {
  try {
    if (location.kind === 'file') {
      return (await stat(location.path)).isFile() ? null : `${location.path} is not a file`;
    }
    return (await bucketStore(location, options).exists(location.key)) ? null : `no such object: ${location.uri}`;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return `no such file: ${describe(location)}`;
    return `cannot read ${describe(location)}: ${(error as Error).message}`;
  }
}

/**
 * Checks that every reference image the input names exists. A problem whose image is missing
 * becomes an input error on its line, like any other bad field.
 */
export async function checkReferenceImages(
  parsed: ParsedProblems,
  inputPath: string,
  options: ReferenceReadOptions = {},
): Promise<ParsedProblems> {
  const limit = pLimit(REFERENCE_CONCURRENCY);
  const problems = await Promise.all(
    parsed.problems.map((problem) =>
      limit(async () => {
        if (problem.reference_image === undefined) return null;
        try {
          return await referenceProblem(resolveReferenceLocation(problem.reference_image, inputPath), options);
        } catch (error) {
          return (error as Error).message;
        }
      }),
    ),
  );
  if (problems.every((problem) => problem === null)) return parsed;
  const kept: ParsedProblems = { problems: [], errors: [...parsed.errors], sources: [] };
  for (const [index, problem] of parsed.problems.entries()) {
    const source = parsed.sources[index]!;
    const message = problems[index];
    if (message === null || message === undefined) {
      kept.problems.push(problem);
      kept.sources.push(source);
      continue;
    }
    const error: InputError = {
      line: source.line,
      index: source.index,
      field: source.referenceField ?? 'reference_image',
      message,
      id: problem.id,
    };
    kept.errors.push(error);
  }
  kept.errors.sort((a, b) => a.index - b.index);
  return kept;
}

/**
 * Copies each problem's reference image into the store, at
 * `builds/<build>/references/<problem key>.<ext>`, and sets `reference_image_key`, so workers
 * anywhere read it from the store and never from the machine that started the build.
 */
export async function stageReferenceImages(
  store: ArtifactStore,
  buildId: string,
  problems: StagedProblem[],
  inputPath: string,
  options: ReferenceReadOptions = {},
): Promise<void> {
  const limit = pLimit(REFERENCE_CONCURRENCY);
  await Promise.all(
    problems.map((entry) =>
      limit(async () => {
        const reference = entry.problem.reference_image;
        if (reference === undefined) return;
        const location = resolveReferenceLocation(reference, inputPath);
        const extension = extname(location.kind === 'file' ? location.path : location.key).toLowerCase() || '.png';
        const key = referenceImageKey(
          buildId,
          entry.problemKey,
          /^\.[a-z0-9]{1,5}$/.test(extension) ? extension : '.png',
        );
        await store.put(key, await readReference(location, options));
        entry.problem.reference_image_key = key;
      }),
    ),
  );
}
