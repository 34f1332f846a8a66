import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface UidClaims {
  uids: number[];
  release(): Promise<void>;
}

/** How many uids past the base are tried before giving up. */
const SEARCH_SPAN = 10_000;

function processIsAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function accountUids(): Promise<Set<number>> {
  try {
    const passwd = await readFile('/etc/passwd', 'utf8');
    return new Set(
      passwd
        .split('\n')
        .map((line) => Number(line.split(':')[2]))
        .filter(Number.isInteger),
    );
  } catch {
    return new Set();
  }
}

async function claimDirectory(): Promise<string> {
  for (const directory of ['/run/scigen-render-uids', join(tmpdir(), 'scigen-render-uids')]) {
    try {
      await mkdir(directory, { recursive: true, mode: 0o700 });
      return directory;
    } catch {
      // not writable here; try the next place
    }
  }
  throw new Error('no writable directory for render uid claims (/run or the temp directory)');
}

/**
 * Claims `count` unprivileged uids at or above `base` for this process's render slots, one each.
 * Two workers on one machine (or two test files) must not share a slot uid: a uid's RLIMIT_NPROC
 * counts both, and where no pid namespace separates them one's kill(-1) would reach the other.
 * A claim is a file named for the uid holding the claimant's pid; a dead claimant's is taken over.
 * Uids with an account in /etc/passwd are skipped.
 */
export async function claimUids(count: number, base: number): Promise<UidClaims> {
  const directory = await claimDirectory();
  const accounts = await accountUids();
  const uids: number[] = [];
  const release = async (): Promise<void> => {
    await Promise.all(uids.map((uid) => rm(join(directory, String(uid)), { force: true })));
  };
  for (let uid = base; uids.length < count && uid < base + SEARCH_SPAN; uid++) {
    if (accounts.has(uid)) continue;
    const path = join(directory, String(uid));
    try {
      await writeFile(path, String(process.pid), { flag: 'wx', mode: 0o600 });
      uids.push(uid);
      continue;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
        await release();
        throw error;
      }
    }
    const holder = Number(await readFile(path, 'utf8').catch(() => ''));
    if (Number.isInteger(holder) && holder > 0 && processIsAlive(holder)) continue;
    // A stale claim: remove it and race for it like a fresh one, so two takers cannot both win.
    await rm(path, { force: true });
    try {
      await writeFile(path, String(process.pid), { flag: 'wx', mode: 0o600 });
      uids.push(uid);
    } catch {
      // another worker took it first
    }
  }
  if (uids.length < count) {
    await release();
    throw new Error(`could not claim ${count} free uids from ${base} on (claims in ${directory})`);
  }
  return { uids, release };
}
