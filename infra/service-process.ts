import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { setTimeout as delay } from 'node:timers/promises';

export interface ServiceProcessOptions {
  /** Names the service in errors: `minio`, `postgres`, `temporal-server`. */
  name: string;
  executable: string;
  arguments: string[];
  /** @default process.env */
  environment?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Run as this user and group (a root test starting PostgreSQL, which refuses to run as root). */
  user?: { uid: number; gid: number };
  /**
   * What asks the service to stop; PostgreSQL's fast shutdown is SIGINT (its SIGTERM waits for clients).
   * @default 'SIGTERM'
   */
  stopSignal?: NodeJS.Signals;
  /** @default 10_000 */
  stopGraceMilliseconds?: number;
}

/** A server process a test owns: its output's tail kept for errors, stopped by `stop()` or at our exit. */
export interface ServiceProcess {
  readonly name: string;
  readonly pid: number | undefined;
  /** `code 1`, `signal SIGKILL`, `a failed start`; undefined while it runs. */
  readonly exitDescription: string | undefined;
  readonly exited: Promise<void>;
  /** The last few thousand characters it wrote to stdout and stderr. */
  outputTail(): string;
  /** Asks it to stop, kills it after the grace period; resolves once it has exited. */
  stop(): Promise<void>;
}

const outputTailCharacters = 6_000;
const pollMilliseconds = 200;

export function startServiceProcess(options: ServiceProcessOptions): ServiceProcess {
  const child = spawn(options.executable, options.arguments, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: options.environment ?? process.env,
    cwd: options.cwd,
    uid: options.user?.uid,
    gid: options.user?.gid,
  });
  let outputTail = '';
  let exitDescription: string | undefined;
  const exited = new Promise<void>((resolve) => {
    child.once('close', (code, signal) => {
      exitDescription = code === null ? `signal ${signal ?? 'unknown'}` : `code ${code}`;
      resolve();
    });
    child.once('error', (error) => {
      outputTail += `${error.message}\n`;
      // A failed spawn (ENOENT, EACCES) emits no 'close' of a running process.
      if (child.pid === undefined) {
        exitDescription = 'a failed start';
        resolve();
      }
    });
  });
  for (const stream of [child.stdout, child.stderr]) {
    createInterface({ input: stream, crlfDelay: Infinity }).on('line', (line) => {
      outputTail = `${outputTail}${line}\n`.slice(-outputTailCharacters);
    });
  }
  // A synchronous kill is all `exit` allows; it keeps a failed test from leaving servers behind.
  const killOnExit = (): void => {
    child.kill('SIGKILL');
  };
  process.on('exit', killOnExit);

  let stopping: Promise<void> | undefined;
  return {
    name: options.name,
    pid: child.pid,
    get exitDescription() {
      return exitDescription;
    },
    exited,
    outputTail: () => outputTail.trim(),
    stop() {
      stopping ??= (async () => {
        process.off('exit', killOnExit);
        if (exitDescription !== undefined) return;
        child.kill(options.stopSignal ?? 'SIGTERM');
        const timeout = delay(options.stopGraceMilliseconds ?? 10_000, 'timeout' as const, { ref: false });
        if ((await Promise.race([exited, timeout])) === 'timeout') {
          child.kill('SIGKILL');
          await exited;
        }
      })();
      return stopping;
    },
  };
}

/**
 * Polls `isReady` until it is true; fails with the service's output when the process exits first
 * or the time runs out (and then stops it).
 */
export async function waitUntilReady(
  service: ServiceProcess,
  what: string,
  isReady: () => Promise<boolean>,
  timeoutMilliseconds: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMilliseconds;
  for (;;) {
    if (service.exitDescription !== undefined) {
      throw new Error(`${service.name} exited with ${service.exitDescription}: ${service.outputTail()}`);
    }
    if (await isReady()) return;
    if (Date.now() >= deadline) {
      await service.stop();
      throw new Error(
        `${service.name} did not become ready (${what}) within ${timeoutMilliseconds / 1000} s: ${service.outputTail()}`,
      );
    }
    await Promise.race([delay(pollMilliseconds), service.exited]);
  }
}
