import { randomBytes } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import { mkdir, open, readdir, readFile, rename, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ArtifactNotFoundError } from './artifact-store.ts';
import type { ArtifactStore } from './artifact-store.ts';

export class InvalidArtifactKeyError extends Error {
  override readonly name = 'InvalidArtifactKeyError';
  constructor(
    readonly key: string,
    readonly reason: string,
  ) {
    super(`invalid artifact key ${JSON.stringify(key)}: ${reason}`);
  }
}

// Temp files sit next to their target so the final rename never crosses a filesystem.
const temporaryPrefix = '.scigen-partial-';

/**
 * Keys are relative slash-separated paths. Both stores check them the same way so a key that works
 * locally cannot escape the root or mean something else on S3.
 */
export function assertValidArtifactKey(key: string): void {
  if (key === '') throw new InvalidArtifactKeyError(key, 'empty');
  checkPathText(key);
  if (key.endsWith('/')) throw new InvalidArtifactKeyError(key, 'ends with "/" (names a folder, not an artifact)');
  for (const segment of key.split('/')) checkSegment(key, segment);
}

/** A list prefix: like a key, but may be empty or end with "/". */
export function assertValidArtifactPrefix(prefix: string): void {
  if (prefix === '') return;
  checkPathText(prefix);
  const segments = prefix.split('/');
  if (prefix.endsWith('/')) segments.pop();
  for (const segment of segments) checkSegment(prefix, segment);
}

function checkPathText(key: string): void {
  if (key.startsWith('/')) throw new InvalidArtifactKeyError(key, 'absolute paths are not keys');
  if (key.includes('\\')) throw new InvalidArtifactKeyError(key, 'backslashes are not allowed; use "/"');
  if (key.includes('\0')) throw new InvalidArtifactKeyError(key, 'contains a NUL character');
}

function checkSegment(key: string, segment: string): void {
  if (segment === '') throw new InvalidArtifactKeyError(key, 'empty path segment ("//")');
  if (segment === '.' || segment === '..')
    throw new InvalidArtifactKeyError(key, `"${segment}" segments are not allowed`);
  if (segment.startsWith(temporaryPrefix)) {
    throw new InvalidArtifactKeyError(key, `names starting with "${temporaryPrefix}" are reserved for partial writes`);
  }
}

/**
 * `file:///abs/dir`, the relative `file://./dir` form the configuration default uses, or a plain
 * path (relative to the working directory).
 */
export function resolveFileLocation(location: string): string {
  if (!location.startsWith('file:')) return path.resolve(location);
  const rest = location.slice('file:'.length);
  // `file://./x` is not a valid URL (its host would be "."), but it is the documented default.
  if (rest.startsWith('//./') || rest.startsWith('//../') || rest === '//.') return path.resolve(rest.slice(2));
  if (rest.startsWith('//') || rest.startsWith('/')) return fileURLToPath(location);
  return path.resolve(rest);
}

function isMissingFile(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  // EISDIR/ENOTDIR: the key names a folder, or passes through a file; either way no such artifact.
  return code === 'ENOENT' || code === 'EISDIR' || code === 'ENOTDIR';
}

/** Artifacts as files under one folder. Content types are not kept: the file name says enough. */
export function createFileStore(location: string): ArtifactStore {
  const rootDirectory = resolveFileLocation(location);
  const root = pathToFileURL(rootDirectory).href.replace(/\/$/, '');

  const pathOf = (key: string): string => {
    assertValidArtifactKey(key);
    return path.join(rootDirectory, ...key.split('/'));
  };

  /** Writes into a fresh temp file, syncs it, then renames: readers see all of it or nothing. */
  async function writeAtomically(key: string, write: (file: FileHandle) => Promise<void>): Promise<void> {
    const target = pathOf(key);
    await mkdir(path.dirname(target), { recursive: true });
    const temporary = path.join(
      path.dirname(target),
      // The name is kept short of the 255-byte limit whatever the key's length.
      `${temporaryPrefix}${path.basename(target).slice(0, 100)}.${process.pid}.${randomBytes(6).toString('hex')}`,
    );
    const file = await open(temporary, 'wx');
    try {
      try {
        await write(file);
        // Without the sync a power loss after the rename can leave a renamed but empty file.
        await file.datasync();
      } finally {
        await file.close();
      }
      await rename(temporary, target);
    } catch (error) {
      await unlink(temporary).catch(() => {});
      throw error;
    }
  }

  async function listDirectory(directory: string, keyPrefix: string, keys: string[]): Promise<void> {
    let entries;
    try {
      entries = await readdir(directory, { withFileTypes: true });
    } catch (error) {
      if (isMissingFile(error)) return;
      throw error;
    }
    for (const entry of entries) {
      if (entry.name.startsWith(temporaryPrefix)) continue;
      const key = `${keyPrefix}${entry.name}`;
      if (entry.isDirectory()) await listDirectory(path.join(directory, entry.name), `${key}/`, keys);
      else if (entry.isFile()) keys.push(key);
    }
  }

  async function get(key: string): Promise<Uint8Array> {
    try {
      return new Uint8Array(await readFile(pathOf(key)));
    } catch (error) {
      if (isMissingFile(error)) throw new ArtifactNotFoundError(key, root);
      throw error;
    }
  }

  return {
    root,
    async put(key, body) {
      await writeAtomically(key, async (file) => {
        await file.writeFile(body);
      });
    },
    get,
    async getText(key) {
      return new TextDecoder().decode(await get(key));
    },
    async *getStream(key) {
      let file: FileHandle;
      try {
        file = await open(pathOf(key), 'r');
      } catch (error) {
        if (isMissingFile(error)) throw new ArtifactNotFoundError(key, root);
        throw error;
      }
      try {
        for await (const chunk of file.createReadStream({ autoClose: false })) yield new Uint8Array(chunk as Buffer);
      } finally {
        await file.close();
      }
    },
    async exists(key) {
      try {
        return (await stat(pathOf(key))).isFile();
      } catch (error) {
        if (isMissingFile(error)) return false;
        throw error;
      }
    },
    async list(prefix) {
      assertValidArtifactPrefix(prefix);
      // A prefix is a string prefix, as on S3: walk the deepest folder it names, then filter.
      const folder = prefix.slice(0, prefix.lastIndexOf('/') + 1);
      const keys: string[] = [];
      await listDirectory(path.join(rootDirectory, ...folder.split('/')), folder, keys);
      return keys.filter((key) => key.startsWith(prefix)).sort();
    },
    async putStream(key, chunks) {
      await writeAtomically(key, async (file) => {
        // writeFile on a handle continues at the current position and retries short writes.
        for await (const chunk of chunks) await file.writeFile(chunk);
      });
    },
    uri(key) {
      return pathToFileURL(pathOf(key)).href;
    },
  };
}
