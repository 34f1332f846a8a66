import { readFile, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import { afterAll, describe, expect, it } from 'vitest';
import type { temporal } from '@temporalio/proto';
import type { ManifestRecord } from '../../domain/manifest.ts';
import { syntheticProblems, syntheticScript } from '../../scripted/synthetic.ts';
import { buildWorkflowId, problemWorkflowId, progressQuery, type BuildProgress } from '../../workflows/definitions.ts';
import type { DeploymentState } from '../../cli/deployment.ts';
import { readJsonLines, writeProblemsFile, type CliSandbox } from '../helpers/cli.ts';
import { useTestCluster } from '../helpers/cluster.ts';
import { makeTemporaryDirectory } from '../helpers/temporary-directory.ts';

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

const QUEUES = ['workflows', 'llm', 'render'] as const;
const pause = (milliseconds: number) => new Promise((resolve) => setTimeout(resolve, milliseconds));

/** Waits, polling, until `read` gives a value `accept` takes; fails with the last value read. */
async function waitFor<T>(read: () => Promise<T>, accept: (value: T) => boolean, what: string): Promise<T> {
  const deadline = Date.now() + 180_000;
  let last: T | undefined;
  while (Date.now() < deadline) {
    last = await read().catch(() => last);
    if (last !== undefined && accept(last)) return last;
    await pause(250);
  }
  throw new Error(`${what} never happened; last: ${JSON.stringify(last)}`);
}

/**
 * A pass-through to the scripted endpoint that holds the model requests `holds` picks until
 * `release()`: problems stay in flight, deterministically, for as long as the test needs.
 */
async function startHoldingProxy(target: string, holds: (request: IncomingMessage) => boolean) {
  let release = () => {};
  const released = new Promise<void>((resolve) => (release = resolve));
  let held = 0;
  const server = createServer((request, response) => {
    void (async () => {
      const chunks: Buffer[] = [];
      for await (const chunk of request) chunks.push(chunk as Buffer);
      if (holds(request)) {
        held += 1;
        await released;
      }
      const headers = Object.entries(request.headers).filter(
        ([name]) => !['host', 'connection', 'content-length', 'transfer-encoding'].includes(name),
      );
      const answer = await fetch(new URL(request.url ?? '/', target), {
        method: request.method ?? 'GET',
        headers: headers.map(([name, value]) => [name, String(value)] as [string, string]),
        ...(chunks.length > 0 ? { body: Buffer.concat(chunks) } : {}),
      });
      const body = Buffer.from(await answer.arrayBuffer());
      response.writeHead(answer.status, { 'content-type': answer.headers.get('content-type') ?? 'application/json' });
      response.end(body);
    })().catch(() => response.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`,
    get held() {
      return held;
    },
    release: () => release(),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** One version's three dedicated worker processes. */
function startVersionWorkers(
  sandbox: CliSandbox,
  buildId: string,
  environment: Record<string, string>,
  extra: string[],
) {
  const processes = QUEUES.map((queue) =>
    sandbox.run(['worker', '--queue', queue, '--deployment-version', buildId, ...extra], environment),
  );
  return {
    processes,
    async stop() {
      for (const process of processes) process.kill('SIGTERM');
      return Promise.all(processes);
    },
  };
}

async function deploymentStatus(sandbox: CliSandbox, environment: Record<string, string>): Promise<DeploymentState> {
  const result = await sandbox.run(['deploy', 'status', '--json'], environment);
  if (result.exitCode !== 0) throw new Error(result.all);
  return JSON.parse(result.stdout.trim().split('\n').at(-1)!) as DeploymentState;
}

async function historyOf(client: Client, workflowId: string, runId?: string): Promise<HistoryEvent[]> {
  return (await client.workflow.getHandle(workflowId, runId).fetchHistory()).events ?? [];
}

/** The build id of each workflow task's worker, in history order. */
function workflowTaskVersions(events: HistoryEvent[]): string[] {
  return events
    .map((event) => event.workflowTaskCompletedEventAttributes?.deploymentVersion?.buildId)
    .filter((buildId): buildId is string => Boolean(buildId));
}

describe('upgrading a running build: Worker Versioning with dedicated workers of two versions', () => {
  const cluster = useTestCluster('upgrade', async () => ({ script: syntheticScript, latencyMs: 100 }));
  const running: Array<{ stop(): Promise<unknown> }> = [];
  afterAll(async () => {
    await Promise.all(running.map((workers) => workers.stop()));
  });

  it('problems in flight finish on version A, later ones start on B, the build moves to B, A retires', async () => {
    const { sandbox, client } = cluster;
    const problems = syntheticProblems(12, 1);
    // Problems 2-4 wait at their quiz answers until version B is current: with a window of 3 they
    // are what is in flight at the promotion, and the build cannot start another before it.
    const inFlightAtPromotion = problems.slice(2, 5).map((problem) => problem.id);
    const proxy = await startHoldingProxy(
      cluster.endpoint.url,
      (request) =>
        request.headers['x-scigen-step'] === 'answer' &&
        inFlightAtPromotion.includes(String(request.headers['x-scigen-problem'])),
    );
    running.push({ stop: () => (proxy.release(), proxy.close()) });
    const environment = { TEMPORAL_ADDRESS: cluster.server.address, OPENAI_BASE_URL: proxy.url };
    const inputFile = await writeProblemsFile('upgrade-input', problems);
    const buildId = 'upgrade-e2e';
    // Version B's changed step: its llm workers price every model at zero, so a problem's cost
    // says which version's workers made its model calls.
    const versionBConfig = join(await makeTemporaryDirectory('upgrade-config'), 'version-b.json');
    await writeFile(
      versionBConfig,
      JSON.stringify({
        prices: { 'gpt-4.1': { input: 0, output: 0 }, 'gpt-4.1-mini': { input: 0, output: 0 } },
      }),
    );

    const versionA = startVersionWorkers(sandbox, 'a', environment, []);
    running.push(versionA);
    const promoteA = await sandbox.run(['deploy', 'promote', 'a'], environment);
    expect(promoteA.exitCode, promoteA.all).toBe(0);

    const build = sandbox.run(
      ['build', inputFile, '--build-id', buildId, '--window', '3', '--no-progress'],
      environment,
    );
    const progress = () => client.workflow.getHandle(buildWorkflowId(buildId)).query(progressQuery);
    await waitFor(
      async () => ({ progress: await progress(), held: proxy.held }),
      (seen: { progress: BuildProgress; held: number }) => seen.progress.completed === 2 && seen.held === 3,
      'two problems done and three waiting',
    );

    const versionB = startVersionWorkers(sandbox, 'b', environment, ['--config', versionBConfig]);
    running.push(versionB);
    const promoteB = await sandbox.run(['deploy', 'promote', 'b'], environment);
    expect(promoteB.exitCode, promoteB.all).toBe(0);
    const atPromotion = await progress();
    expect(atPromotion.completed).toBe(2);
    expect(atPromotion.inFlight).toBe(3);
    proxy.release();

    // A retires once nothing runs on it any more: its pinned problems done, the build moved to B.
    const drained = await waitFor(
      () => deploymentStatus(sandbox, environment),
      (state) => state.versions.find((version) => version.buildId === 'a')?.runningWorkflows === 0,
      'version a drained',
    );
    expect(drained.currentBuildId).toBe('b');
    const stoppedA = await versionA.stop();
    running.splice(running.indexOf(versionA), 1);
    for (const stopped of stoppedA) expect(stopped.exitCode, stopped.all).toBe(0);

    const result = await build;
    expect(result.exitCode, result.all).toBe(0);
    const manifest = readJsonLines<ManifestRecord>(
      await readFile(join(sandbox.stateDirectory, 'artifacts', 'builds', buildId, 'manifest.jsonl'), 'utf8'),
    );
    expect(manifest.map((record) => record.id)).toEqual(problems.map((problem) => problem.id));

    // Each problem ran once, pinned to one version, every task and activity on that version's workers.
    const ranOn = new Map<string, { version: string }>();
    for (const problem of problems) {
      const workflowId = problemWorkflowId(buildId, problem.id);
      const runs = [];
      for await (const execution of client.workflow.list({ query: `WorkflowId = '${workflowId}'` }))
        runs.push(execution);
      expect(runs, workflowId).toHaveLength(1);
      expect(runs[0]!.status.name).toBe('COMPLETED');
      const description = await client.workflow.getHandle(workflowId).describe();
      const versioning = description.raw.workflowExecutionInfo?.versioningInfo;
      const pinnedTo = versioning?.deploymentVersion?.buildId ?? '';
      expect(['a', 'b'], workflowId).toContain(pinnedTo);
      expect(versioning?.behavior, workflowId).toBe(1); // VERSIONING_BEHAVIOR_PINNED
      const events = await historyOf(client, workflowId);
      expect(new Set(workflowTaskVersions(events)), workflowId).toEqual(new Set([pinnedTo]));
      const activityWorkers = events
        .map((event) => event.activityTaskStartedEventAttributes?.identity)
        .filter((identity): identity is string => Boolean(identity));
      expect(activityWorkers.length, workflowId).toBeGreaterThanOrEqual(5);
      for (const identity of activityWorkers) expect(identity, workflowId).toMatch(new RegExp(` scigen:${pinnedTo}$`));
      ranOn.set(problem.id, { version: pinnedTo });
    }
    // The problems done or in flight at the promotion ran on A, every later one on B.
    expect(problems.map((problem) => ranOn.get(problem.id)!.version).join('')).toBe(
      'a'.repeat(5) + 'b'.repeat(problems.length - 5),
    );

    // B's changed step ran exactly for B's problems.
    for (const record of manifest) {
      const version = ranOn.get(String(record.id))!.version;
      if (version === 'a') expect(record.usage.cost_usd, String(record.id)).toBeGreaterThan(0);
      else expect(record.usage.cost_usd, String(record.id)).toBe(0);
    }

    // The build moved: its workflow tasks ran on A, then on B, never back.
    const buildRuns = [];
    for await (const execution of client.workflow.list({ query: `WorkflowId = '${buildWorkflowId(buildId)}'` }))
      buildRuns.push(execution);
    const buildVersions: string[] = [];
    for (const run of buildRuns.sort((first, second) => first.startTime.getTime() - second.startTime.getTime()))
      buildVersions.push(...workflowTaskVersions(await historyOf(client, run.workflowId, run.runId)));
    expect(buildVersions.join(',')).toMatch(/^(a,)*a(,b)+$/);

    const inspectedOnA = await sandbox.run(['inspect', buildId, inFlightAtPromotion[0]!], environment);
    expect(inspectedOnA.stdout).toContain('ran on worker deployment version scigen:a\n');
    const inspectedOnB = await sandbox.run(['inspect', buildId, problems.at(-1)!.id], environment);
    expect(inspectedOnB.stdout).toContain('ran on worker deployment version scigen:b\n');
  }, 600_000);
});
