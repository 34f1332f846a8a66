/**
 * Renders per second of scigen's sandboxed renderer against what users run today, on the corpus in
 * bench/render-corpus (realistic diagram scripts that each save diagram.png):
 *   (a) a cold `python3 script.py` per job, one after another;
 *   (b) the official approach: exec() of each script in one Python process, serially, no isolation;
 *   (c) scigen's renderer with its isolation on, one slot per core.
 * All three run in this one invocation, so c/a and c/b compare like with like on a machine shared
 * with other work. Usage: npm run bench:render [-- --rounds 3 --cold-rounds 1 --dpi 100]
 */
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { execa } from 'execa';
import { createRenderer } from '../render/create-renderer.ts';
import { findPython } from '../render/find-python.ts';

const MINIMUM_CORPUS_SIZE = 30;
const TARGET_VERSUS_COLD = 5;
const TARGET_VERSUS_EXEC = 1;

const corpusDirectory = fileURLToPath(new URL('./render-corpus/', import.meta.url));
const execBaseline = fileURLToPath(new URL('./render-exec-baseline.py', import.meta.url));

interface Measurement {
  renders: number;
  seconds: number;
}

const perSecond = (measurement: Measurement): number => measurement.renders / measurement.seconds;

/** (a): each job starts python, imports pyplot, draws and saves, as `python3 script.py` does. */
async function measureCold(python: string, scripts: string[], rounds: number, fontCache: string): Promise<Measurement> {
  const started = performance.now();
  for (let round = 0; round < rounds; round++) {
    for (const script of scripts) {
      const directory = await mkdtemp(join(tmpdir(), 'scigen-bench-cold-'));
      try {
        // A warm font cache, as on any machine that has run matplotlib before.
        const result = await execa(python, [join(corpusDirectory, script)], {
          cwd: directory,
          env: { PATH: '/usr/local/bin:/usr/bin:/bin', HOME: directory, MPLBACKEND: 'Agg', MPLCONFIGDIR: fontCache },
          extendEnv: false,
          reject: false,
        });
        if (result.exitCode !== 0 || !existsSync(join(directory, 'diagram.png'))) {
          throw new Error(`cold run of ${script} failed:\n${String(result.stderr)}`);
        }
      } finally {
        await rm(directory, { recursive: true, force: true });
      }
    }
  }
  return { renders: rounds * scripts.length, seconds: (performance.now() - started) / 1000 };
}

/** (b): bench/render-exec-baseline.py times its own loop, after its pyplot import. */
async function measureExec(python: string, rounds: number, fontCache: string): Promise<Measurement> {
  const result = await execa(python, [execBaseline, corpusDirectory, String(rounds)], {
    env: { PATH: '/usr/local/bin:/usr/bin:/bin', HOME: fontCache, MPLBACKEND: 'Agg', MPLCONFIGDIR: fontCache },
    extendEnv: false,
  });
  const report = JSON.parse(String(result.stdout).trim().split('\n').at(-1)!) as Measurement & { failures: string[] };
  if (report.failures.length > 0) throw new Error(`exec() baseline failed on ${report.failures.join(', ')}`);
  return report;
}

/** (c): every job submitted at once; the renderer runs one per slot. Zygote start-up is timed apart. */
async function measureRenderer(python: string, scripts: string[], rounds: number, dpi: number) {
  const workDirectory = await mkdtemp(join(tmpdir(), 'scigen-bench-renderer-'));
  // The sandbox's uids read the font list the renderer prepares in here.
  await chmod(workDirectory, 0o755);
  const slots = availableParallelism();
  const renderer = createRenderer({ python, workDirectory, slots, warmUpDpi: dpi });
  try {
    const startupBegan = performance.now();
    await renderer.start();
    const startupSeconds = (performance.now() - startupBegan) / 1000;
    const codes = await Promise.all(scripts.map((script) => readFile(join(corpusDirectory, script), 'utf8')));
    const jobs = Array.from({ length: rounds }, (_, round) =>
      codes.map((code, index) => ({ code, jobId: `bench-${round}-${index}` })),
    ).flat();
    const started = performance.now();
    const results = await Promise.all(jobs.map((job) => renderer.render({ ...job, dpi, timeoutMs: 60_000 })));
    const seconds = (performance.now() - started) / 1000;
    const failed = results.flatMap((result, index) =>
      result.ok ? [] : [`${scripts[index % scripts.length]}: ${result.kind}: ${result.message}`],
    );
    if (failed.length > 0) throw new Error(`the renderer failed on:\n${failed.join('\n')}`);
    return { measurement: { renders: jobs.length, seconds }, startupSeconds, slots, level: renderer.status()!.level };
  } finally {
    await renderer.close();
    await rm(workDirectory, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      rounds: { type: 'string', default: '3' },
      'cold-rounds': { type: 'string', default: '1' },
      dpi: { type: 'string', default: '100' },
    },
  });
  const rounds = Number(values.rounds);
  const coldRounds = Number(values['cold-rounds']);
  const dpi = Number(values.dpi);
  const scripts = (await readdir(corpusDirectory)).filter((name) => name.endsWith('.py')).sort();
  if (scripts.length < MINIMUM_CORPUS_SIZE)
    throw new Error(`the corpus has ${scripts.length} scripts; at least ${MINIMUM_CORPUS_SIZE} are needed`);
  const python = await findPython();

  const fontCache = await mkdtemp(join(tmpdir(), 'scigen-bench-font-cache-'));
  await mkdir(fontCache, { recursive: true });
  await execa(python, ['-c', 'import matplotlib.font_manager'], {
    env: { MPLCONFIGDIR: fontCache, HOME: fontCache },
    extendEnv: false,
  });

  console.log(
    `scigen render benchmark: ${scripts.length} scripts from bench/render-corpus, ${availableParallelism()} cores, dpi ${dpi}`,
  );
  console.log(
    `load average before: ${loadavg()
      .map((value) => value.toFixed(2))
      .join(' ')}`,
  );
  try {
    const cold = await measureCold(python, scripts, coldRounds, fontCache);
    const official = await measureExec(python, rounds, fontCache);
    const scigen = await measureRenderer(python, scripts, rounds, dpi);
    const a = perSecond(cold);
    const b = perSecond(official);
    const c = perSecond(scigen.measurement);
    const line = (label: string, measurement: Measurement, note: string): string =>
      `${label.padEnd(56)} ${perSecond(measurement).toFixed(2).padStart(7)} renders/s  ` +
      `(${((measurement.seconds * 1000) / measurement.renders).toFixed(0)} ms/render, ${measurement.renders} renders${note})`;
    console.log(line('(a) cold `python3 script.py` per job, serial', cold, ''));
    console.log(line('(b) exec() in one process, serial (official, no isolation)', official, ''));
    console.log(
      line(
        `(c) scigen renderer, isolation ${scigen.level}, ${scigen.slots} slots`,
        scigen.measurement,
        `; zygotes ready in ${scigen.startupSeconds.toFixed(1)} s, not counted`,
      ),
    );
    console.log(
      `c/a = ${(c / a).toFixed(2)} (target >= ${TARGET_VERSUS_COLD})    c/b = ${(c / b).toFixed(2)} (target >= ${TARGET_VERSUS_EXEC.toFixed(1)})`,
    );
    console.log(
      `load average after: ${loadavg()
        .map((value) => value.toFixed(2))
        .join(' ')}`,
    );
    console.log(
      JSON.stringify({
        a,
        b,
        c,
        cOverA: c / a,
        cOverB: c / b,
        isolation: scigen.level,
        scripts: scripts.length,
        cores: availableParallelism(),
        dpi,
      }),
    );
  } finally {
    await rm(fontCache, { recursive: true, force: true });
  }
}

await main();
