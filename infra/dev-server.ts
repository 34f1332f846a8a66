import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdir, open, rm, stat, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { Connection, isGrpcServiceError } from '@temporalio/client';
import { encodeSearchAttributeIndexedValueType } from '@temporalio/common/lib/search-attributes.js';
import { msToTs, optionalTsToMs } from '@temporalio/common/lib/time.js';
import { findTemporalBinary } from './tools.ts';

export type SearchAttributeTypeName = 'Keyword' | 'Int' | 'Double' | 'Bool' | 'Datetime' | 'Text';

export interface DevServerOptions {
  /**
   * Front-end gRPC port.
   * @default 7233
   */
  port?: number;
  /**
   * Web UI port.
   * @default port + 1000
   */
  uiPort?: number;
  /** SQLite file that keeps workflow state between runs; its directory is created. */
  dbFile: string;
  /**
   * Where a server we start writes its output (appended). A file, not a pipe to us: the server
   * outlives a killed CLI, and a Go program writing to a pipe nobody reads dies of SIGPIPE.
   * @default temporal-server.log beside dbFile
   */
  logFile?: string;
  /**
   * Holds the pid of a server we start while it runs, so a server left by a killed CLI can be stopped.
   * @default temporal-server.pid beside dbFile
   */
  pidFile?: string;
  /**
   * How long the namespace keeps the histories of closed workflows, in days; set at start and on a
   * reused server or an existing database when it differs.
   * @default 30
   */
  retentionDays?: number;
  /**
   * Namespace created at start (and on a reused server when missing).
   * @default 'default'
   */
  namespace?: string;
  /**
   * Custom search attributes the namespace must have, by name.
   * @default {}
   */
  searchAttributes?: Record<string, SearchAttributeTypeName>;
  /** Receives one line per notable event and the server's own warnings. */
  log?: (message: string) => void;
  /**
   * The `temporal` CLI binary.
   * @default findTemporalBinary()
   */
  executable?: string;
  /**
   * How long to wait for a spawned server to answer. `createLocal` waits only 5 s, which a cold
   * start on a busy 2-core machine can exceed.
   * @default 60_000
   */
  startTimeoutMilliseconds?: number;
}

export interface DevServer {
  /** `host:port` for `Connection.connect({ address })`. */
  readonly address: string;
  /** Where the UI of a server we started listens; for a reused server, where it would by default. */
  readonly uiUrl: string;
  readonly namespace: string;
  /** False when a server already listened on the port; then `stop()` leaves it running. */
  readonly startedByUs: boolean;
  /** Where a server we started writes its output; null for a reused one. */
  readonly logFile: string | null;
  stop(): Promise<void>;
}

// Bind to the IPv4 loopback explicitly: `localhost` may resolve to ::1 for the client while the
// server listens on 127.0.0.1 only, or the other way round.
const host = '127.0.0.1';
const logTailCharacters = 4_000;
const dayMilliseconds = 24 * 60 * 60 * 1000;
const stopGraceMilliseconds = 10_000;
const namespaceVisibleTimeoutMilliseconds = 30_000;
const grpcNotFound = 5;
const grpcAlreadyExists = 6;

/** True when something accepts TCP connections on host:port. */
export function isPortListening(hostname: string, port: number, timeoutMilliseconds = 1_000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: hostname, port });
    const finish = (listening: boolean): void => {
      socket.destroy();
      resolve(listening);
    };
    socket.setTimeout(timeoutMilliseconds, () => finish(false));
    socket.once('connect', () => finish(true));
    socket.once('error', () => finish(false));
  });
}

/** A port the kernel just handed out; free at return, so use it promptly. */
export function findFreePort(hostname = host): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, hostname, () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : undefined;
      server.close(() => (port === undefined ? reject(new Error('no port assigned')) : resolve(port)));
    });
  });
}

/**
 * Reuses a Temporal server already listening on the port, or starts `temporal server start-dev`
 * with a persistent SQLite file. Either way the namespace ends up with the requested search
 * attributes: the CLI's `--search-attribute` flags only apply to a fresh database, so attributes
 * added after the first run must be created through the operator service.
 */
export async function ensureDevServer(options: DevServerOptions): Promise<DevServer> {
  const port = options.port ?? 7233;
  const uiPort = options.uiPort ?? port + 1000;
  const namespace = options.namespace ?? 'default';
  const searchAttributes = options.searchAttributes ?? {};
  const retentionDays = options.retentionDays ?? 30;
  const log = options.log ?? (() => {});
  const address = `${host}:${port}`;
  const uiUrl = `http://localhost:${uiPort}`;
  const stateDirectory = path.dirname(path.resolve(options.dbFile));

  if (await isPortListening(host, port)) {
    let connection: Connection;
    try {
      connection = await Connection.connect({ address, connectTimeout: 5_000 });
    } catch (error) {
      throw new Error(`port ${port} is in use, but no Temporal server answers there: ${describe(error)}`, {
        cause: error,
      });
    }
    try {
      await ensureNamespace(connection, namespace, retentionDays, log);
      await ensureRetention(connection, namespace, retentionDays, log);
      await ensureSearchAttributes(connection, namespace, searchAttributes, log);
    } finally {
      await connection.close();
    }
    log(`reusing the Temporal server at ${address}`);
    return { address, uiUrl, namespace, startedByUs: false, logFile: null, stop: async () => {} };
  }

  const executable = options.executable ?? findTemporalBinary();
  await mkdir(stateDirectory, { recursive: true });
  const argumentsList = [
    'server',
    'start-dev',
    '--ip',
    host,
    '--port',
    String(port),
    '--ui-port',
    String(uiPort),
    '--db-filename',
    options.dbFile,
    '--namespace',
    namespace,
    // The UI would otherwise fetch a news feed from the internet.
    '--ui-disable-news-fetch',
    '--log-level',
    'warn',
    // WAL with normal sync survives a crash of the server process (not of the machine) and makes
    // every history write far cheaper: measured 2.7 -> 4.0 problems/s in a 120-problem build here.
    '--sqlite-pragma',
    'journal_mode=wal',
    '--sqlite-pragma',
    'synchronous=normal',
    ...Object.entries(searchAttributes).flatMap(([name, type]) => ['--search-attribute', `${name}=${type}`]),
  ];
  const logFile = options.logFile ?? path.join(stateDirectory, 'temporal-server.log');
  const pidFile = options.pidFile ?? path.join(stateDirectory, 'temporal-server.pid');
  log(`starting the Temporal dev server on ${address} (UI ${uiUrl}, state ${options.dbFile}, log ${logFile})`);
  const server = await startServerProcess(executable, argumentsList, { logFile, pidFile, log });
  try {
    const connection = await waitUntilServing(server, address, options.startTimeoutMilliseconds ?? 60_000);
    try {
      // `start-dev` has no retention flag: the namespace it creates keeps closed workflows 24 h.
      await ensureRetention(connection, namespace, retentionDays, log);
      await ensureSearchAttributes(connection, namespace, searchAttributes, log);
    } finally {
      await connection.close();
    }
  } catch (error) {
    await server.stop();
    throw error;
  }
  return { address, uiUrl, namespace, startedByUs: true, logFile, stop: () => server.stop() };
}

interface ServerProcess {
  readonly child: ChildProcess;
  /** Set once the process has exited. */
  exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  readonly exited: Promise<void>;
  /** The end of what this process wrote to the log file. */
  logTail(): Promise<string>;
  stop(): Promise<void>;
}

async function startServerProcess(
  executable: string,
  argumentsList: string[],
  files: { logFile: string; pidFile: string; log: (message: string) => void },
): Promise<ServerProcess> {
  const { logFile, pidFile, log } = files;
  await mkdir(path.dirname(logFile), { recursive: true });
  const logStart = await stat(logFile).then(
    (stats) => stats.size,
    () => 0,
  );
  const logHandle = await open(logFile, 'a');
  let child: ChildProcess;
  try {
    await logHandle.write(`--- ${new Date().toISOString()} ${executable} ${argumentsList.join(' ')}\n`);
    // Its own process group (Ctrl-C reaches only us, so workers can drain before the server
    // stops), its output in a file, and unref'd: nothing it needs dies with us.
    child = spawn(executable, argumentsList, { stdio: ['ignore', logHandle.fd, logHandle.fd], detached: true });
  } finally {
    // The child holds its own copy of the descriptor.
    await logHandle.close();
  }
  child.unref();
  let spawnError = '';
  let stopping: Promise<void> | undefined;
  let markExited: () => void = () => {};
  const exited = new Promise<void>((resolve) => {
    markExited = resolve;
  });
  // A server we started must not outlive our normal exit holding the port; a synchronous kill is
  // all `exit` allows. A killed CLI runs no handler: then the server stays up for the next run.
  const killOnExit = (): void => signalGroup(child, 'SIGTERM');
  process.on('exit', killOnExit);
  const recordExit = (code: number | null, signal: NodeJS.Signals | null): void => {
    if (state.exit !== undefined) return;
    process.off('exit', killOnExit);
    state.exit = { code, signal };
    rm(pidFile, { force: true }).then(markExited, markExited);
  };
  child.once('exit', recordExit);
  child.once('error', (error) => {
    spawnError = error.message;
    // A failed spawn (ENOENT, EACCES) emits no 'exit'.
    if (child.pid === undefined) recordExit(null, null);
  });
  if (child.pid !== undefined) await writeFile(pidFile, `${child.pid}\n`);

  const state: ServerProcess = {
    child,
    exit: undefined,
    exited,
    logTail: async () => {
      const written = await readFrom(logFile, logStart).catch(() => '');
      return `${written.slice(-logTailCharacters)}\n${spawnError}`.trim();
    },
    stop: () => {
      stopping ??= (async () => {
        if (state.exit !== undefined) return;
        // Unref'd at spawn so it does not hold our event loop; waiting for its exit must.
        child.ref();
        signalGroup(child, 'SIGTERM');
        // Unref'd so a prompt exit does not keep the event loop alive for the whole grace period.
        const timeout = delay(stopGraceMilliseconds, 'timeout' as const, { ref: false });
        if ((await Promise.race([exited, timeout])) === 'timeout') {
          log('the Temporal dev server ignored SIGTERM; killing it');
          signalGroup(child, 'SIGKILL');
          await exited;
        }
      })();
      return stopping;
    },
  };
  return state;
}

async function readFrom(file: string, offset: number): Promise<string> {
  const handle = await open(file, 'r');
  try {
    const { size } = await handle.stat();
    const length = Math.max(0, size - offset);
    const buffer = Buffer.alloc(length);
    await handle.read(buffer, 0, length, offset);
    return buffer.toString('utf8');
  } finally {
    await handle.close();
  }
}

function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    child.kill(signal);
  }
}

async function waitUntilServing(
  server: ServerProcess,
  address: string,
  timeoutMilliseconds: number,
): Promise<Connection> {
  const deadline = Date.now() + timeoutMilliseconds;
  let lastError: unknown;
  for (;;) {
    if (server.exit !== undefined) throw await exitedError(server);
    try {
      const connection = await Connection.connect({ address, connectTimeout: 2_000 });
      try {
        // connect() already asked for system info; this also proves the frontend answers calls.
        await connection.workflowService.getSystemInfo({});
        return connection;
      } catch (error) {
        await connection.close();
        throw error;
      }
    } catch (error) {
      lastError = error;
    }
    if (server.exit !== undefined) throw await exitedError(server);
    if (Date.now() >= deadline) {
      const tail = await server.logTail();
      throw new Error(
        `temporal dev server did not answer on ${address} within ${timeoutMilliseconds / 1000} s ` +
          `(last error: ${describe(lastError)})${tail === '' ? '' : `: ${tail}`}`,
      );
    }
    await Promise.race([delay(250), server.exited]);
  }
}

async function exitedError(server: ServerProcess): Promise<Error> {
  const tail = await server.logTail();
  const status = server.exit?.code ?? server.exit?.signal;
  if (status === undefined || status === null) return new Error(`temporal dev server could not be started: ${tail}`);
  return new Error(`temporal dev server exited with code ${status}${tail === '' ? '' : `: ${tail}`}`);
}

async function ensureNamespace(
  connection: Connection,
  namespace: string,
  retentionDays: number,
  log: (message: string) => void,
): Promise<void> {
  try {
    await connection.workflowService.describeNamespace({ namespace });
    return;
  } catch (error) {
    if (!isGrpcServiceError(error) || error.code !== grpcNotFound) throw error;
  }
  log(`registering namespace ${namespace}`);
  try {
    await connection.workflowService.registerNamespace({
      namespace,
      workflowExecutionRetentionPeriod: msToTs(retentionDays * dayMilliseconds),
    });
  } catch (error) {
    if (!isGrpcServiceError(error) || error.code !== grpcAlreadyExists) throw error;
  }
  // The frontend learns of new namespaces from a periodically refreshed cache, so calls naming
  // the namespace fail with NOT_FOUND for several seconds after registration.
  const deadline = Date.now() + namespaceVisibleTimeoutMilliseconds;
  for (;;) {
    try {
      await connection.operatorService.listSearchAttributes({ namespace });
      return;
    } catch (error) {
      if (!isGrpcServiceError(error) || error.code !== grpcNotFound || Date.now() >= deadline) throw error;
    }
    await delay(250);
  }
}

/** Sets the namespace's retention of closed workflows when it differs from the one wanted. */
async function ensureRetention(
  connection: Connection,
  namespace: string,
  retentionDays: number,
  log: (message: string) => void,
): Promise<void> {
  const wanted = retentionDays * dayMilliseconds;
  const description = await connection.workflowService.describeNamespace({ namespace });
  if (optionalTsToMs(description.config?.workflowExecutionRetentionTtl) === wanted) return;
  log(`setting the retention of namespace ${namespace} to ${retentionDays} days`);
  await connection.workflowService.updateNamespace({
    namespace,
    config: { workflowExecutionRetentionTtl: msToTs(wanted) },
  });
}

/**
 * Creates missing custom search attributes; refuses when one exists with another type, since
 * Temporal cannot change an attribute's type and writes of the wrong type would fail later.
 */
export async function ensureSearchAttributes(
  connection: Connection,
  namespace: string,
  searchAttributes: Record<string, SearchAttributeTypeName>,
  log: (message: string) => void = () => {},
): Promise<void> {
  const wanted = Object.entries(searchAttributes);
  if (wanted.length === 0) return;
  const listing = await connection.operatorService.listSearchAttributes({ namespace });
  const existing: Record<string, number> = { ...listing.systemAttributes, ...listing.customAttributes };
  const missing: Record<string, number> = {};
  for (const [name, typeName] of wanted) {
    const type = indexedValueType(typeName);
    const present = existing[name];
    if (present === undefined) {
      missing[name] = type;
    } else if (present !== type) {
      throw new Error(
        `search attribute ${name} already exists in namespace ${namespace} with another type ` +
          `(${typeNameOf(present)}, wanted ${typeName}); rename it or use a fresh database`,
      );
    }
  }
  const missingNames = Object.keys(missing);
  if (missingNames.length === 0) return;
  log(`adding search attributes ${missingNames.join(', ')} to namespace ${namespace}`);
  try {
    await connection.operatorService.addSearchAttributes({ namespace, searchAttributes: missing });
  } catch (error) {
    // Another process may have added them between our list and add.
    if (!isGrpcServiceError(error) || error.code !== grpcAlreadyExists) throw error;
  }
}

function indexedValueType(typeName: SearchAttributeTypeName): number {
  const encoded = encodeSearchAttributeIndexedValueType(
    typeName.toUpperCase() as 'KEYWORD' | 'INT' | 'DOUBLE' | 'BOOL' | 'DATETIME' | 'TEXT',
  );
  if (encoded === undefined) throw new Error(`unknown search attribute type ${typeName}`);
  return encoded;
}

const typeNames: SearchAttributeTypeName[] = ['Keyword', 'Int', 'Double', 'Bool', 'Datetime', 'Text'];

function typeNameOf(type: number): string {
  return typeNames.find((name) => indexedValueType(name) === type) ?? `indexed value type ${type}`;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
