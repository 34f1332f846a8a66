import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import { execa } from 'execa';
import { startScriptedEndpoint } from '../scripted/server.ts';
import { syntheticProblems, syntheticScript } from '../scripted/synthetic.ts';
import { problemKey } from '../domain/input.ts';
import { buildWorkflowId, problemWorkflowId, searchAttributes } from '../workflows/definitions.ts';
import { readBenchManifest, runBenchBuild, startBenchServer } from './bench-build.ts';
import { profileHistories, type HistoryProfile } from './history-profile.ts';

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
  /** Read every problem's close time back from visibility: problems/s over each tenth of the problems. */
  measureTenths?: boolean;
  /** Sample the build process's live heap after a forced full collection (bench/heap-probe.cjs). */
  measureHeap?: boolean;
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
  /** CPU milliseconds per problem spent by each part while the build ran (Linux /proc), or null. */
  cpuPerProblem: CpuShares | null;
  /** Problems/s over each tenth of the problems, in the order they closed (measureTenths), or null. */
  tenths: number[] | null;
  /** The dev server's SQLite database (with its write-ahead log) once the build is done. */
  databaseMegabytes: number;
  /** The `scigen build` process's live heap after full collections, every 5 s (measureHeap), or null. */
  heapSamples: HeapSample[] | null;
}

export interface HeapSample {
  ms: number;
  heapUsedBytes: number;
}

/**
 * Where the machine's CPU went during the build, per problem: the Temporal server, the `scigen
 * build` process (workflows, activities, SDK clients), this harness (the scripted endpoint), and
 * the rest (the render processes, and anything else running on the machine).
 */
export interface CpuShares {
  temporalServer: number;
  workers: number;
  harness: number;
  rendersAndOther: number;
  total: number;
}

/**
 * Runs one dataset build end to end as a user would (`scigen build` with in-process workers) against
 * a fresh dev server and the scripted endpoint, and reads the timings back from Temporal.
 */
export async function runScenario(options: ScenarioOptions): Promise<ScenarioResult> {
  const bench = await startBenchServer(options.name);
  const { directory, server } = bench;
  const endpoint = await startScriptedEndpoint({ script: syntheticScript, latencyMs: options.latencyMs });
  const client = new Client({ connection: await Connection.connect({ address: server.address }) });
  try {
    const problems = syntheticProblems(options.problems, options.drawEvery);
    const inputFile = join(directory, 'problems.jsonl');
    await writeFile(inputFile, problems.map((problem) => JSON.stringify(problem)).join('\n'));
    const configFile = join(directory, 'config.json');
    // Every problem in the window may be waiting on a model call at once (some on several).
    const llmConcurrency = Math.max(32, options.windowSize * 2);
    await writeFile(configFile, JSON.stringify({ workers: { llmConcurrency } }));
    const buildId = `bench-${options.name}`;
    const heapFile = join(directory, 'heap.jsonl');
    const heapProbe: { nodeArguments: string[]; environment: Record<string, string> } = options.measureHeap
      ? {
          nodeArguments: ['--expose-gc', '--require', fileURLToPath(new URL('./heap-probe.cjs', import.meta.url))],
          environment: { SCIGEN_BENCH_HEAP_FILE: heapFile },
        }
      : { nodeArguments: [], environment: {} };
    const started = performance.now();
    const build = runBenchBuild({
      bench,
      endpoint,
      inputFile,
      buildId,
      windowSize: options.windowSize,
      configFile,
      nodeArguments: [...heapProbe.nodeArguments, ...buildNodeArguments()],
      // The scripted endpoint answers every request it holds at once: no server cap below the window's.
      environment: { SCIGEN_OPENAI_MAX_CONCURRENCY: String(llmConcurrency), ...heapProbe.environment },
    });
    const peaks = { workers: 0, temporalServer: 0 };
    const serverPid = await findServerPid(join(directory, 'temporal.db'));
    const cpuStart = { machine: await machineCpuMs(), server: await processCpuMs(serverPid), harness: harnessCpuMs() };
    // The workers' process is gone once the build returns: its last sample stands for its total.
    const cpuLast = { workers: 0 };
    const sampler = setInterval(() => {
      void processCpuMs(build.pid ?? null).then((ms) => {
        if (ms !== null) cpuLast.workers = Math.max(cpuLast.workers, ms);
      });
      if (!options.measureMemory) return;
      void Promise.all([residentMegabytes(build.pid), residentMegabytes(serverPid)]).then(
        ([workers, temporalServer]) => {
          peaks.workers = Math.max(peaks.workers, workers ?? 0);
          peaks.temporalServer = Math.max(peaks.temporalServer, temporalServer ?? 0);
        },
      );
    }, 250);
    const result = await build;
    clearInterval(sampler);
    const cpuEnd = { machine: await machineCpuMs(), server: await processCpuMs(serverPid), harness: harnessCpuMs() };
    const wallSeconds = (performance.now() - started) / 1000;
    if (result.exitCode !== 0) throw new Error(`scigen build failed (${result.exitCode}):\n${result.all}`);

    const runs = [];
    for await (const execution of client.workflow.list({ query: `WorkflowId = '${buildWorkflowId(buildId)}'` }))
      runs.push(execution);
    const firstStart = Math.min(...runs.map((run) => run.startTime.getTime()));
    const lastClose = Math.max(...runs.map((run) => run.closeTime?.getTime() ?? Date.now()));
    const buildSeconds = (lastClose - firstStart) / 1000;
    const fullProblems = problems.filter((problem) => problem.question.startsWith('[draw]')).length;
    const skippedProblems = problems.length - fullProblems;
    const modelRequests = endpoint.requests.length;
    const manifestLines = (await readBenchManifest(bench, buildId)).length;
    if (manifestLines !== problems.length)
      throw new Error(`manifest has ${manifestLines} lines for ${problems.length} problems`);
    let profile: ScenarioResult['profile'] = null;
    if (options.profileProblems) {
      const drawn = problems.filter((problem) => problem.question.startsWith('[draw]')).slice(-options.profileProblems);
      profile = {
        problems: await profileHistories(
          client,
          drawn.map((problem) => problemWorkflowId(buildId, problemKey(problem.id))),
        ),
        build: await profileHistories(client, [buildWorkflowId(buildId)]),
      };
    }
    let cpuPerProblem: CpuShares | null = null;
    if (cpuStart.machine !== null && cpuEnd.machine !== null && cpuStart.server !== null && cpuEnd.server !== null) {
      const perProblem = (ms: number) => ms / problems.length;
      const total = cpuEnd.machine - cpuStart.machine;
      const temporalServer = cpuEnd.server - cpuStart.server;
      const harness = cpuEnd.harness - cpuStart.harness;
      cpuPerProblem = {
        temporalServer: perProblem(temporalServer),
        workers: perProblem(cpuLast.workers),
        harness: perProblem(harness),
        rendersAndOther: perProblem(Math.max(0, total - temporalServer - cpuLast.workers - harness)),
        total: perProblem(total),
      };
    }
    const tenths = options.measureTenths ? ratesPerTenth(await problemCloseTimes(client, buildId)) : null;
    return {
      heapSamples: options.measureHeap ? await readHeapSamples(heapFile) : null,
      tenths,
      databaseMegabytes: await databaseMegabytes(join(directory, 'temporal.db')),
      cpuPerProblem,
      profile,
      name: options.name,
      problems: problems.length,
      buildSeconds,
      problemsPerSecond: problems.length / buildSeconds,
      modelCallsPerFullProblem: fullProblems > 0 ? (modelRequests - skippedProblems) / fullProblems : 0,
      modelRequests,
      runs: runs.length,
      historyEventsPerRun: runs.map((run) => run.historyLength).sort((a, b) => b - a),
      peakResidentMegabytes: options.measureMemory
        ? { workers: peaks.workers, temporalServer: peaks.temporalServer }
        : { workers: null, temporalServer: null },
      wallSeconds,
    };
  } finally {
    await client.connection.close();
    await endpoint.close();
    await server.stop();
  }
}

/** Close times (ms) of the build's problem workflows, from the server's visibility store, in order. */
async function problemCloseTimes(client: Client, buildId: string): Promise<number[]> {
  const times: number[] = [];
  const query = `${searchAttributes.buildId.name} = '${buildId}' AND WorkflowType = 'problemWorkflow' AND ExecutionStatus != 'Running'`;
  for await (const execution of client.workflow.list({ query, pageSize: 1000 })) {
    if (execution.closeTime) times.push(execution.closeTime.getTime());
  }
  return times.sort((a, b) => a - b);
}

/**
 * Problems/s over each tenth of the problems, in the order they closed. Timed from the first close,
 * not the build's start, so the start-up (staging, first renders) does not flatter a later tenth.
 */
export function ratesPerTenth(closeTimes: number[]): number[] {
  const rates: number[] = [];
  let previousIndex = 0;
  for (let tenth = 1; tenth <= 10; tenth++) {
    const index = Math.round(((closeTimes.length - 1) * tenth) / 10);
    if (index === previousIndex) continue;
    const seconds = (closeTimes[index]! - closeTimes[previousIndex]!) / 1000;
    rates.push((index - previousIndex) / Math.max(seconds, 0.001));
    previousIndex = index;
  }
  return rates;
}

async function readHeapSamples(file: string): Promise<HeapSample[]> {
  const text = await readFile(file, 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as HeapSample);
}

/**
 * How the live heap moved over the build: the median of the samples in its second tenth of time
 * (after start-up) and in its last, and the growth between them per thousand problems, assuming
 * problems finished evenly in between. Null with too few samples.
 */
export function heapTrend(
  samples: HeapSample[],
  problems: number,
): { earlyMegabytes: number; lateMegabytes: number; growthKilobytesPerThousandProblems: number } | null {
  if (samples.length < 20) return null;
  const first = samples[0]!.ms;
  const span = samples.at(-1)!.ms - first;
  const within = (from: number, to: number) =>
    samples.filter((sample) => sample.ms - first >= from * span && sample.ms - first <= to * span);
  const median = (values: number[]) => values.sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
  const early = median(within(0.1, 0.2).map((sample) => sample.heapUsedBytes));
  const late = median(within(0.9, 1).map((sample) => sample.heapUsedBytes));
  // From the middle of the second tenth to the middle of the last: 0.8 of the build.
  const problemsBetween = problems * 0.8;
  return {
    earlyMegabytes: early / 2 ** 20,
    lateMegabytes: late / 2 ** 20,
    growthKilobytesPerThousandProblems: ((late - early) / 1024 / problemsBetween) * 1000,
  };
}

async function databaseMegabytes(databaseFile: string): Promise<number> {
  let bytes = 0;
  for (const file of [databaseFile, `${databaseFile}-wal`, `${databaseFile}-shm`]) {
    bytes += await stat(file).then(
      (entry) => entry.size,
      () => 0,
    );
  }
  return bytes / (1024 * 1024);
}

/**
 * SCIGEN_BENCH_CPU_PROFILE=<directory> writes V8 CPU profiles of the `scigen build` process (main
 * thread and workflow threads) there, to open in Chrome's DevTools or to sum by function;
 * SCIGEN_BENCH_NODE_ARGUMENTS (space-separated) adds any other Node options to that process, such
 * as `--heapsnapshot-signal=SIGWINCH` (not SIGUSR2: the Temporal SDK's runtime shuts the workers
 * down on it).
 */
function buildNodeArguments(): string[] {
  const directory = process.env['SCIGEN_BENCH_CPU_PROFILE'];
  const more = (process.env['SCIGEN_BENCH_NODE_ARGUMENTS'] ?? '').split(' ').filter(Boolean);
  return [...(directory ? ['--cpu-prof', `--cpu-prof-dir=${directory}`] : []), ...more];
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

/** Busy CPU time of the whole machine since boot (all cores, user + system), from /proc/stat. */
async function machineCpuMs(): Promise<number | null> {
  try {
    const fields = (await readFile('/proc/stat', 'utf8')).split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal: busy is all but idle and iowait.
    const busy = fields.slice(0, 8).reduce((sum, value, index) => (index === 3 || index === 4 ? sum : sum + value), 0);
    return (busy * 1000) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return null;
  }
}

/** User + system CPU time of one process (not its children), from /proc/<pid>/stat. */
async function processCpuMs(pid: number | null): Promise<number | null> {
  if (!pid) return null;
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // Fields after the parenthesised command name; utime and stime are the 14th and 15th fields.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return null;
  }
}

function harnessCpuMs(): number {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1000;
}

/** USER_HZ: the unit of /proc's CPU times, 100 on every Linux architecture Node runs on. */
const CLOCK_TICKS_PER_SECOND = 100;

async function findServerPid(databaseFile: string): Promise<number | null> {
  const result = await execa('pgrep', ['-f', '--', `--db-filename ${databaseFile}`], { reject: false });
  const pid = Number(result.stdout.trim().split('\n')[0]);
  return Number.isFinite(pid) && pid > 0 ? pid : null;
}
