import { constants } from 'node:fs';
import { access, lstat, readlink } from 'node:fs/promises';
import { delimiter, dirname, join } from 'node:path';
import { z } from 'zod';

/** Strongest first: the order they are probed in. */
export const ISOLATION_LEVELS = ['bubblewrap', 'namespaces', 'unprivileged-uid'] as const;
export type IsolationLevel = (typeof ISOLATION_LEVELS)[number];
export type IsolationSetting = 'auto' | IsolationLevel;

/** No isolation works here: the renderer refuses to run untrusted code. The message says what is missing. */
export class IsolationUnavailableError extends Error {
  override readonly name = 'IsolationUnavailableError';

  static isInstance(error: unknown): error is IsolationUnavailableError {
    return error instanceof Error && error.name === 'IsolationUnavailableError';
  }
}

/** How the worker starts one slot's zygote: the command line and where that zygote's jobs live. */
export interface SlotSandbox {
  file: string;
  args: string[];
  /** Environment of the command itself; bubblewrap clears it again for the sandbox. */
  environment: Record<string, string>;
  /**
   * How the worker learns the zygote's host pid: bubblewrap reports its sandbox's pid 1 on file
   * descriptor 3; unshare forks the zygote as its only child; setpriv becomes the zygote itself.
   */
  zygotePid: 'info-descriptor' | 'launcher-child' | 'launcher';
  /** The zygote's settings entries that depend on the level. */
  zygoteSettings: { font_cache: string | null; scratch: string[]; home: string };
  /** Where the zygote sees the job directories. */
  jobsRootInside: string;
  /** Where the worker creates and reads them, given the sandbox's pid 1 (host numbering). */
  jobsRootOnHost(sandboxPid: number): string;
  /** A host directory the worker must create (root-owned, 0755) before starting; undefined if none. */
  hostSlotDirectory: string | undefined;
}

/**
 * What the zygote reports about itself once started (zygote_self_check.py); checked against what
 * the level promises.
 */
export const sandboxSelfCheckSchema = z.object({
  pid: z.int(),
  uid: z.int(),
  gid: z.int(),
  groups: z.array(z.int()),
  capabilities_effective: z.string().nullable(),
  capabilities_bounding: z.string().nullable(),
  no_new_privs: z.boolean(),
  network_interfaces: z.array(z.string()).nullable(),
  system_writable: z.boolean(),
  seccomp_guard: z.boolean(),
  environment: z.array(z.string()),
  python_prefix: z.string(),
  python_base_prefix: z.string(),
});
export type SandboxSelfCheck = z.infer<typeof sandboxSelfCheckSchema>;

export interface Isolation {
  level: IsolationLevel;
  /** What the level isolates, for the worker's startup line. */
  summary: string;
  /** True when each slot runs as its own uid (the worker is root); false for a rootless sandbox. */
  perSlotUid: boolean;
  sandbox(slot: { index: number; uid: number | undefined }): SlotSandbox;
  /** What the running zygote shows that the level should have prevented, or undefined if all holds. */
  findViolation(report: SandboxSelfCheck, slot: { uid: number | undefined }): string | undefined;
}

export interface IsolationContext {
  /** Absolute path of the interpreter. */
  python: string;
  /** Directories the interpreter needs (prefixes, site-packages), bound read-only by bubblewrap. */
  pythonRoots: string[];
  /** sys.prefix and sys.base_prefix on the host: the sandboxed interpreter must find the same. */
  pythonPrefixes: { prefix: string; basePrefix: string };
  /** Where harness.py, zygote.py and the zygote's modules (ZYGOTE_FILES) live on the host. */
  harnessDirectory: string;
  /** Host directory with matplotlib's font list, readable by the slot uids. */
  fontCache: string | undefined;
  /** Parent of per-slot directories for the levels that use host directories. */
  workDirectory: string;
  /** The zygote's whole environment. */
  environment: Record<string, string>;
  /** Size of the sandbox's /jobs tmpfs (bubblewrap). */
  scratchBytes: number;
  /** Where bwrap, unshare and setpriv are looked up. */
  searchPath: string;
  /** Whether this process is root (and so may switch to per-slot uids). */
  isRoot: boolean;
}

export type IsolationPlan = { ok: true; isolation: Isolation } | { ok: false; reason: string };

/** Environment keys a sandboxed script may see; everything else of the worker's is withheld. */
const SANDBOX_ENVIRONMENT_KEYS = [
  'PATH',
  'HOME',
  'TMPDIR',
  'MPLBACKEND',
  'MPLCONFIGDIR',
  'LANG',
  'LC_ALL',
  'PYTHONDONTWRITEBYTECODE',
  'PYTHONHASHSEED',
  'PYTHONUNBUFFERED',
  'OPENBLAS_NUM_THREADS',
  'OMP_NUM_THREADS',
] as const;

const SYSTEM_DIRECTORIES = ['/usr', '/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32'];
/** The Python files a zygote runs, all in the render directory; bubblewrap binds exactly these. */
const ZYGOTE_FILES = ['harness.py', 'zygote.py', 'sandbox_seccomp.py', 'zygote_self_check.py', 'zygote_warm_up.py'];
const SCIGEN_INSIDE = '/scigen';
const JOBS_INSIDE = '/jobs';
/** Small: jobs write into their own directory; /tmp and /dev/shm only catch stray library files. */
const SHARED_SCRATCH_BYTES = 64 * 1024 * 1024;
const NO_CAPABILITIES = /^0+$/;

async function findTool(name: string, searchPath: string): Promise<string | undefined> {
  for (const directory of searchPath.split(delimiter)) {
    if (directory === '') continue;
    const candidate = join(directory, name);
    try {
      await access(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

function dropToSlotUid(setpriv: string, uid: number): string[] {
  // One uid per slot: RLIMIT_NPROC counts per uid and does not bind root, and a uid no other
  // process uses cannot signal or read anything but its own slot. Numeric ids need no passwd entry.
  return [
    setpriv,
    `--reuid=${uid}`,
    `--regid=${uid}`,
    '--clear-groups',
    '--inh-caps=-all',
    '--bounding-set=-all',
    '--no-new-privs',
    // Changing uid clears the parent-death signal; this sets it again for the new uid.
    '--pdeathsig=KILL',
    '--',
  ];
}

function commonViolations(
  report: SandboxSelfCheck,
  slot: { uid: number | undefined },
  perSlotUid: boolean,
  context: IsolationContext,
): string | undefined {
  if (perSlotUid && report.uid !== slot.uid) return `runs as uid ${report.uid}, not the slot's uid ${slot.uid}`;
  const { prefix, basePrefix } = context.pythonPrefixes;
  if (report.python_prefix !== prefix || report.python_base_prefix !== basePrefix) {
    // The interpreter started (the launcher still held its capabilities for the exec) but cannot
    // read its own installation as the slot uid, and fell back to another standard library.
    return (
      `finds python's installation at ${report.python_base_prefix} instead of ${basePrefix}: a directory on the way is ` +
      'closed to the slot uid (use an interpreter every user can read, e.g. a venv outside /root, or bubblewrap)'
    );
  }
  if (report.uid === 0) return 'runs as root';
  if (!NO_CAPABILITIES.test(report.capabilities_effective ?? ''))
    return `holds capabilities ${report.capabilities_effective}`;
  if (!NO_CAPABILITIES.test(report.capabilities_bounding ?? ''))
    return `may regain capabilities ${report.capabilities_bounding}`;
  if (!report.no_new_privs) return 'may gain privileges through setuid programs (no_new_privs is off)';
  if (perSlotUid && report.groups.length > 0) return `keeps supplementary groups ${report.groups.join(',')}`;
  const unexpected = report.environment.filter((key) => !(SANDBOX_ENVIRONMENT_KEYS as readonly string[]).includes(key));
  if (unexpected.length > 0) return `sees environment variables ${unexpected.join(', ')}`;
  return undefined;
}

function namespaceViolations(report: SandboxSelfCheck): string | undefined {
  if (report.pid !== 1) return `is pid ${report.pid}, not pid 1 of its own pid namespace`;
  const interfaces = report.network_interfaces ?? [];
  if (interfaces.length !== 1 || interfaces[0] !== 'lo')
    return `sees network interfaces ${interfaces.join(', ') || 'none'}`;
  return undefined;
}

/** Each directory a bind needs between / and its destination, created world-traversable. */
function parentDirectories(destinations: string[]): string[] {
  const parents = new Set<string>();
  for (const destination of destinations) {
    for (let directory = dirname(destination); directory !== '/'; directory = dirname(directory))
      parents.add(directory);
  }
  return [...parents].sort((first, second) => first.length - second.length);
}

async function systemBinds(): Promise<string[]> {
  const args: string[] = [];
  for (const directory of SYSTEM_DIRECTORIES) {
    try {
      const stats = await lstat(directory);
      // Merged-/usr systems make /bin, /lib... symlinks into /usr; they stay symlinks inside.
      if (stats.isSymbolicLink()) args.push('--symlink', await readlink(directory), directory);
      else if (stats.isDirectory()) args.push('--ro-bind', directory, directory);
    } catch {
      // absent on this system
    }
  }
  return args;
}

function isUnder(path: string, roots: readonly string[]): boolean {
  return roots.some((root) => path === root || path.startsWith(`${root}/`));
}

async function planBubblewrap(context: IsolationContext): Promise<IsolationPlan> {
  const bwrap = await findTool('bwrap', context.searchPath);
  if (bwrap === undefined) return { ok: false, reason: 'bwrap is not installed (install the bubblewrap package)' };
  const setpriv = context.isRoot ? await findTool('setpriv', context.searchPath) : undefined;
  if (context.isRoot && setpriv === undefined) return { ok: false, reason: 'setpriv is not installed (util-linux)' };
  if (setpriv !== undefined && !isUnder(setpriv, SYSTEM_DIRECTORIES)) {
    return { ok: false, reason: `setpriv at ${setpriv} is outside the system directories the sandbox mounts` };
  }

  const pythonRoots = context.pythonRoots.filter((root) => !isUnder(root, SYSTEM_DIRECTORIES));
  const system = await systemBinds();
  const bindsInside = [...pythonRoots, ...ZYGOTE_FILES.map((file) => `${SCIGEN_INSIDE}/${file}`)];
  const staticArgs = [
    '--unshare-pid',
    '--unshare-net',
    '--unshare-ipc',
    '--unshare-uts',
    '--unshare-cgroup-try',
    '--hostname',
    'scigen-render',
    '--die-with-parent',
    '--new-session',
    // The zygote is pid 1: kill(-1) from a job cannot reach it, and when it dies the kernel ends
    // every process of the sandbox.
    '--as-pid-1',
    '--clearenv',
    ...Object.entries(context.environment).flatMap(([key, value]) => ['--setenv', key, value]),
    ...system,
    '--proc',
    '/proc',
    '--dev',
    '/dev',
    ...['/tmp', '/dev/shm'].flatMap((path) => [
      '--perms',
      '1777',
      '--size',
      String(SHARED_SCRATCH_BYTES),
      '--tmpfs',
      path,
    ]),
    ...parentDirectories(bindsInside).flatMap((directory) => ['--perms', '0755', '--dir', directory]),
    ...pythonRoots.flatMap((root) => ['--ro-bind', root, root]),
    ...ZYGOTE_FILES.flatMap((file) => ['--ro-bind', join(context.harnessDirectory, file), `${SCIGEN_INSIDE}/${file}`]),
    ...(context.fontCache === undefined ? [] : ['--ro-bind', context.fontCache, `${SCIGEN_INSIDE}/font-cache`]),
  ];
  const rootless = !context.isRoot;
  const summary =
    'no network; own pid, ipc and uts namespaces; read-only system with only the interpreter added; ' +
    'tmpfs scratch; no capabilities; seccomp guard; ' +
    (rootless
      ? 'rootless (a user namespace as the worker uid, shared by every slot, job directories on the worker disk; ' +
        'run the render worker as root for one uid per slot and a tmpfs per slot)'
      : 'one unprivileged uid per slot');

  const isolation: Isolation = {
    level: 'bubblewrap',
    summary,
    perSlotUid: !rootless,
    sandbox(slot) {
      const hostSlotDirectory = rootless ? join(context.workDirectory, `slot-${slot.index}`) : undefined;
      const jobs = rootless
        ? // The worker could not reach a tmpfs inside a rootless sandbox (the zygote is not
          // dumpable), so jobs live in a host directory bound in.
          ['--bind', hostSlotDirectory!, JOBS_INSIDE]
        : ['--perms', '0755', '--size', String(context.scratchBytes), '--tmpfs', JOBS_INSIDE];
      const user = rootless ? ['--unshare-user', '--cap-drop', 'ALL'] : [];
      const settings = {
        font_cache: context.fontCache === undefined ? null : `${SCIGEN_INSIDE}/font-cache`,
        scratch: ['/tmp', '/dev/shm'],
        home: '/tmp',
      };
      return {
        file: bwrap,
        args: [
          ...user,
          ...staticArgs,
          ...jobs,
          // The sandbox's own root tmpfs: belongs to the sandbox user when rootless; nobody writes there.
          '--remount-ro',
          '/',
          '--chdir',
          JOBS_INSIDE,
          '--info-fd',
          '3',
          '--',
          ...(rootless ? [] : dropToSlotUid(setpriv!, slot.uid!)),
          context.python,
          '-s',
          '-B',
          `${SCIGEN_INSIDE}/zygote.py`,
        ],
        environment: {},
        zygotePid: 'info-descriptor',
        zygoteSettings: settings,
        jobsRootInside: JOBS_INSIDE,
        // The sandbox's own /jobs tmpfs, reached through its root: nothing a job writes touches
        // the host's disk, and the tmpfs size caps what it can write in total.
        jobsRootOnHost: (sandboxPid) => (rootless ? hostSlotDirectory! : `/proc/${sandboxPid}/root${JOBS_INSIDE}`),
        hostSlotDirectory,
      };
    },
    findViolation(report, slot) {
      return (
        commonViolations(report, slot, !rootless, context) ??
        namespaceViolations(report) ??
        (report.system_writable ? 'can write to the system directories' : undefined)
      );
    },
  };
  return { ok: true, isolation };
}

async function planNamespaces(context: IsolationContext): Promise<IsolationPlan> {
  if (!context.isRoot) return { ok: false, reason: 'needs root to enter namespaces as a per-slot uid' };
  const unshare = await findTool('unshare', context.searchPath);
  const setpriv = await findTool('setpriv', context.searchPath);
  if (unshare === undefined || setpriv === undefined)
    return { ok: false, reason: 'unshare or setpriv is not installed (util-linux)' };
  const isolation: Isolation = {
    level: 'namespaces',
    summary:
      'no network; own pid, mount, ipc and uts namespaces with a private /proc; one unprivileged uid per slot; ' +
      "no capabilities; seccomp guard; the file system is the host's (install bubblewrap for a read-only system)",
    perSlotUid: true,
    sandbox(slot) {
      const hostSlotDirectory = join(context.workDirectory, `slot-${slot.uid}`);
      return {
        // The outer setpriv only makes unshare die with the worker; --kill-child passes that on.
        file: setpriv,
        args: [
          '--pdeathsig=KILL',
          '--',
          unshare,
          '--pid',
          '--net',
          '--ipc',
          '--uts',
          '--mount',
          '--fork',
          '--kill-child',
          '--mount-proc',
          '--',
          ...dropToSlotUid(setpriv, slot.uid!),
          context.python,
          '-s',
          '-B',
          join(context.harnessDirectory, 'zygote.py'),
        ],
        environment: context.environment,
        zygotePid: 'launcher-child',
        zygoteSettings: { font_cache: context.fontCache ?? null, scratch: [], home: join(hostSlotDirectory, 'home') },
        jobsRootInside: hostSlotDirectory,
        jobsRootOnHost: () => hostSlotDirectory,
        hostSlotDirectory,
      };
    },
    findViolation(report, slot) {
      return commonViolations(report, slot, true, context) ?? namespaceViolations(report);
    },
  };
  return { ok: true, isolation };
}

async function planUnprivilegedUid(context: IsolationContext): Promise<IsolationPlan> {
  if (!context.isRoot) return { ok: false, reason: 'needs root to run jobs as a per-slot uid' };
  const setpriv = await findTool('setpriv', context.searchPath);
  if (setpriv === undefined) return { ok: false, reason: 'setpriv is not installed (util-linux)' };
  const isolation: Isolation = {
    level: 'unprivileged-uid',
    summary:
      'one unprivileged uid per slot with rlimits and a seccomp guard (no sockets but AF_UNIX, no new namespaces, no signals to the zygote); ' +
      'no namespaces of its own: the host file system and /proc are visible as that uid (install bubblewrap for full isolation)',
    perSlotUid: true,
    sandbox(slot) {
      const hostSlotDirectory = join(context.workDirectory, `slot-${slot.uid}`);
      const [setprivFile, ...setprivArgs] = dropToSlotUid(setpriv, slot.uid!);
      return {
        file: setprivFile!,
        args: [...setprivArgs, context.python, '-s', '-B', join(context.harnessDirectory, 'zygote.py')],
        environment: context.environment,
        zygotePid: 'launcher',
        zygoteSettings: { font_cache: context.fontCache ?? null, scratch: [], home: join(hostSlotDirectory, 'home') },
        jobsRootInside: hostSlotDirectory,
        jobsRootOnHost: () => hostSlotDirectory,
        hostSlotDirectory,
      };
    },
    findViolation(report, slot) {
      return (
        commonViolations(report, slot, true, context) ??
        (report.seccomp_guard ? undefined : 'cannot install the seccomp guard')
      );
    },
  };
  return { ok: true, isolation };
}

/** The command lines for one level, or why its tools or privileges are missing. */
export function planIsolation(level: IsolationLevel, context: IsolationContext): Promise<IsolationPlan> {
  switch (level) {
    case 'bubblewrap':
      return planBubblewrap(context);
    case 'namespaces':
      return planNamespaces(context);
    case 'unprivileged-uid':
      return planUnprivilegedUid(context);
  }
}
