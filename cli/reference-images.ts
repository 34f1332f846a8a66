import { readdir, readFile, stat } from 'node:fs/promises';
import { dirname, extname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import pLimit from 'p-limit';
import type { ReferenceCounts } from '../domain/input-report.ts';
import type { Problem, StagedProblem } from '../domain/types.ts';
import { referenceImageKey } from '../storage/build-layout.ts';
import type { InputError, ParsedProblems } from '../domain/input.ts';
import type { ArtifactStore } from '../storage/artifact-store.ts';
import { resolveFileLocation } from '../storage/file-store.ts';
import { createS3Store } from '../storage/s3-store.ts';
import { badInput } from './errors.ts';

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

/** The extensions a reference image found by id may have, the first one preferred when several exist. */
export const REFERENCE_EXTENSIONS = ['.png', '.jpg', '.jpeg', '.webp'] as const;

/** A folder of reference images named by problem id (`--references`, config `input.references`). */
export interface ReferenceFolder {
  /** The folder as the user gave it. */
  location: string;
  /** Each image's name without its extension (`4101` for `4101.png`) to the URI staging reads it from. */
  images: Map<string, string>;
}

/**
 * Lists the images directly in a folder: a path, a file:// URI or an s3:// URI (read with the
 * artifact store's S3 client setup). A local folder that does not exist is bad input; an S3 prefix
 * cannot be told apart from an empty one, so there every problem's image is missing instead.
 */
export async function openReferenceFolder(
  location: string,
  options: ReferenceReadOptions = {},
): Promise<ReferenceFolder> {
  const names = new Map<string, string>();
  if (/^s3:\/\//i.test(location)) {
    const store = createS3Store(location, { pathStyle: options.s3PathStyle ?? false });
    for (const key of await store.list('')) {
      if (!key.includes('/')) names.set(key, store.uri(key));
    }
  } else {
    const directory = resolveFileLocation(location);
    let entries;
    try {
      entries = await readdir(directory, { withFileTypes: true });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      const problem =
        code === 'ENOENT' ? 'no such folder' : code === 'ENOTDIR' ? 'not a folder' : (error as Error).message;
      throw badInput(`references folder ${location} (--references / input.references): ${problem}`);
    }
    for (const entry of entries) {
      if (entry.isFile() || entry.isSymbolicLink())
        names.set(entry.name, pathToFileURL(join(directory, entry.name)).href);
    }
  }
  const images = new Map<string, string>();
  for (const extension of REFERENCE_EXTENSIONS) {
    for (const [name, uri] of names) {
      if (extname(name).toLowerCase() !== extension) continue;
      const stem = name.slice(0, -extension.length);
      if (stem !== '' && !images.has(stem)) images.set(stem, uri);
    }
  }
  return { location, images };
}

/**
 * Gives each valid problem without a reference image of its own `<id>.<ext>` from the folder, the
 * id as written (`4101` for the number 4101). A problem's own `reference_image` / `image` wins; a
 * problem the folder has no image for is counted as missing, not an error.
 */
export function attachReferencesById(
  parsed: ParsedProblems,
  folder: ReferenceFolder | null,
): { parsed: ParsedProblems; references: ReferenceCounts } {
  const named = parsed.problems.filter((problem) => problem.reference_image !== undefined).length;
  const references: ReferenceCounts = {
    folder: folder?.location ?? null,
    folder_images: folder?.images.size ?? 0,
    named_by_problems: named,
    from_folder: 0,
    missing: [],
  };
  if (folder === null) return { parsed, references };
  const problems = parsed.problems.map((problem): Problem => {
    if (problem.reference_image !== undefined) return problem;
    const uri = folder.images.get(String(problem.id));
    if (uri === undefined) {
      references.missing.push(problem.id);
      return problem;
    }
    references.from_folder += 1;
    return { ...problem, reference_image: uri };
  });
  return { parsed: { ...parsed, problems }, references };
}
