import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { sandboxSelfCheckSchema, type SandboxSelfCheck, type SlotSandbox } from './isolation.ts';

/** What the zygote was started with; zygote.py reads it as its one argument. */
export interface ZygoteSettings {
  font_cache: string | null;
  scratch: string[];
  /** The zygote's HOME, TMPDIR and (below it) MPLCONFIGDIR; each job gets its own directory instead. */
  home: string;
  limits: {
    cpu_seconds: number;
    address_space_bytes: number;
    file_size_bytes: number;
    open_files: number;
    processes: number;
  };
  max_output_bytes: number;
  max_image_side: number;
  warm_up_dpi: number;
  seccomp: boolean;
}

export interface ZygoteJob {
  id: number;
  /** The job directory as the zygote sees it; holds script.py. */
  directory: string;
  dpi: number;
  /** Resize every figure to this and save it whole; absent: tight bounding box at the script's size. */
  figureInches?: { width: number; height: number };
  timeoutMs: number;
}

export interface ZygoteJobEnd {
  /** `sandbox-died`: the zygote itself ended (or was killed) while the job ran. */
  ending: 'exited' | 'timeout' | 'output-limit' | 'cancelled' | 'sandbox-died';
  exitCode: number | null;
  signal: string | null;
  output: string;
  cpuSeconds: number | null;
  /** The zygote's last diagnostics, when it died. */
  diagnostics: string;
}

/** The zygote failed to start; the message carries its last diagnostics. */
export class ZygoteStartError extends Error {
  override readonly name = 'ZygoteStartError';
}

const readyMessageSchema = sandboxSelfCheckSchema.extend({ type: z.literal('ready') });

const doneMessageSchema = z.object({
  type: z.literal('done'),
  id: z.int(),
  ending: z.enum(['exited', 'timeout', 'output-limit', 'cancelled']),
  exit_code: z.int().nullable(),
  signal: z.string().nullable(),
  output: z.string(),
  cpu_seconds: z.number().nullable(),
});

/** The zygote enforces the wall clock; the worker kills the whole sandbox if it does not, this much later. */
const BACKSTOP_MS = 5_000;
/** How long a cancelled job may take to be reported before the sandbox is killed instead. */
const CANCEL_GRACE_MS = 2_000;
const EXIT_GRACE_MS = 2_000;
const MAX_DIAGNOSTIC_CHARACTERS = 8_000;
/** A done message carries at most the output limit, JSON-escaped; anything far larger is not the zygote talking. */
const MAX_LINE_BYTES = 64 * 1024 * 1024;

interface InFlight {
  id: number;
  resolve: (end: ZygoteJobEnd) => void;
}

/**
 * One render slot's sandboxed zygote process: started through the isolation's command line, it
 * reports ready after its warm-up, then runs one job at a time.
 */
export class Zygote {
  readonly report: SandboxSelfCheck;
  /** The sandbox's pid 1 as the host numbers it (for bubblewrap), else the zygote's own pid. */
  readonly sandboxPid: number;
  jobsServed = 0;
  private exitedFlag = false;
  private inFlight: InFlight | undefined;
  private readonly subprocess: ChildProcess;
  private readonly diagnosticsText: () => string;
  /** Settles when the sandbox process has exited. */
  readonly exited: Promise<void>;

  private constructor(parts: {
    subprocess: ChildProcess;
    report: SandboxSelfCheck;
    sandboxPid: number;
    diagnostics: () => string;
    exited: Promise<void>;
    onMessage: (listener: (line: string) => void) => void;
    onExit: (listener: () => void) => void;
  }) {
    this.subprocess = parts.subprocess;
    this.report = parts.report;
    this.sandboxPid = parts.sandboxPid;
    this.diagnosticsText = parts.diagnostics;
    this.exited = parts.exited;
    parts.onMessage((line) => this.handleMessage(line));
    parts.onExit(() => {
      this.exitedFlag = true;
      const job = this.inFlight;
      this.inFlight = undefined;
      job?.resolve(this.sandboxDied());
    });
  }

  static async start(
    sandbox: SlotSandbox,
    settings: ZygoteSettings,
    options: { readyTimeoutMs: number },
  ): Promise<Zygote> {
    // A long-lived process speaking a line protocol, with an extra descriptor for bwrap's report:
    // node's spawn fits that better than execa's run-to-completion model. The environment is
    // exactly the one given (the worker's, with its API keys, never reaches the sandbox).
    const subprocess = spawn(
      sandbox.file,
      [...sandbox.args, JSON.stringify({ ...settings, ...sandbox.zygoteSettings })],
      {
        env: sandbox.environment,
        // Its own process group, so one kill(-pid) reaches the sandbox's launcher processes.
        detached: true,
        stdio: ['pipe', 'pipe', 'pipe', sandbox.zygotePid === 'info-descriptor' ? 'pipe' : 'ignore'],
      },
    );
    const { pid } = subprocess;
    if (pid === undefined) {
      const error = await new Promise<Error>((resolve) => subprocess.once('error', resolve));
      throw new ZygoteStartError(`could not start ${sandbox.file}: ${error.message}`);
    }
    subprocess.on('error', () => undefined);

    let diagnostics = '';
    subprocess.stderr?.on('data', (chunk: Buffer) => {
      diagnostics = (diagnostics + chunk.toString('utf8')).slice(-MAX_DIAGNOSTIC_CHARACTERS);
    });
    const messageListeners: Array<(line: string) => void> = [];
    const exitListeners: Array<() => void> = [];
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    subprocess.stdout?.on('data', (chunk: Buffer) => {
      let start = 0;
      for (let newline = chunk.indexOf(10); newline !== -1; newline = chunk.indexOf(10, start)) {
        pending.push(chunk.subarray(start, newline));
        const line = Buffer.concat(pending).toString('utf8');
        pending = [];
        pendingBytes = 0;
        start = newline + 1;
        for (const listener of messageListeners) listener(line);
      }
      if (start < chunk.length) {
        pending.push(chunk.subarray(start));
        pendingBytes += chunk.length - start;
        if (pendingBytes > MAX_LINE_BYTES) killSandbox(pid, undefined);
      }
    });
    const exited = new Promise<void>((resolve) => {
      subprocess.once('exit', () => {
        for (const listener of exitListeners) listener();
        resolve();
      });
    });

    const childPid = sandbox.zygotePid === 'info-descriptor' ? readChildPid(subprocess) : Promise.resolve(pid);
    const ready = new Promise<SandboxSelfCheck>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(
          new ZygoteStartError(
            `the zygote did not report ready within ${options.readyTimeoutMs} ms${tail(diagnostics)}`,
          ),
        );
      }, options.readyTimeoutMs);
      messageListeners.push((line) => {
        const parsed = readyMessageSchema.safeParse(safeJson(line));
        if (!parsed.success) return;
        clearTimeout(timer);
        resolve(parsed.data);
      });
      exitListeners.push(() => {
        clearTimeout(timer);
        reject(new ZygoteStartError(`the sandbox exited before the zygote was ready${tail(diagnostics)}`));
      });
    });

    let sandboxPid: number | undefined;
    try {
      const [report, launcherChild] = await Promise.all([ready, childPid]);
      // By the time the zygote reports ready, unshare has forked it.
      const reportedPid = sandbox.zygotePid === 'launcher-child' ? await onlyChildOf(pid) : launcherChild;
      sandboxPid = reportedPid;
      const zygote = new Zygote({
        subprocess,
        report,
        sandboxPid: reportedPid,
        diagnostics: () => diagnostics,
        exited,
        onMessage: (listener) => messageListeners.splice(0, messageListeners.length, listener),
        onExit: (listener) => exitListeners.splice(0, exitListeners.length, listener),
      });
      if (subprocess.exitCode !== null || subprocess.signalCode !== null) zygote.exitedFlag = true;
      return zygote;
    } catch (error) {
      killSandbox(pid, sandboxPid);
      await exited;
      throw error;
    }
  }

  get alive(): boolean {
    return !this.exitedFlag;
  }

  /** How a job ends when the sandbox is gone: no exit code of its own, and what the sandbox said. */
  private sandboxDied(): ZygoteJobEnd {
    return {
      ending: 'sandbox-died',
      exitCode: null,
      signal: null,
      output: '',
      cpuSeconds: null,
      diagnostics: this.diagnosticsText(),
    };
  }

  /** Runs one job; resolves however it ended. An abort kills the job (and the sandbox if the zygote does not). */
  run(job: ZygoteJob, signal?: AbortSignal): Promise<ZygoteJobEnd> {
    if (this.inFlight !== undefined) throw new Error('a zygote runs one job at a time');
    if (!this.alive) {
      return Promise.resolve(this.sandboxDied());
    }
    this.jobsServed++;
    return new Promise<ZygoteJobEnd>((resolve) => {
      let backstop: NodeJS.Timeout | undefined;
      let cancelTimer: NodeJS.Timeout | undefined;
      let killedFor: 'timeout' | 'cancelled' | undefined;
      const onAbort = (): void => {
        this.send({ type: 'cancel', id: job.id });
        cancelTimer ??= setTimeout(() => {
          killedFor = 'cancelled';
          this.kill();
        }, CANCEL_GRACE_MS);
      };
      this.inFlight = {
        id: job.id,
        resolve: (end) => {
          clearTimeout(backstop);
          clearTimeout(cancelTimer);
          signal?.removeEventListener('abort', onAbort);
          // A sandbox killed by the worker's own backstop ended the job the way the backstop says.
          resolve(end.ending === 'sandbox-died' && killedFor !== undefined ? { ...end, ending: killedFor } : end);
        },
      };
      backstop = setTimeout(() => {
        killedFor = 'timeout';
        this.kill();
      }, job.timeoutMs + BACKSTOP_MS);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.send({
        type: 'job',
        id: job.id,
        directory: job.directory,
        dpi: job.dpi,
        ...(job.figureInches ? { figure_inches: [job.figureInches.width, job.figureInches.height] } : {}),
        timeout_ms: job.timeoutMs,
      });
      if (signal?.aborted) onAbort();
    });
  }

  /** Asks the zygote to exit and kills the sandbox if it has not after a grace period. */
  async stop(): Promise<void> {
    if (!this.alive) return;
    this.send({ type: 'exit' });
    const timer = setTimeout(() => this.kill(), EXIT_GRACE_MS);
    await this.exited;
    clearTimeout(timer);
  }

  kill(): void {
    // Once the launcher has exited, the sandbox's pid may belong to another process.
    if (this.alive) killSandbox(this.subprocess.pid!, this.sandboxPid);
  }

  private send(message: Record<string, unknown>): void {
    if (!this.alive || this.subprocess.stdin?.writable !== true) return;
    // A write to a sandbox that just died fails with EPIPE; its exit event reports the job.
    this.subprocess.stdin.write(`${JSON.stringify(message)}\n`, () => undefined);
  }

  private handleMessage(line: string): void {
    const parsed = doneMessageSchema.safeParse(safeJson(line));
    const job = this.inFlight;
    if (!parsed.success || job === undefined || parsed.data.id !== job.id) return;
    this.inFlight = undefined;
    job.resolve({
      ending: parsed.data.ending,
      exitCode: parsed.data.exit_code,
      signal: parsed.data.signal,
      output: parsed.data.output,
      cpuSeconds: parsed.data.cpu_seconds,
      diagnostics: '',
    });
  }
}

function safeJson(line: string): unknown {
  try {
    return JSON.parse(line);
  } catch {
    return undefined;
  }
}

function tail(diagnostics: string): string {
  const lines = diagnostics.trim().split('\n').slice(-12).join('\n');
  return lines === '' ? '' : `:\n${lines}`;
}

/** bwrap writes {"child-pid": N} to its info descriptor once the sandbox's pid 1 exists. */
function readChildPid(subprocess: ChildProcess): Promise<number> {
  const stream = subprocess.stdio[3];
  if (stream === null || stream === undefined) return Promise.reject(new ZygoteStartError('no info descriptor'));
  return new Promise<number>((resolve, reject) => {
    let text = '';
    stream.on('data', (chunk: Buffer) => {
      text += chunk.toString('utf8');
    });
    stream.once('close', () => {
      const childPid = (safeJson(text) as { 'child-pid'?: unknown } | undefined)?.['child-pid'];
      if (typeof childPid === 'number' && Number.isInteger(childPid) && childPid > 0) resolve(childPid);
      else reject(new ZygoteStartError(`bwrap did not report the sandbox's pid (${JSON.stringify(text)})`));
    });
  });
}

async function onlyChildOf(pid: number): Promise<number> {
  const children = (await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8')).trim().split(/\s+/).map(Number);
  if (children.length !== 1 || !Number.isInteger(children[0]) || children[0]! <= 0) {
    throw new ZygoteStartError(`expected the launcher ${pid} to have one child, found ${JSON.stringify(children)}`);
  }
  return children[0]!;
}

function signalQuietly(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch (error) {
    // ESRCH: already gone. EPERM: gone too, the id now another user's. This runs in timer
    // callbacks, where a throw would take the whole worker down.
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'ESRCH' && code !== 'EPERM') throw error;
  }
}

/**
 * Kills the launcher's process group and the sandbox's pid 1: with pid 1 gone the kernel ends every
 * process in its pid namespace; without a namespace, each job dies with the zygote (parent-death
 * signal) and the next zygote of that uid kills what is left.
 */
function killSandbox(launcherPid: number, sandboxPid: number | undefined): void {
  signalQuietly(-launcherPid);
  if (sandboxPid !== undefined && sandboxPid !== launcherPid) signalQuietly(sandboxPid);
}
