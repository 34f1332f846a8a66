import { existsSync, readdirSync, readFileSync, realpathSync } from 'node:fs';
import { chown, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { findFreePort } from './dev-server.ts';
import { startServiceProcess, waitUntilReady } from './service-process.ts';
import { ToolNotFoundError } from './tools.ts';

export interface PostgresOptions {
  /** The superuser initdb creates, as the postgres image's POSTGRES_USER. */
  user: string;
  /** Its password; connections from 127.0.0.1 must give it (scram-sha-256), as in the image. */
  password: string;
  /** @default a free port */
  port?: number;
  /** @default 30_000 */
  startTimeoutMilliseconds?: number;
}

export interface PostgresServer {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  /** Fast shutdown (clients are disconnected), then the data directory is removed. */
  stop(): Promise<void>;
}

const host = '127.0.0.1';
const debianInstallations = '/usr/lib/postgresql';

/**
 * The directory holding initdb, postgres and pg_isready: Debian's newest `/usr/lib/postgresql/<n>/bin`,
 * else the one `postgres` on PATH lives in.
 */
export function findPostgresBinDirectory(): string {
  const versions = existsSync(debianInstallations)
    ? readdirSync(debianInstallations)
        .filter((name) => /^\d+$/.test(name) && existsSync(path.join(debianInstallations, name, 'bin', 'postgres')))
        .sort((left, right) => Number(right) - Number(left))
    : [];
  if (versions[0] !== undefined) return path.join(debianInstallations, versions[0], 'bin');
  for (const directory of (process.env['PATH'] ?? '').split(path.delimiter)) {
    const candidate = path.join(directory, 'postgres');
    if (directory !== '' && existsSync(candidate)) return path.dirname(realpathSync(candidate));
  }
  throw new ToolNotFoundError(
    'postgres',
    `PostgreSQL not found in ${debianInstallations}/<version>/bin or on PATH. ` +
      'Run `npm run setup -- --test-tools` as root (apt-get install postgresql).',
  );
}

/** PostgreSQL refuses to run as root; a root test runs it as the `postgres` account Debian's package creates. */
function serverAccount(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const entry = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .map((line) => line.split(':'))
    .find((fields) => fields[0] === 'postgres');
  if (entry === undefined) throw new Error('running as root and there is no postgres account to run PostgreSQL as');
  return { uid: Number(entry[2]), gid: Number(entry[3]) };
}

/**
 * Starts a throwaway PostgreSQL: initdb into a fresh temporary directory, then `postgres` on
 * 127.0.0.1 only, with durability off (fsync, synchronous commit): a test's data need not survive
 * a machine crash, and every Temporal history write gets cheaper.
 */
export async function startPostgres(options: PostgresOptions): Promise<PostgresServer> {
  const binDirectory = findPostgresBinDirectory();
  const account = serverAccount();
  const port = options.port ?? (await findFreePort(host));
  const directory = await mkdtemp(path.join(tmpdir(), 'scigen-postgres-'));
  if (account !== undefined) await chown(directory, account.uid, account.gid);
  const dataDirectory = path.join(directory, 'data');
  const passwordFile = path.join(directory, 'password');
  await writeFile(passwordFile, `${options.password}\n`, { mode: 0o600 });
  if (account !== undefined) await chown(passwordFile, account.uid, account.gid);
  const initdb = await execa(
    path.join(binDirectory, 'initdb'),
    [
      '--pgdata',
      dataDirectory,
      '--username',
      options.user,
      '--pwfile',
      passwordFile,
      '--auth',
      'scram-sha-256',
      '--encoding',
      'UTF8',
      '--locale',
      'C',
      '--no-sync',
    ],
    { uid: account?.uid, gid: account?.gid, reject: false, all: true },
  );
  if (initdb.exitCode !== 0) {
    await rm(directory, { recursive: true, force: true });
    throw new Error(`initdb failed with code ${initdb.exitCode}: ${initdb.all}`);
  }

  const server = startServiceProcess({
    name: 'postgres',
    executable: path.join(binDirectory, 'postgres'),
    arguments: [
      '-D',
      dataDirectory,
      '-p',
      String(port),
      '-c',
      `listen_addresses=${host}`,
      '-c',
      `unix_socket_directories=${directory}`,
      '-c',
      'fsync=off',
      '-c',
      'synchronous_commit=off',
      '-c',
      'full_page_writes=off',
      // Temporal's services each keep a pool per store (20 + 2 connections by default), and the
      // schema tool and our checks connect too.
      '-c',
      'max_connections=200',
    ],
    user: account,
    // SIGTERM is PostgreSQL's smart shutdown, which waits for every client to disconnect.
    stopSignal: 'SIGINT',
  });
  const stop = async (): Promise<void> => {
    await server.stop();
    await rm(directory, { recursive: true, force: true });
  };
  try {
    await waitUntilReady(
      server,
      `accepting connections on ${host}:${port}`,
      async () => {
        const ready = await execa(path.join(binDirectory, 'pg_isready'), ['-h', host, '-p', String(port)], {
          reject: false,
        });
        return ready.exitCode === 0;
      },
      options.startTimeoutMilliseconds ?? 30_000,
    );
  } catch (error) {
    await stop();
    throw error;
  }
  return { host, port, user: options.user, password: options.password, stop };
}
