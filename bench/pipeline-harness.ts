import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import { execa } from 'execa';
import { ensureDevServer, findFreePort } from '../infra/dev-server.ts';
import { startScriptedEndpoint } from '../scripted/server.ts';
import { syntheticProblems, syntheticScript } from '../scripted/synthetic.ts';
import { problemKey } from '../domain/input.ts';
import { buildWorkflowId, problemWorkflowId, SEARCH_ATTRIBUTE_TYPES } from '../workflows/definitions.ts';
import { profileHistories, type HistoryProfile } from './history-profile.ts';

const repositoryRoot = fileURLToPath(new URL('..', import.meta.url));

export interface ScenarioOptions {
  name: string;
  problems: number;
  /** Every n-th problem runs the whole pipeline (with a render); the others are skipped at classify. */
  drawEvery: number;
  latencyMs: number;
  windowSize: number;
  /** Sample the resident memory of the CLI (workers) and the Temporal server while the build runs. */
  measureMemory?: boolean;
  /** Read this many rendered problems' histories (and the build's last run) for where the time went. */
  profileProblems?: number;
}

export interface ScenarioResult {
  name: string;
  problems: number;
  /** From the build workflow's first start to its last close, as Temporal recorded them. */
  buildSeconds: number;
  problemsPerSecond: number;
  modelCallsPerFullProblem: number;
  modelRequests: number;
  runs: number;
  historyEventsPerRun: number[];
  peakResidentMegabytes: { workers: number | null; temporalServer: number | null };
  wallSeconds: number;
  /** Queue waits and run times per task type (profileProblems), or null. */
  profile: { problems: HistoryProfile; build: HistoryProfile } | null;
}

/**
 * Runs one dataset build end to end as a user would (`scigen build` with in-process workers) against
 * a fresh dev server and the scripted endpoint, and reads the timings back from Temporal.
 */
export async function runScenario(options: ScenarioOptions): Promise<ScenarioResult> {
  const directory = await mkdtemp(join(tmpdir(), `scigen-bench-${options.name}-`));
  const port = await findFreePort();
  const server = await ensureDevServer({ port, uiPort: await findFreePort(), dbFile: join(directory, 'temporal.db'), searchAttributes: SEARCH_ATTRIBUTE_TYPES });
  const endpoint = await startScriptedEndpoint({ script: syntheticScript, latencyMs: options.latencyMs });
  const client = new Client({ connection: await Connection.connect({ address: server.address }) });
  try {
    const problems = syntheticProblems(options.problems, options.drawEvery);
    const inputFile = join(directory, 'problems.jsonl');
    await writeFile(inputFile, problems.map((problem) => JSON.stringify(problem)).join('\n'));
    const configFile = join(directory, 'config.json');
    // Every problem in the window may be waiting on a model call at once.
    await writeFile(configFile, JSON.stringify({ workers: { llmConcurrency: Math.max(32, options.windowSize * 2) } }));
    const buildId = `bench-${options.name}`;
    const started = performance.now();
    const build = execa('node', [join(repositoryRoot, 'bin', 'scigen.mjs'), 'build', inputFile, '--build-id', buildId, '--window', String(options.windowSize), '--config', configFile, '--no-progress'], {
      cwd: repositoryRoot,
      extendEnv: false,
      env: {
        PATH: process.env['PATH'] ?? '/usr/bin:/bin',
        HOME: process.env['HOME'] ?? '/root',
        OPENAI_API_KEY: 'bench-not-a-real-key',
        OPENAI_BASE_URL: endpoint.openAiBaseUrl,
        SCIGEN_STATE_DIR: directory,
        SCIGEN_TEMPORAL_PORT: String(port),
        SCIGEN_LOG_LEVEL: 'error',
      },
      all: true,
      reject: false,
    });
    const peaks = { workers: 0, temporalServer: 0 };
    const serverPid = options.measureMemory ? await findServerPid(join(directory, 'temporal.db')) : null;
    const sampler = options.measureMemory
      ? setInterval(() => {
          void Promise.all([residentMegabytes(build.pid), residentMegabytes(serverPid)]).then(([workers, temporalServer]) => {
            peaks.workers = Math.max(peaks.workers, workers ?? 0);
            peaks.temporalServer = Math.max(peaks.temporalServer, temporalServer ?? 0);
          });
        }, 500)
      : null;
    const result = await build;
    if (sampler) clearInterval(sampler);
    const wallSeconds = (performance.now() - started) / 1000;
    if (result.exitCode !== 0) throw new Error(`scigen build failed (${result.exitCode}):\n${result.all}`);

    const runs = [];
    for await (const execution of client.workflow.list({ query: `WorkflowId = '${buildWorkflowId(buildId)}'` })) runs.push(execution);
    const firstStart = Math.min(...runs.map((run) => run.startTime.getTime()));
    const lastClose = Math.max(...runs.map((run) => run.closeTime?.getTime() ?? Date.now()));
    const buildSeconds = (lastClose - firstStart) / 1000;
    const fullProblems = problems.filter((problem) => problem.question.startsWith('[draw]')).length;
    const skippedProblems = problems.length - fullProblems;
    const modelRequests = endpoint.requests.length;
    const manifestLines = (await readFile(join(directory, 'artifacts', 'builds', buildId, 'manifest.jsonl'), 'utf8')).trim().split('\n').length;
    if (manifestLines !== problems.length) throw new Error(`manifest has ${manifestLines} lines for ${problems.length} problems`);
    let profile: ScenarioResult['profile'] = null;
    if (options.profileProblems) {
      const drawn = problems.filter((problem) => problem.question.startsWith('[draw]')).slice(-options.profileProblems);
      profile = {
        problems: await profileHistories(client, drawn.map((problem) => problemWorkflowId(buildId, problemKey(problem.id)))),
        build: await profileHistories(client, [buildWorkflowId(buildId)]),
      };
    }
    return {
      profile,
      name: options.name,
      problems: problems.length,
      buildSeconds,
      problemsPerSecond: problems.length / buildSeconds,
      modelCallsPerFullProblem: fullProblems > 0 ? (modelRequests - skippedProblems) / fullProblems : 0,
      modelRequests,
      runs: runs.length,
      historyEventsPerRun: runs.map((run) => run.historyLength).sort((a, b) => b - a),
      peakResidentMegabytes: options.measureMemory ? { workers: peaks.workers, temporalServer: peaks.temporalServer } : { workers: null, temporalServer: null },
      wallSeconds,
    };
  } finally {
    await client.connection.close();
    await endpoint.close();
    await server.stop();
  }
}

async function residentMegabytes(pid: number | null | undefined): Promise<number | null> {
  if (!pid) return null;
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const match = /VmRSS:\s+(\d+) kB/.exec(status);
    return match ? Number(match[1]) / 1024 : null;
  } catch {
    return null;
  }
}

async function findServerPid(databaseFile: string): Promise<number | null> {
  const result = await execa('pgrep', ['-f', '--', `--db-filename ${databaseFile}`], { reject: false });
  const pid = Number(result.stdout.trim().split('\n')[0]);
  return Number.isFinite(pid) && pid > 0 ? pid : null;
}
