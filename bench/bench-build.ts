import { mkdtemp, readFile } from 'node:fs/promises';
import { manifestKey } from '../storage/build-layout.ts';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa, type ResultPromise } from 'execa';
import { ensureDevServer, findFreePort, type DevServer } from '../infra/dev-server.ts';
import type { ScriptedEndpoint } from '../scripted/server.ts';
import { SEARCH_ATTRIBUTE_TYPES } from '../workflows/definitions.ts';

const repositoryRoot = fileURLToPath(new URL('..', import.meta.url));

/** A fresh state directory and a dev server on free ports with its database there, for one benchmark build. */
export interface BenchServer {
  directory: string;
  port: number;
  server: DevServer;
}

export async function startBenchServer(name: string): Promise<BenchServer> {
  const directory = await mkdtemp(join(tmpdir(), `scigen-bench-${name}-`));
  const port = await findFreePort();
  const server = await ensureDevServer({
    port,
    uiPort: await findFreePort(),
    dbFile: join(directory, 'temporal.db'),
    searchAttributes: SEARCH_ATTRIBUTE_TYPES,
  });
  return { directory, port, server };
}

export interface BenchBuildOptions {
  bench: BenchServer;
  endpoint: ScriptedEndpoint;
  inputFile: string;
  buildId: string;
  windowSize: number;
  configFile: string;
  /** More `scigen build` options (`--batch`, say). */
  buildArguments?: string[];
  /** Node options placed before the CLI's script (a CPU profile, say). */
  nodeArguments?: string[];
  /** More variables for the CLI. */
  environment?: Record<string, string>;
}

/**
 * `scigen build` with in-process workers, as a user runs it, against the bench's server and the
 * scripted endpoint. Only the variables named here reach it: a developer's real keys never do.
 */
export function runBenchBuild(options: BenchBuildOptions): ResultPromise<{ all: true; reject: false }> {
  return execa(
    'node',
    [
      ...(options.nodeArguments ?? []),
      join(repositoryRoot, 'bin', 'scigen.mjs'),
      'build',
      options.inputFile,
      '--build-id',
      options.buildId,
      '--window',
      String(options.windowSize),
      '--config',
      options.configFile,
      '--no-progress',
      ...(options.buildArguments ?? []),
    ],
    {
      cwd: repositoryRoot,
      extendEnv: false,
      env: {
        PATH: process.env['PATH'] ?? '/usr/bin:/bin',
        HOME: process.env['HOME'] ?? '/root',
        OPENAI_API_KEY: 'bench-not-a-real-key',
        OPENAI_BASE_URL: options.endpoint.openAiBaseUrl,
        // The scripted endpoint answers every request at once; no local-server cap.
        SCIGEN_OPENAI_MAX_CONCURRENCY: '32',
        SCIGEN_STATE_DIR: options.bench.directory,
        SCIGEN_TEMPORAL_PORT: String(options.bench.port),
        SCIGEN_LOG_LEVEL: 'error',
        ...options.environment,
      },
      all: true,
      reject: false,
    },
  );
}

/** The lines of a finished build's manifest, as the CLI wrote it under the bench's state directory. */
export async function readBenchManifest(bench: BenchServer, buildId: string): Promise<string[]> {
  const path = join(bench.directory, 'artifacts', manifestKey(buildId));
  return (await readFile(path, 'utf8')).trim().split('\n');
}
