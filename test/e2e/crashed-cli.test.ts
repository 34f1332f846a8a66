import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isPortListening } from '../../infra/dev-server.ts';
import type { ManifestRecord } from '../../domain/manifest.ts';
import { startScriptedEndpoint, type ScriptedEndpoint } from '../../scripted/server.ts';
import { createCliSandbox, readJsonLines, type CliSandbox } from '../helpers/cli.ts';
import { loadSampleScript, samplesDirectory } from '../helpers/samples.ts';

/** Waits for a condition, checking every 100 ms; fails when `run` ends first or after `timeoutMs`. */
async function waitFor(
  what: string,
  condition: () => Promise<boolean>,
  run: Promise<unknown>,
  timeoutMs: number,
): Promise<void> {
  let ended = false;
  run.then(
    () => (ended = true),
    () => (ended = true),
  );
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (ended) throw new Error(`the build ended before ${what}`);
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await delay(100);
  }
}

async function recordCount(stateDirectory: string): Promise<number> {
  const builds = join(stateDirectory, 'artifacts', 'builds');
  let count = 0;
  for (const buildId of await readdir(builds).catch(() => [])) {
    count += (await readdir(join(builds, buildId, 'records')).catch(() => [])).length;
  }
  return count;
}

/** Lines the server wrote to its log, not counting the header scigen writes before each start. */
async function serverLogLines(logFile: string): Promise<string[]> {
  const text = await readFile(logFile, 'utf8').catch(() => '');
  return text.split('\n').filter((line) => line.trim() !== '' && !line.startsWith('--- '));
}

describe('a SIGKILLed CLI leaves a dev server the next builds reuse', () => {
  let endpoint: ScriptedEndpoint;
  let sandbox: CliSandbox;
  let logFile: string;
  let pidFile: string;

  beforeAll(async () => {
    // The bundled demo answers at once; the same script served with latency keeps the build busy
    // long enough to be killed in the middle.
    endpoint = await startScriptedEndpoint({ script: await loadSampleScript(), latencyMs: 250 });
    sandbox = await createCliSandbox('crashed-cli', {
      OPENAI_API_KEY: 'sk-test-not-a-real-key',
      OPENAI_BASE_URL: endpoint.openAiBaseUrl,
    });
    logFile = join(sandbox.stateDirectory, 'temporal-server.log');
    pidFile = join(sandbox.stateDirectory, 'temporal-server.pid');
  });

  afterAll(async () => {
    await endpoint?.close();
    // The server is detached from every CLI run: stop it through its pid file, its own process group.
    const pid = Number(await readFile(pidFile, 'utf8').catch(() => ''));
    if (pid > 0) {
      try {
        process.kill(-pid, 'SIGTERM');
      } catch {
        // Already gone.
      }
      const deadline = Date.now() + 15_000;
      while ((await isPortListening('127.0.0.1', sandbox.temporalPort)) && Date.now() < deadline) await delay(100);
      if (await isPortListening('127.0.0.1', sandbox.temporalPort)) process.kill(-pid, 'SIGKILL');
    }
  });

  it('runs the same build twice after the kill, both exit 0, one manifest line per problem', async () => {
    const args = ['build', 'samples/problems.jsonl', '--demo', '--window', '4', '--no-progress'];
    const problemIds = readJsonLines<{ id: string }>(
      await readFile(join(samplesDirectory, 'problems.jsonl'), 'utf8'),
    ).map((problem) => problem.id);

    const first = sandbox.run(args);
    await waitFor(
      'the server logged and two problems were recorded',
      async () => {
        return (await serverLogLines(logFile)).length > 0 && (await recordCount(sandbox.stateDirectory)) >= 2;
      },
      first,
      120_000,
    );
    const serverPid = Number(await readFile(pidFile, 'utf8'));
    first.kill('SIGKILL');
    const killed = await first;
    expect(killed.signal).toBe('SIGKILL');
    expect(killed.all).toContain('Temporal dev server started');
    expect(await recordCount(sandbox.stateDirectory)).toBeLessThan(problemIds.length);
    // Only the CLI died: the server it started keeps serving.
    expect(() => process.kill(serverPid, 0)).not.toThrow();

    for (const run of ['second', 'third']) {
      const result = await sandbox.run(args);
      expect(result.exitCode, `${run} run:\n${result.all}`).toBe(0);
      expect(result.all).toContain('Temporal dev server reused');
      expect(result.all).not.toMatch(/ServiceError|SIGPIPE/);
    }
    // Still the server of the killed CLI: no run replaced it.
    expect(Number(await readFile(pidFile, 'utf8'))).toBe(serverPid);

    const builds = await readdir(join(sandbox.stateDirectory, 'artifacts', 'builds'));
    expect(builds).toHaveLength(1);
    const manifest = readJsonLines<ManifestRecord>(
      await readFile(join(sandbox.stateDirectory, 'artifacts', 'builds', builds[0]!, 'manifest.jsonl'), 'utf8'),
    );
    expect(manifest.map((record) => record.id).sort()).toEqual([...problemIds].sort());
  }, 300_000);
});
