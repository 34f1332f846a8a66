import { constants as fileConstants } from 'node:fs';
import type { Stats } from 'node:fs';
import { copyFile, lstat, mkdir, mkdtemp, open, readdir, realpath, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { crc32 } from 'node:zlib';
import { execa } from 'execa';
import type { ResultPromise } from 'execa';
import { z } from 'zod';
import type { RenderErrorKind, RenderRequest, RenderResult, Renderer } from './renderer.ts';

export interface SubprocessRendererOptions {
  /** Absolute path of a Python that imports matplotlib (see `findPython`). */
  python: string;
  /** Parent of the per-job scratch directories; created when missing. */
  workDirectory: string;
  /** Captured stdout+stderr per job; a script printing more is killed with kind 'limit'. @default 1 MiB */
  maxOutputBytes?: number;
  /** Leave each job's directory behind for debugging. @default false */
  keepJobDirectories?: boolean;
}

const harnessPath = fileURLToPath(new URL('./harness.py', import.meta.url));

const DEFAULT_MAX_OUTPUT_BYTES = 1024 * 1024;
const MAX_IMAGE_SIDE = 8192;
const MAX_IMAGE_BYTES = 20 * 1024 * 1024;
const MAX_RESULT_BYTES = 1024 * 1024;
/** Mirrors MAX_FIGURES in harness.py. */
const MAX_FIGURES = 16;
/**
 * After python exits, how long its output pipe may stay open. Only a process that left the group
 * (setsid) can hold it past the group kill; waiting on it would hang the job.
 */
const PIPE_DRAIN_GRACE_MS = 1000;
const OUTPUT_TAIL_LINES = 15;
const JOB_ID_PATTERN = /^[A-Za-z0-9._-]{1,100}$/;
const FIGURE_FILE_PATTERN = /^figure-[0-9]{1,3}\.png$/;
const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
/** Signature (8) + IHDR length (4) + type (4) + width (4) + height (4). */
const PNG_HEADER_BYTES = 24;

/** result.json as harness.py writes it; the script shares the interpreter, so it is untrusted. */
const harnessResultSchema = z.object({
  ok: z.boolean(),
  figures: z
    .array(
      z.object({
        file: z.string().regex(FIGURE_FILE_PATTERN),
        width: z.int().nonnegative(),
        height: z.int().nonnegative(),
        blank: z.boolean(),
        ink_fraction: z.number(),
      }),
    )
    .max(MAX_FIGURES),
  error: z
    .object({
      kind: z.enum(['exception', 'no-figure', 'blank', 'limit']),
      message: z.string(),
    })
    .optional(),
});

type Failure = { ok: false; kind: RenderErrorKind; message: string };
type Outcome = { ok: true; images: Uint8Array[]; width: number; height: number } | Failure;

type StopReason = 'timeout' | 'output-limit' | 'aborted' | 'closed';

interface HarnessRun {
  /** How the run ended: on its own, or stopped by us for the reason named. */
  ending: 'exited' | StopReason;
  exitCode: number | undefined;
  signal: string | undefined;
  output: string;
}

interface VerifiedPng {
  ok: true;
  bytes: Uint8Array;
  width: number;
  height: number;
}

/**
 * Renders each job in a fresh python process: its own directory, an allow-listed environment, its
 * own process group (killed whole on timeout, flood or abort) and rlimits set by the harness.
 * No namespace isolation: the script runs with this process's uid and network.
 */
export function createSubprocessRenderer(options: SubprocessRendererOptions): Renderer {
  const { python, workDirectory } = options;
  const maxOutputBytes = options.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES;
  const keepJobDirectories = options.keepJobDirectories ?? false;
  const activeRuns = new Set<{ stop: (reason: StopReason) => void }>();
  const rendersInFlight = new Set<Promise<unknown>>();
  let closed = false;
  let fontCacheTemplate: Promise<FontCacheTemplate> | undefined;

  function runEnvironment(homeDirectory: string): Record<string, string> {
    return {
      PATH: `${dirname(python)}:/usr/local/bin:/usr/bin:/bin`,
      HOME: homeDirectory,
      TMPDIR: homeDirectory,
      MPLBACKEND: 'Agg',
      MPLCONFIGDIR: join(homeDirectory, '.matplotlib'),
      LANG: 'C.UTF-8',
      LC_ALL: 'C.UTF-8',
      PYTHONDONTWRITEBYTECODE: '1',
      PYTHONHASHSEED: '0',
      // Keeps prints and warnings in the order the script made them.
      PYTHONUNBUFFERED: '1',
      // OpenBLAS reserves memory per core at import; on a large host that alone would exceed the
      // 2 GiB address-space limit.
      OPENBLAS_NUM_THREADS: '1',
      OMP_NUM_THREADS: '1',
    };
  }

  /**
   * Matplotlib scans every installed font (~0.7 s) when its cache is missing, and each job's
   * MPLCONFIGDIR starts empty. One scan per renderer, copied into each job, removes that cost
   * without letting one job's scripts write into a cache the next job reads.
   */
  async function buildFontCacheTemplate(): Promise<FontCacheTemplate> {
    const directory = await mkdtemp(join(workDirectory, 'matplotlib-font-cache-'));
    await mkdir(join(directory, '.matplotlib'));
    const warmUp = await execa(python, ['-s', '-B', '-c', 'import matplotlib.font_manager'], {
      cwd: directory,
      env: runEnvironment(directory),
      extendEnv: false,
      stdin: 'ignore',
      reject: false,
      timeout: 120_000,
    });
    // Without a template every job builds its own cache: slower, still correct. A python that
    // cannot import matplotlib fails each job with its traceback, which says more than this would.
    const files = warmUp.exitCode === 0 ? await readdir(join(directory, '.matplotlib')) : [];
    return { directory, files: files.filter((file) => file.startsWith('fontlist-')) };
  }

  async function prepareJobDirectory(jobDirectory: string, code: string): Promise<void> {
    fontCacheTemplate ??= buildFontCacheTemplate();
    const template = await fontCacheTemplate;
    const configDirectory = join(jobDirectory, '.matplotlib');
    await mkdir(configDirectory);
    await Promise.all(
      template.files.map((file) =>
        copyFile(join(template.directory, '.matplotlib', file), join(configDirectory, file)),
      ),
    );
    await writeFile(join(jobDirectory, 'script.py'), code, { mode: 0o600 });
  }

  /** The one place python is spawned; the sandboxed renderer replaces this command line. */
  async function runHarness(jobDirectory: string, request: RenderRequest): Promise<HarnessRun> {
    if (closed) throw new Error('the renderer was closed during the render');
    const subprocess = execa(
      python,
      ['-s', '-B', harnessPath, join(jobDirectory, 'script.py'), jobDirectory, String(request.dpi)],
      {
        cwd: jobDirectory,
        env: runEnvironment(jobDirectory),
        extendEnv: false,
        // Its own process group, so one kill(-pid) reaches every process the script started.
        detached: true,
        stdin: 'ignore',
        all: true,
        buffer: false,
        reject: false,
      },
    );
    const { pid } = subprocess;
    if (pid === undefined) {
      const failure = await subprocess;
      throw new Error(`could not start ${python}: ${failure.shortMessage}`);
    }

    const output = new OutputCollector(maxOutputBytes);
    let ending: HarnessRun['ending'] = 'exited';
    let exited = false;
    let drainTimer: NodeJS.Timeout | undefined;
    const stop = (reason: StopReason): void => {
      if (ending !== 'exited') return;
      ending = reason;
      if (!exited) killProcessGroup(pid);
    };

    subprocess.all.on('data', (chunk: Buffer) => {
      if (!output.append(chunk)) stop('output-limit');
    });
    subprocess.once('exit', () => {
      exited = true;
      // Whatever the script forked and left running dies with it. This runs in the tick the
      // leader is reaped, before its pid could be handed to a new process group.
      killProcessGroup(pid);
      drainTimer = setTimeout(() => destroyPipes(subprocess), PIPE_DRAIN_GRACE_MS);
    });
    const timeoutTimer = setTimeout(() => stop('timeout'), request.timeoutMs);
    const onAbort = (): void => stop('aborted');
    request.signal?.addEventListener('abort', onAbort, { once: true });
    // An abort while the job directory was being prepared came before this listener.
    if (request.signal?.aborted) stop('aborted');

    const run = { stop };
    activeRuns.add(run);
    try {
      const result = await subprocess;
      return { ending, exitCode: result.exitCode, signal: result.signal, output: output.text() };
    } finally {
      clearTimeout(timeoutTimer);
      clearTimeout(drainTimer);
      request.signal?.removeEventListener('abort', onAbort);
      activeRuns.delete(run);
    }
  }

  async function interpretRun(run: HarnessRun, jobDirectory: string, request: RenderRequest): Promise<Outcome> {
    switch (run.ending) {
      case 'timeout':
        return failure('timeout', `the script ran longer than ${request.timeoutMs} ms and was killed`);
      case 'output-limit':
        return failure('limit', `the script printed more than ${maxOutputBytes} bytes and was stopped; print less`);
      case 'aborted':
      case 'closed':
        throw new Error(`unreachable: a run ${run.ending} is rethrown before interpretation`);
      case 'exited':
        break;
    }
    if (run.signal !== undefined) return describeSignal(run.signal);

    const resultFile = await readJobFile(jobDirectory, 'result.json', MAX_RESULT_BYTES);
    if (!resultFile.ok) {
      if (resultFile.missing) {
        return failure(
          'exception',
          `python exited with code ${run.exitCode} before the harness wrote its result` +
            `; last output:\n${lastLines(run.output, OUTPUT_TAIL_LINES)}`,
        );
      }
      return failure(resultFile.kind, resultFile.message);
    }
    let harnessResult: z.infer<typeof harnessResultSchema>;
    try {
      harnessResult = harnessResultSchema.parse(JSON.parse(resultFile.bytes.toString('utf8')));
    } catch (error) {
      return failure('invalid-output', `result.json is not what the harness writes: ${String(error)}`);
    }

    if (!harnessResult.ok) {
      return harnessResult.error === undefined
        ? failure('invalid-output', 'result.json reports a failure without an error')
        : failure(harnessResult.error.kind, harnessResult.error.message);
    }
    // A blank figure next to real ones is a stray plt.figure(); it would only distract the judge.
    const drawnFigures = harnessResult.figures.filter((figure) => !figure.blank);
    if (drawnFigures.length === 0) return failure('blank', 'every figure is blank');

    const images: VerifiedPng[] = [];
    for (const figure of drawnFigures) {
      const image = await readVerifiedPng(jobDirectory, figure.file);
      if (!image.ok) return image;
      images.push(image);
    }
    const [first] = images;
    if (first === undefined) return failure('no-figure', 'no figure was saved');
    return { ok: true, images: images.map((image) => image.bytes), width: first.width, height: first.height };
  }

  async function renderJob(request: RenderRequest): Promise<RenderResult> {
    if (!JOB_ID_PATTERN.test(request.jobId)) {
      throw new TypeError(`job id ${JSON.stringify(request.jobId)} must be 1-100 of [A-Za-z0-9._-]`);
    }
    if (!(request.dpi > 0 && request.dpi <= 1200) || !(request.timeoutMs > 0)) {
      throw new RangeError(`dpi ${request.dpi} must be in (0, 1200] and timeoutMs ${request.timeoutMs} positive`);
    }
    request.signal?.throwIfAborted();

    const started = performance.now();
    await mkdir(workDirectory, { recursive: true });
    // realpath: the containment checks compare against the directory's canonical path.
    const jobDirectory = await realpath(await mkdtemp(join(workDirectory, `${request.jobId}-`)));
    try {
      await prepareJobDirectory(jobDirectory, request.code);
      const run = await runHarness(jobDirectory, request);
      // Cancellation is not a render outcome: it propagates, so the caller's cancellation holds.
      if (run.ending === 'aborted') throw request.signal?.reason ?? new Error('render aborted');
      if (run.ending === 'closed') throw new Error('the renderer was closed during the render');
      const outcome = await interpretRun(run, jobDirectory, request);
      const durationMs = Math.round(performance.now() - started);
      return { ...outcome, output: run.output, durationMs };
    } finally {
      if (!keepJobDirectories) {
        // A leftover scratch directory costs disk, not correctness: each job gets a new one.
        await rm(jobDirectory, { recursive: true, force: true }).catch(() => undefined);
      }
    }
  }

  return {
    async render(request: RenderRequest): Promise<RenderResult> {
      if (closed) throw new Error('the renderer is closed');
      const rendering = renderJob(request);
      rendersInFlight.add(rendering);
      try {
        return await rendering;
      } finally {
        rendersInFlight.delete(rendering);
      }
    },

    describe(): string {
      return `subprocess renderer (python ${python}, isolation: none — environment allow-listed, own process group, rlimits)`;
    },

    async close(): Promise<void> {
      closed = true;
      for (const run of activeRuns) run.stop('closed');
      // Renders still preparing may copy from the font cache template; it goes once they are done.
      await Promise.allSettled(rendersInFlight);
      const template = await fontCacheTemplate?.catch(() => undefined);
      if (template !== undefined) await rm(template.directory, { recursive: true, force: true });
    },
  };
}

interface FontCacheTemplate {
  directory: string;
  files: string[];
}

function failure(kind: RenderErrorKind, message: string): Failure {
  return { ok: false, kind, message };
}

function killProcessGroup(pid: number): void {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch (error) {
    // ESRCH: the group is already gone. EPERM: gone too, its id now another user's. This runs in
    // stream and timer callbacks, where a throw would take the whole worker down.
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'ESRCH' && code !== 'EPERM') throw error;
  }
}

function destroyPipes(subprocess: ResultPromise): void {
  subprocess.stdout?.destroy();
  subprocess.stderr?.destroy();
  subprocess.all?.destroy();
}

function describeSignal(signal: string): Failure {
  switch (signal) {
    case 'SIGXCPU':
      return failure('limit', 'the script used more than 10 s of CPU time');
    case 'SIGXFSZ':
      return failure('limit', 'the script wrote a file larger than 64 MiB');
    case 'SIGKILL':
      return failure('limit', 'python was killed (SIGKILL), most likely for using too much memory');
    default:
      return failure('exception', `python crashed with ${signal}`);
  }
}

function lastLines(text: string, count: number): string {
  return text.trimEnd().split('\n').slice(-count).join('\n');
}

/** Keeps the first `limit` bytes of a stream and says whether it stayed within them. */
class OutputCollector {
  private readonly chunks: Buffer[] = [];
  private kept = 0;
  private overflowed = false;

  constructor(private readonly limit: number) {}

  append(chunk: Buffer): boolean {
    if (this.overflowed) return false;
    const room = this.limit - this.kept;
    if (chunk.length > room) {
      this.chunks.push(chunk.subarray(0, room));
      this.kept = this.limit;
      this.overflowed = true;
      return false;
    }
    this.chunks.push(chunk);
    this.kept += chunk.length;
    return true;
  }

  text(): string {
    const text = Buffer.concat(this.chunks).toString('utf8');
    return this.overflowed ? `${text}\n[output truncated after ${this.limit} bytes]` : text;
  }
}

type JobFile = { ok: true; bytes: Buffer; stats: Stats } | (Failure & { missing: boolean });

/**
 * Reads a file the script could have planted: it must be a regular file directly in the job
 * directory, not a symlink, FIFO or hard link to something elsewhere, and no larger than `maxBytes`.
 * `readHeader` sees the first bytes before the rest is read, so a bad header costs nothing more.
 */
async function readJobFile(
  jobDirectory: string,
  fileName: string,
  maxBytes: number,
  readHeader?: (header: Buffer) => Failure | undefined,
): Promise<JobFile> {
  const path = join(jobDirectory, fileName);
  if (dirname(path) !== jobDirectory) {
    return { ...failure('invalid-output', `${fileName} is outside the job directory`), missing: false };
  }
  let linkStats: Stats;
  try {
    linkStats = await lstat(path);
  } catch {
    return { ...failure('invalid-output', `${fileName} is missing`), missing: true };
  }
  if (!linkStats.isFile()) {
    return { ...failure('invalid-output', `${fileName} is not a regular file`), missing: false };
  }

  let handle;
  try {
    // O_NOFOLLOW and the inode comparison below close the gap between lstat and open; O_NONBLOCK
    // keeps a FIFO swapped in meanwhile from blocking the open.
    handle = await open(path, fileConstants.O_RDONLY | fileConstants.O_NOFOLLOW | fileConstants.O_NONBLOCK);
  } catch (error) {
    return { ...failure('invalid-output', `${fileName} cannot be opened safely: ${String(error)}`), missing: false };
  }
  try {
    const stats = await handle.stat();
    if (!stats.isFile() || stats.ino !== linkStats.ino || stats.dev !== linkStats.dev || stats.nlink !== 1) {
      return { ...failure('invalid-output', `${fileName} changed or is linked elsewhere`), missing: false };
    }
    if (stats.size > maxBytes) {
      return { ...failure('limit', `${fileName} is ${stats.size} bytes, over the ${maxBytes} byte limit`), missing: false };
    }
    if (readHeader !== undefined) {
      const header = Buffer.alloc(Math.min(PNG_HEADER_BYTES, stats.size));
      await handle.read(header, 0, header.length, 0);
      const problem = readHeader(header);
      if (problem !== undefined) return { ...problem, missing: false };
    }
    const bytes = Buffer.alloc(stats.size);
    let offset = 0;
    while (offset < bytes.length) {
      const { bytesRead } = await handle.read(bytes, offset, bytes.length - offset, offset);
      if (bytesRead === 0) break;
      offset += bytesRead;
    }
    if (offset !== bytes.length) {
      return { ...failure('invalid-output', `${fileName} shrank while being read`), missing: false };
    }
    return { ok: true, bytes, stats };
  } finally {
    await handle.close();
  }
}

function checkPngHeader(fileName: string, header: Buffer): Failure | undefined {
  if (header.length < PNG_HEADER_BYTES || !header.subarray(0, 8).equals(PNG_SIGNATURE)) {
    return failure('invalid-output', `${fileName} does not start with the PNG signature`);
  }
  if (header.readUInt32BE(8) !== 13 || header.toString('latin1', 12, 16) !== 'IHDR') {
    return failure('invalid-output', `${fileName} does not start with an IHDR chunk`);
  }
  const width = header.readUInt32BE(16);
  const height = header.readUInt32BE(20);
  if (width === 0 || height === 0) return failure('invalid-output', `${fileName} is ${width}x${height} pixels`);
  if (width > MAX_IMAGE_SIDE || height > MAX_IMAGE_SIDE) {
    return failure('limit', `${fileName} is ${width}x${height} pixels, over ${MAX_IMAGE_SIDE}x${MAX_IMAGE_SIDE}`);
  }
  return undefined;
}

/**
 * The header is checked before the rest is read; then every chunk's CRC and the IEND terminator.
 * Deliberately no decode: inflating costs ~100 ms of event loop per megapixel, and the script could
 * forge a well-formed PNG anyway — what the walk catches is a truncated or corrupted file.
 */
async function readVerifiedPng(jobDirectory: string, fileName: string): Promise<VerifiedPng | Failure> {
  const file = await readJobFile(jobDirectory, fileName, MAX_IMAGE_BYTES, (header) =>
    checkPngHeader(fileName, header),
  );
  if (!file.ok) return failure(file.kind, file.message);
  const problem = findChunkProblem(file.bytes);
  if (problem !== undefined) return failure('invalid-output', `${fileName} ${problem}`);
  return { ok: true, bytes: file.bytes, width: file.bytes.readUInt32BE(16), height: file.bytes.readUInt32BE(20) };
}

/** Walks the chunk list after the signature; returns what is wrong, or undefined. */
function findChunkProblem(bytes: Buffer): string | undefined {
  let offset = PNG_SIGNATURE.length;
  let sawImageData = false;
  while (offset + 12 <= bytes.length) {
    const length = bytes.readUInt32BE(offset);
    const end = offset + 12 + length;
    if (end > bytes.length) return 'is truncated';
    const type = bytes.toString('latin1', offset + 4, offset + 8);
    const storedCrc = bytes.readUInt32BE(end - 4);
    if (crc32(bytes.subarray(offset + 4, end - 4)) !== storedCrc) return `has a bad CRC in its ${type} chunk`;
    if (type === 'IDAT') sawImageData = true;
    if (type === 'IEND') {
      if (!sawImageData) return 'has no image data';
      return end === bytes.length ? undefined : 'has bytes after IEND';
    }
    offset = end;
  }
  return 'ends without an IEND chunk';
}
