import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa, type ResultPromise } from 'execa';
import { findFreePort } from '../../infra/dev-server.ts';
import { makeTemporaryDirectory } from './temporary-directory.ts';

export const repositoryRoot = fileURLToPath(new URL('../..', import.meta.url));
export const cliPath = join(repositoryRoot, 'bin', 'scigen.mjs');

/** An isolated place for one test's CLI runs: own state directory, ports and task queues. */
export interface CliSandbox {
  stateDirectory: string;
  temporalPort: number;
  uiPort: number;
  environment: Record<string, string>;
  run(args: string[], extraEnvironment?: Record<string, string>): ResultPromise<{ reject: false; all: true }>;
}

export async function createCliSandbox(name: string, environment: Record<string, string> = {}): Promise<CliSandbox> {
  const stateDirectory = await makeTemporaryDirectory(name);
  const temporalPort = await findFreePort();
  const uiPort = await findFreePort();
  const baseEnvironment: Record<string, string> = {
    PATH: process.env['PATH'] ?? '/usr/bin:/bin',
    HOME: process.env['HOME'] ?? '/root',
    SCIGEN_STATE_DIR: stateDirectory,
    SCIGEN_TEMPORAL_PORT: String(temporalPort),
    SCIGEN_TEMPORAL_UI_PORT: String(uiPort),
    SCIGEN_TASK_QUEUE_PREFIX: `test-${name}-${process.pid}`,
    // The scripted endpoint on 127.0.0.1 answers every request at once: the tests keep the llm
    // worker's full concurrency rather than the cap for a real local model server.
    SCIGEN_OPENAI_MAX_CONCURRENCY: '32',
    ...environment,
  };
  return {
    stateDirectory,
    temporalPort,
    uiPort,
    environment: baseEnvironment,
    run(args, extraEnvironment = {}) {
      // Only the variables given here: a developer's real API keys must never leak into a test run.
      return execa('node', [cliPath, ...args], {
        cwd: repositoryRoot,
        env: { ...baseEnvironment, ...extraEnvironment },
        extendEnv: false,
        reject: false,
        all: true,
      });
    },
  };
}

export function readJsonLines<T>(text: string): T[] {
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as T);
}

/** Writes problems, one JSON line each, to `problems.jsonl` in a fresh temporary directory; returns the file's path. */
export async function writeProblemsFile(name: string, problems: readonly unknown[]): Promise<string> {
  const inputFile = join(await makeTemporaryDirectory(name), 'problems.jsonl');
  await writeFile(inputFile, problems.map((problem) => JSON.stringify(problem)).join('\n'));
  return inputFile;
}
