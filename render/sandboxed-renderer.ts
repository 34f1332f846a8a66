import { randomBytes } from 'node:crypto';
import { chmod, chown, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { z } from 'zod';
import { harnessResultSchema, toRenderIntrospection, type HarnessResult } from './introspection.ts';
import {
  ISOLATION_LEVELS,
  IsolationUnavailableError,
  planIsolation,
  type Isolation,
  type IsolationContext,
  type IsolationSetting,
  type SlotSandbox,
} from './isolation.ts';
import { failure, readJobFile, readVerifiedPng, type Failure, type VerifiedPng } from './job-files.ts';
import type { RenderIntrospection, RenderRequest, RenderResult, Renderer } from './renderer.ts';
import { claimUids, type UidClaims } from './uid-claims.ts';
import { Zygote, type ZygoteJobEnd, type ZygoteSettings } from './zygote.ts';

/** What one job may use. Every field is configurable under `render.limits`. */
export interface RenderLimits {
  /** CPU seconds per process; the soft limit's SIGXCPU is reported as a limit. @default 10 */
  cpuSeconds: number;
  /** Address space per process. @default 2 GiB */
  addressSpaceBytes: number;
  /** Processes and threads of the slot's uid, the zygote included. @default 64 */
  processes: number;
  /** Largest file the script may write. @default 64 MiB */
  fileSizeBytes: number;
  /** Open file descriptors per process. @default 256 */
  openFiles: number;
  /** Captured stdout+stderr; a script printing more is stopped with kind 'limit'. @default 1 MiB */
  outputBytes: number;
  /** Largest PNG accepted, checked before it is read. @default 20 MiB */
  imageBytes: number;
  /** Largest PNG side in pixels, checked from the header. @default 8192 */
  imageSidePixels: number;
  /** Size of the tmpfs holding a bubblewrap slot's job directories: all a job can write. @default 256 MiB */
  scratchBytes: number;
}

const DEFAULT_RENDER_LIMITS: RenderLimits = {
  cpuSeconds: 10,
  addressSpaceBytes: 2 * 1024 ** 3,
  processes: 64,
  fileSizeBytes: 64 * 1024 ** 2,
  openFiles: 256,
  outputBytes: 1024 ** 2,
  imageBytes: 20 * 1024 ** 2,
  imageSidePixels: 8192,
  scratchBytes: 256 * 1024 ** 2,
};

export interface SandboxedRendererOptions {
  /** Absolute path of a Python that imports matplotlib (see `findPython`). */
  python: string;
  /** Parent of the renderer's host-side state (font cache, per-slot directories); created when missing. */
  workDirectory: string;
  /** Concurrent renders, one sandboxed zygote each. @default number of cores */
  slots?: number;
  /** `auto` probes bubblewrap, namespaces, unprivileged-uid in that order and uses the first that works. @default 'auto' */
  isolation?: IsolationSetting;
  /** First uid tried for the per-slot uids (when the worker is root). @default 850000 */
  uidBase?: number;
  /** A zygote is replaced after this many jobs. @default 200 */
  recycleAfterJobs?: number;
  limits?: Partial<RenderLimits>;
  /** The dpi of the zygote's warm-up drawing (the build's dpi warms the same caches). @default 150 */
  warmUpDpi?: number;
  /** Where bwrap, unshare and setpriv are looked up. @default PATH plus the sbin directories */
  searchPath?: string;
  /** Leave each job's directory behind for debugging. @default false */
  keepJobDirectories?: boolean;
}

export interface SandboxStatus {
  level: string;
  slots: Array<{ uid: number | undefined; sandboxPid: number | undefined; zygoteStarts: number; jobsOnZygote: number }>;
}

/** The production renderer, plus what tests and benchmarks inspect. */
export interface SandboxedRenderer extends Renderer {
  /** Undefined until started. */
  status(): SandboxStatus | undefined;
}

interface Slot {
  index: number;
  uid: number | undefined;
  zygote: Zygote | undefined;
  starting: Promise<Zygote> | undefined;
  busy: boolean;
  zygoteStarts: number;
}

interface Started {
  isolation: Isolation;
  slots: Slot[];
  sandboxes: SlotSandbox[];
  claims: UidClaims | undefined;
}

type Outcome =
  | { ok: true; images: Uint8Array[]; width: number; height: number; introspection: RenderIntrospection }
  | (Failure & { introspection?: RenderIntrospection });

const renderDirectory = dirname(fileURLToPath(import.meta.url));
const JOB_ID_PATTERN = /^[A-Za-z0-9._-]{1,100}$/;
const MAX_RESULT_BYTES = 2 * 1024 * 1024;
const OUTPUT_TAIL_LINES = 15;
const DEFAULT_UID_BASE = 850_000;
const DEFAULT_RECYCLE_AFTER_JOBS = 200;
const ZYGOTE_READY_TIMEOUT_MS = 120_000;
const DEFAULT_SEARCH_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

const interpreterSchema = z.object({ roots: z.array(z.string()), prefix: z.string(), base_prefix: z.string() });

interface InterpreterLayout {
  roots: string[];
  prefixes: { prefix: string; basePrefix: string };
}

/**
 * Probes the strongest isolation that works, then keeps one pre-forked zygote per slot inside it.
 * Each job is a forked child of its slot's zygote: its own directory, session, rlimits and seccomp
 * guard; the zygote kills whatever the job leaves and is replaced after `recycleAfterJobs` jobs or
 * when it dies. Results and PNGs are re-checked here as untrusted input.
 */
export function createSandboxedRenderer(options: SandboxedRendererOptions): SandboxedRenderer {
  const { python, workDirectory } = options;
  const slotCount = options.slots ?? availableParallelism();
  const limits: RenderLimits = { ...DEFAULT_RENDER_LIMITS, ...options.limits };
  const recycleAfterJobs = options.recycleAfterJobs ?? DEFAULT_RECYCLE_AFTER_JOBS;
  const keepJobDirectories = options.keepJobDirectories ?? false;
  const closing = new AbortController();
  const waiters: Array<(slot: Slot) => void> = [];
  const rendersInFlight = new Set<Promise<unknown>>();
  let starting: Promise<Started> | undefined;
  let started: Started | undefined;
  let fontCacheDirectory: string | undefined;
  let nextJobNumber = 1;

  const zygoteSettings = (): ZygoteSettings => ({
    font_cache: null,
    scratch: [],
    home: '/tmp',
    limits: {
      cpu_seconds: limits.cpuSeconds,
      address_space_bytes: limits.addressSpaceBytes,
      file_size_bytes: limits.fileSizeBytes,
      open_files: limits.openFiles,
      processes: limits.processes,
    },
    max_output_bytes: limits.outputBytes,
    max_image_side: limits.imageSidePixels,
    warm_up_dpi: options.warmUpDpi ?? 150,
    seccomp: true,
  });

  /**
   * Runs the interpreter once on the host, with trusted code only: it lists the directories the
   * sandbox must mount for it, and builds matplotlib's font list (a ~0.7 s scan) for every zygote.
   */
  async function inspectInterpreter(): Promise<InterpreterLayout> {
    const directory = await mkdtemp(join(workDirectory, 'font-cache-'));
    await chmod(directory, 0o755);
    fontCacheDirectory = directory;
    const code = [
      'import json, os, sys',
      'import matplotlib.font_manager',
      'paths = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}',
      'paths.add(os.path.dirname(os.path.dirname(os.path.realpath(sys.executable))))',
      'paths.update(path for path in sys.path if path and os.path.isdir(path))',
      'paths.update([os.path.realpath(path) for path in paths])',
      'print(json.dumps({"roots": sorted(paths), "prefix": sys.prefix, "base_prefix": sys.base_prefix}))',
    ].join('\n');
    const result = await execa(python, ['-s', '-B', '-c', code], {
      env: { PATH: `${dirname(python)}:/usr/bin:/bin`, HOME: directory, MPLCONFIGDIR: directory, MPLBACKEND: 'Agg' },
      extendEnv: false,
      stdin: 'ignore',
      reject: false,
      timeout: 120_000,
    });
    if (result.exitCode !== 0) {
      throw new IsolationUnavailableError(
        `${python} cannot import matplotlib: ${String(result.stderr).trim().split('\n').at(-1)}`,
      );
    }
    for (const file of await readdir(directory)) await chmod(join(directory, file), 0o644);
    const layout = interpreterSchema.parse(JSON.parse(String(result.stdout).trim().split('\n').at(-1) ?? '{}'));
    // A directory inside another bound one needs no bind of its own.
    const sorted = [...layout.roots].sort((first, second) => first.length - second.length);
    return {
      roots: sorted.filter(
        (root, index) => root !== '/' && !sorted.slice(0, index).some((other) => root.startsWith(`${other}/`)),
      ),
      prefixes: { prefix: layout.prefix, basePrefix: layout.base_prefix },
    };
  }

  function environment(): Record<string, string> {
    return {
      PATH: `${dirname(python)}:/usr/local/bin:/usr/bin:/bin`,
      MPLBACKEND: 'Agg',
      LANG: 'C.UTF-8',
      LC_ALL: 'C.UTF-8',
      PYTHONDONTWRITEBYTECODE: '1',
      PYTHONHASHSEED: '0',
      // Keeps prints and warnings in the order the script made them.
      PYTHONUNBUFFERED: '1',
      // OpenBLAS reserves memory per core at import; on a large host that alone would exceed the
      // address-space limit. One thread also keeps the zygote single-threaded, as fork needs.
      OPENBLAS_NUM_THREADS: '1',
      OMP_NUM_THREADS: '1',
    };
  }

  async function launchZygote(slot: Slot, sandbox: SlotSandbox): Promise<Zygote> {
    if (sandbox.hostSlotDirectory !== undefined) {
      // Whatever a previous zygote of this slot left (it may have died mid-job) goes.
      await rm(sandbox.hostSlotDirectory, { recursive: true, force: true });
      await mkdir(sandbox.hostSlotDirectory, { recursive: true, mode: 0o755 });
      await chmod(sandbox.hostSlotDirectory, 0o755);
      const home = join(sandbox.hostSlotDirectory, 'home');
      await mkdir(home, { mode: 0o700 });
      if (slot.uid !== undefined) await chown(home, slot.uid, slot.uid);
    }
    slot.zygoteStarts++;
    return Zygote.start(sandbox, zygoteSettings(), { readyTimeoutMs: ZYGOTE_READY_TIMEOUT_MS });
  }

  async function probe(): Promise<Started> {
    await mkdir(workDirectory, { recursive: true });
    const interpreter = await inspectInterpreter();
    const isRoot = process.getuid?.() === 0;
    const context: IsolationContext = {
      python,
      pythonRoots: interpreter.roots,
      pythonPrefixes: interpreter.prefixes,
      harnessDirectory: renderDirectory,
      fontCache: fontCacheDirectory,
      workDirectory,
      environment: environment(),
      scratchBytes: limits.scratchBytes,
      searchPath: options.searchPath ?? `${process.env['PATH'] ?? ''}:${DEFAULT_SEARCH_PATH}`,
      isRoot,
    };
    const claims = isRoot ? await claimUids(slotCount, options.uidBase ?? DEFAULT_UID_BASE) : undefined;
    const slots: Slot[] = Array.from({ length: slotCount }, (_, index) => ({
      index,
      uid: claims?.uids[index],
      zygote: undefined,
      starting: undefined,
      busy: false,
      zygoteStarts: 0,
    }));
    const candidates =
      options.isolation === undefined || options.isolation === 'auto' ? ISOLATION_LEVELS : [options.isolation];
    const reasons: string[] = [];
    try {
      for (const level of candidates) {
        const plan = await planIsolation(level, context);
        if (!plan.ok) {
          reasons.push(`${level}: ${plan.reason}`);
          continue;
        }
        const { isolation } = plan;
        const sandboxes = slots.map((slot) =>
          isolation.sandbox({ index: slot.index, uid: isolation.perSlotUid ? slot.uid : undefined }),
        );
        const first = slots[0]!;
        // The probe is for real: the first slot's zygote starts inside the level and reports
        // what it can see and do, which must match what the level promises.
        let zygote: Zygote;
        try {
          zygote = await launchZygote(first, sandboxes[0]!);
        } catch (error) {
          reasons.push(`${level}: ${error instanceof Error ? error.message : String(error)}`);
          continue;
        }
        const violation = isolation.findViolation(zygote.report, { uid: isolation.perSlotUid ? first.uid : undefined });
        if (violation !== undefined) {
          zygote.kill();
          await zygote.exited;
          reasons.push(`${level}: started, but the sandboxed process ${violation}`);
          continue;
        }
        first.zygote = zygote;
        if (!isolation.perSlotUid) for (const slot of slots) slot.uid = undefined;
        await Promise.all(
          slots.slice(1).map(async (slot) => {
            slot.zygote = await launchZygote(slot, sandboxes[slot.index]!);
          }),
        );
        return { isolation, slots, sandboxes, claims };
      }
    } catch (error) {
      await Promise.all(slots.map((slot) => slot.zygote?.stop()));
      await claims?.release();
      throw error;
    }
    await claims?.release();
    throw new IsolationUnavailableError(
      `refusing to render untrusted code: no isolation works on this machine.\n  ${reasons.join('\n  ')}\n` +
        'Install bubblewrap (apt-get install bubblewrap) and run the render worker as root, or as a user allowed to create user namespaces.',
    );
  }

  function start(): Promise<Started> {
    if (closing.signal.aborted) return Promise.reject(new Error('the renderer is closed'));
    starting ??= probe().then((result) => {
      started = result;
      return result;
    });
    return starting;
  }

  function acquireSlot(state: Started): Promise<Slot> {
    const free = state.slots.find((slot) => !slot.busy);
    if (free !== undefined) {
      free.busy = true;
      return Promise.resolve(free);
    }
    return new Promise<Slot>((resolve) => waiters.push(resolve));
  }

  function releaseSlot(slot: Slot): void {
    const next = waiters.shift();
    if (next !== undefined) next(slot);
    else slot.busy = false;
  }

  async function readyZygote(state: Started, slot: Slot): Promise<Zygote> {
    if (slot.zygote?.alive === true) return slot.zygote;
    slot.zygote = undefined;
    slot.starting ??= launchZygote(slot, state.sandboxes[slot.index]!).finally(() => {
      slot.starting = undefined;
    });
    slot.zygote = await slot.starting;
    return slot.zygote;
  }

  /** A zygote that served its share is replaced in the background, so the next job finds one warm. */
  function recycleIfDue(state: Started, slot: Slot): void {
    const zygote = slot.zygote;
    if (zygote === undefined || (zygote.alive && zygote.jobsServed < recycleAfterJobs)) return;
    slot.zygote = undefined;
    void zygote.stop();
    if (closing.signal.aborted) return;
    slot.starting ??= launchZygote(slot, state.sandboxes[slot.index]!).finally(() => {
      slot.starting = undefined;
    });
    // A failed start is retried by the next job that needs this slot.
    slot.starting.then(
      (fresh) => {
        if (closing.signal.aborted) void fresh.stop();
        else slot.zygote ??= fresh;
      },
      () => undefined,
    );
  }

  async function interpretEnd(end: ZygoteJobEnd, hostDirectory: string, request: RenderRequest): Promise<Outcome> {
    switch (end.ending) {
      case 'timeout':
        return failure('timeout', `the script ran longer than ${request.timeoutMs} ms and was killed`);
      case 'output-limit':
        return failure('limit', `the script printed more than ${limits.outputBytes} bytes and was stopped; print less`);
      case 'sandbox-died':
        return failure(
          'exception',
          `the render sandbox ended during the job; the script may have exhausted a resource${end.diagnostics ? `:\n${lastLines(end.diagnostics, 5)}` : ''}`,
        );
      case 'cancelled':
        throw new Error('unreachable: a cancelled job is rethrown before interpretation');
      case 'exited':
        break;
    }
    if (end.signal !== null) return describeSignal(end.signal, limits);

    const resultFile = await readJobFile(hostDirectory, 'result.json', MAX_RESULT_BYTES);
    if (!resultFile.ok) {
      if (resultFile.missing) {
        return failure(
          'exception',
          `python exited with code ${end.exitCode} before the harness wrote its result` +
            `; last output:\n${lastLines(end.output, OUTPUT_TAIL_LINES)}`,
        );
      }
      return failure(resultFile.kind, resultFile.message);
    }
    let harnessResult: HarnessResult;
    try {
      harnessResult = harnessResultSchema.parse(JSON.parse(resultFile.bytes.toString('utf8')));
    } catch (error) {
      return failure('invalid-output', `result.json is not what the harness writes: ${String(error).slice(0, 500)}`);
    }
    const introspection = toRenderIntrospection(harnessResult);
    const withIntrospection = harnessResult.figures.length > 0 ? { introspection } : {};

    if (!harnessResult.ok) {
      return harnessResult.error === undefined
        ? failure('invalid-output', 'result.json reports a failure without an error')
        : { ...failure(harnessResult.error.kind, harnessResult.error.message), ...withIntrospection };
    }
    // A blank figure next to real ones is a stray plt.figure(); it would only distract the judge.
    const drawnFigures = harnessResult.figures.filter((figure) => !figure.blank);
    if (drawnFigures.length === 0) return { ...failure('blank', 'every figure is blank'), ...withIntrospection };

    const images: VerifiedPng[] = [];
    for (const figure of drawnFigures) {
      const image = await readVerifiedPng(hostDirectory, figure.file, {
        maxBytes: limits.imageBytes,
        maxSide: limits.imageSidePixels,
      });
      if (!image.ok) return image;
      images.push(image);
    }
    const [first] = images;
    if (first === undefined) return failure('no-figure', 'no figure was saved');
    return {
      ok: true,
      images: images.map((image) => image.bytes),
      width: first.width,
      height: first.height,
      introspection,
    };
  }

  async function renderJob(request: RenderRequest): Promise<RenderResult> {
    if (!JOB_ID_PATTERN.test(request.jobId)) {
      throw new TypeError(`job id ${JSON.stringify(request.jobId)} must be 1-100 of [A-Za-z0-9._-]`);
    }
    if (!(request.dpi > 0 && request.dpi <= 1200) || !(request.timeoutMs > 0)) {
      throw new RangeError(`dpi ${request.dpi} must be in (0, 1200] and timeoutMs ${request.timeoutMs} positive`);
    }
    const inches = request.figureInches;
    if (inches && !(inches.width > 0 && inches.width <= 100 && inches.height > 0 && inches.height <= 100)) {
      throw new RangeError(`figure size ${inches.width}x${inches.height} inches must be in (0, 100]`);
    }
    request.signal?.throwIfAborted();
    const state = await start();
    const began = performance.now();
    const slot = await acquireSlot(state);
    let hostDirectory: string | undefined;
    try {
      if (closing.signal.aborted) throw new Error('the renderer was closed during the render');
      request.signal?.throwIfAborted();
      const zygote = await readyZygote(state, slot);
      const sandbox = state.sandboxes[slot.index]!;
      const name = `${request.jobId}-${randomBytes(6).toString('hex')}`;
      hostDirectory = join(sandbox.jobsRootOnHost(zygote.sandboxPid), name);
      // Created by the worker in a directory the job cannot write: the job may fill its own
      // directory but never rename it or swap it for a link.
      await mkdir(hostDirectory, { mode: 0o700 });
      if (slot.uid !== undefined) await chown(hostDirectory, slot.uid, slot.uid);
      await writeFile(join(hostDirectory, 'script.py'), request.code, { mode: 0o644 });

      const signal = request.signal === undefined ? closing.signal : AbortSignal.any([request.signal, closing.signal]);
      const end = await zygote.run(
        {
          id: nextJobNumber++,
          directory: `${sandbox.jobsRootInside}/${name}`,
          dpi: request.dpi,
          ...(request.figureInches ? { figureInches: request.figureInches } : {}),
          timeoutMs: request.timeoutMs,
        },
        signal,
      );
      // Cancellation is not a render outcome: it propagates, so the caller's cancellation holds.
      if (end.ending === 'cancelled' || signal.aborted) {
        if (request.signal?.aborted) throw request.signal.reason ?? new Error('render aborted');
        throw new Error('the renderer was closed during the render');
      }
      const outcome = await interpretEnd(end, hostDirectory, request);
      const truncated = end.ending === 'output-limit' || end.output.length >= limits.outputBytes;
      const output = truncated ? `${end.output}\n[output truncated after ${limits.outputBytes} bytes]` : end.output;
      return { ...outcome, output, durationMs: Math.round(performance.now() - began) };
    } finally {
      if (hostDirectory !== undefined && !keepJobDirectories) {
        // A leftover scratch directory costs space, not correctness: each job gets a new one.
        await rm(hostDirectory, { recursive: true, force: true }).catch(() => undefined);
      }
      recycleIfDue(state, slot);
      releaseSlot(slot);
    }
  }

  return {
    async render(request: RenderRequest): Promise<RenderResult> {
      if (closing.signal.aborted) throw new Error('the renderer is closed');
      const rendering = renderJob(request);
      rendersInFlight.add(rendering);
      try {
        return await rendering;
      } finally {
        rendersInFlight.delete(rendering);
      }
    },

    async start(): Promise<void> {
      await start();
    },

    describe(): string {
      if (started === undefined) return `sandboxed renderer (python ${python}): isolation not probed yet`;
      const uids = started.slots.map((slot) => slot.uid).filter((uid) => uid !== undefined);
      const uidText = uids.length > 0 ? `, uids ${uids[0]}–${uids.at(-1)}` : '';
      return (
        `sandboxed renderer (python ${python}): isolation ${started.isolation.level} — ${started.isolation.summary}; ` +
        `${started.slots.length} pre-forked zygotes${uidText}, each recycled after ${recycleAfterJobs} jobs`
      );
    },

    status(): SandboxStatus | undefined {
      if (started === undefined) return undefined;
      return {
        level: started.isolation.level,
        slots: started.slots.map((slot) => ({
          uid: slot.uid,
          sandboxPid: slot.zygote?.alive === true ? slot.zygote.sandboxPid : undefined,
          zygoteStarts: slot.zygoteStarts,
          jobsOnZygote: slot.zygote?.jobsServed ?? 0,
        })),
      };
    },

    async close(): Promise<void> {
      closing.abort(new Error('the renderer was closed'));
      const state = await starting?.catch(() => undefined);
      await Promise.allSettled(rendersInFlight);
      if (state !== undefined) {
        await Promise.all(
          state.slots.map(async (slot) => {
            const fresh = await slot.starting?.catch(() => undefined);
            await Promise.all([slot.zygote?.stop(), fresh?.stop()]);
          }),
        );
        await state.claims?.release();
        await Promise.all(
          state.sandboxes.map((sandbox) =>
            sandbox.hostSlotDirectory === undefined
              ? undefined
              : rm(sandbox.hostSlotDirectory, { recursive: true, force: true }),
          ),
        );
      }
      if (fontCacheDirectory !== undefined) await rm(fontCacheDirectory, { recursive: true, force: true });
    },
  };
}

function describeSignal(signal: string, limits: RenderLimits): Failure {
  switch (signal) {
    case 'SIGXCPU':
      return failure('limit', `the script used more than ${limits.cpuSeconds} s of CPU time`);
    case 'SIGXFSZ':
      return failure('limit', `the script wrote a file larger than ${limits.fileSizeBytes / 1024 ** 2} MiB`);
    case 'SIGKILL':
      return failure('limit', 'python was killed (SIGKILL), most likely for using too much memory or CPU');
    case 'SIGSYS':
      return failure('exception', 'python made a system call the sandbox forbids and was killed (SIGSYS)');
    default:
      return failure('exception', `python crashed with ${signal}`);
  }
}

function lastLines(text: string, count: number): string {
  return text.trimEnd().split('\n').slice(-count).join('\n');
}
