import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';

/** A fresh directory under the system's temporary folder, named `scigen-<name>-…`. */
export function makeTemporaryDirectory(name: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `scigen-${name}-`));
}

/**
 * A fresh directory for the tests of the enclosing `describe`: made before the first, removed with
 * everything in it after the last. Read `path` inside hooks and tests only; it is set by then.
 */
export function useTemporaryDirectory(name: string): { readonly path: string } {
  let path: string | undefined;
  beforeAll(async () => {
    path = await makeTemporaryDirectory(name);
  });
  afterAll(async () => {
    if (path !== undefined) await rm(path, { recursive: true, force: true });
  });
  return {
    get path(): string {
      if (path === undefined) throw new Error(`the temporary directory ${name} is made in beforeAll; read it there`);
      return path;
    },
  };
}
