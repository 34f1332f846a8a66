import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRenderer } from '../../render/create-renderer.ts';
import { findPython } from '../../render/find-python.ts';
import { describeFindings } from '../../render/introspection.ts';
import { IsolationUnavailableError, type IsolationLevel } from '../../render/isolation.ts';
import type { RenderRequest, RenderResult } from '../../render/renderer.ts';
import {
  ALLOWED_ENVIRONMENT_KEYS,
  expectFailure,
  expectImages,
  forgeResultThenExit,
  PNG_SIGNATURE,
  processesOfUid,
} from '../helpers/render.ts';
import { useTemporaryDirectory } from '../helpers/temporary-directory.ts';
import { createSandboxedRenderer, type SandboxedRenderer } from '../../render/sandboxed-renderer.ts';

const PLANTED_SECRET = 'planted-secret-7f3a';
const healthCheckScript = `
import matplotlib.pyplot as plt
fig, ax = plt.subplots(figsize=(4, 3))
ax.plot([0, 1, 2], [0, 1, 0])
ax.set_title("health check")
`;

/**
 * A world-readable interpreter for the levels that run python from the host file system as the
 * slot uid: this machine's project venv sits on an interpreter under /root (mode 0700), which only
 * bubblewrap can mount for them. The system python 3.11 reads the venv's packages through a .pth.
 */
async function worldReadablePython(directory: string): Promise<string | undefined> {
  const projectPython = await findPython();
  const version = execFileSync(projectPython, ['-c', 'import sys; print("%d.%d" % sys.version_info[:2])'], {
    encoding: 'utf8',
  }).trim();
  const systemPython = `/usr/bin/python${version}`;
  if (!existsSync(systemPython)) return undefined;
  const sitePackages = execFileSync(projectPython, ['-c', 'import site; print(site.getsitepackages()[0])'], {
    encoding: 'utf8',
  }).trim();
  try {
    execFileSync(systemPython, ['-m', 'venv', '--without-pip', join(directory, 'venv')]);
    await writeFile(
      join(directory, 'venv', 'lib', `python${version}`, 'site-packages', 'scigen-project.pth'),
      `${sitePackages}\n`,
    );
    return await findPython({ python: join(directory, 'venv', 'bin', 'python') });
  } catch {
    return undefined;
  }
}

describe('render sandbox: adversarial scripts', () => {
  let workDirectory: string;
  let hostDirectory: string;
  let renderer: SandboxedRenderer;
  let jobCounter = 0;

  const render = (code: string, overrides: Partial<RenderRequest> = {}): Promise<RenderResult> =>
    renderer.render({ code, jobId: `adversarial-${++jobCounter}`, dpi: 80, timeoutMs: 20_000, ...overrides });

  const zygoteStarts = (): number[] => renderer.status()!.slots.map((slot) => slot.zygoteStarts);

  /**
   * The outcome every adversarial job must leave behind: no zygote was lost, nothing of the job
   * still runs under any slot uid, and the next job renders correctly.
   */
  async function expectWorkerHealthy(startsBefore: number[]): Promise<void> {
    expect(zygoteStarts(), 'no zygote was lost to the job').toEqual(startsBefore);
    for (const slot of renderer.status()!.slots) {
      expect(processesOfUid(slot.uid!), `processes left under uid ${slot.uid}`).toEqual([slot.sandboxPid]);
    }
    const next = await render(healthCheckScript);
    expectImages(next);
    expect(next.images).toHaveLength(1);
    expect(Buffer.from(next.images[0]!.subarray(0, 8)).equals(PNG_SIGNATURE)).toBe(true);
    expect(next.introspection.figures[0]!.texts.map((text) => text.text)).toContain('health check');
  }

  beforeAll(async () => {
    process.env['SCIGEN_TEST_SECRET'] = PLANTED_SECRET;
    process.env['OPENAI_API_KEY'] = `sk-${PLANTED_SECRET}`;
    workDirectory = await mkdtemp(join(tmpdir(), 'scigen-render-sandbox-'));
    await chmod(workDirectory, 0o755);
    hostDirectory = await mkdtemp(join(tmpdir(), 'scigen-render-host-'));
    renderer = createRenderer({ python: await findPython(), workDirectory, slots: 2 });
    await renderer.start();
  });

  afterAll(async () => {
    delete process.env['SCIGEN_TEST_SECRET'];
    delete process.env['OPENAI_API_KEY'];
    await renderer?.close();
    await rm(workDirectory, { recursive: true, force: true });
    await rm(hostDirectory, { recursive: true, force: true });
  });

  it('runs in bubblewrap here, one unprivileged uid per slot', () => {
    const status = renderer.status()!;
    expect(status.level).toBe('bubblewrap');
    const uids = status.slots.map((slot) => slot.uid!);
    expect(new Set(uids).size).toBe(2);
    for (const uid of uids) expect(uid).toBeGreaterThanOrEqual(1000);
    expect(renderer.describe()).toContain('isolation bubblewrap');
  });

  it('infinite loop: stopped at the CPU limit, before the wall clock', async () => {
    const before = zygoteStarts();
    // A wall clock well past the CPU limit, so a busy machine cannot turn this into a timeout.
    const result = await render('while True:\n    pass\n', { timeoutMs: 60_000 });
    expectFailure(result, 'limit');
    expect(result.message).toBe('the script used more than 10 s of CPU time');
    expect(result.durationMs).toBeLessThan(60_000);
    await expectWorkerHealthy(before);
  });

  it('long sleep: killed at the wall clock', async () => {
    const before = zygoteStarts();
    const result = await render('import time\ntime.sleep(3600)\n', { timeoutMs: 1500 });
    expectFailure(result, 'timeout');
    expect(result.message).toBe('the script ran longer than 1500 ms and was killed');
    expect(result.durationMs).toBeLessThan(5000);
    await expectWorkerHealthy(before);
  });

  it('huge allocation: refused by the address-space limit', async () => {
    const before = zygoteStarts();
    const result = await render('blob = bytearray(8 * 1024 ** 3)\n');
    expectFailure(result, 'limit');
    expect(result.message).toContain('MemoryError');
    expect(result.message).toContain('at most 2 GiB of memory');
    await expectWorkerHealthy(before);
  });

  it('slow memory growth: stopped at the address-space limit', async () => {
    const before = zygoteStarts();
    const result = await render(
      'import time\nkept = []\nwhile True:\n    kept.append(bytearray(64 * 1024 ** 2))\n    time.sleep(0.01)\n',
    );
    expectFailure(result, 'limit');
    expect(result.message).toContain('MemoryError');
    expect(result.message).toContain('script.py", line 4');
    await expectWorkerHealthy(before);
  });

  it('fork bomb: stopped at the process limit', async () => {
    const before = zygoteStarts();
    const result = await render('import os\nwhile True:\n    os.fork()\n');
    expectFailure(result, 'limit');
    expect(result.message).toContain('BlockingIOError');
    expect(result.message).toContain('at most 64 processes and threads');
    await expectWorkerHealthy(before);
  });

  it('thread bomb: stopped at the process limit', async () => {
    const before = zygoteStarts();
    const result = await render(
      'import threading, time\nwhile True:\n    threading.Thread(target=time.sleep, args=(60,), daemon=True).start()\n',
    );
    expectFailure(result, 'limit');
    expect(result.message).toContain("can't start new thread");
    expect(result.message).toContain('at most 64 processes and threads');
    await expectWorkerHealthy(before);
  });

  it('double-fork daemon: the render completes and the daemon is gone', async () => {
    const before = zygoteStarts();
    const result = await render(`
import os, time
import matplotlib.pyplot as plt
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        while True:
            with open("/tmp/daemon-was-here", "w") as handle:
                handle.write(str(os.getpid()))
            time.sleep(0.05)
    os._exit(0)
time.sleep(0.2)
print("daemon wrote", open("/tmp/daemon-was-here").read())
plt.plot([0, 1], [0, 1])
`);
    expectImages(result);
    expect(result.output).toMatch(/daemon wrote \d+/);
    await expectWorkerHealthy(before);
    // Sequential jobs run on the first slot: what the daemon left in /tmp went with it.
    // (Only the daemon's file is checked: when the project itself lives under /tmp, the interpreter's
    // bind mount shows up there as a directory.)
    const probe = await render(
      'import os\nimport matplotlib.pyplot as plt\nprint("left:", os.path.exists("/tmp/daemon-was-here"))\nplt.plot([0, 1])\n',
    );
    expectImages(probe);
    expect(probe.output).toContain('left: False');
  });

  it('SIGTERM ignored: killed with SIGKILL at the wall clock', async () => {
    const before = zygoteStarts();
    const result = await render(
      'import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nwhile True:\n    time.sleep(1)\n',
      {
        timeoutMs: 1500,
      },
    );
    expectFailure(result, 'timeout');
    expect(result.durationMs).toBeLessThan(5000);
    await expectWorkerHealthy(before);
  });

  it('network connection out: refused', async () => {
    const before = zygoteStarts();
    const result = await render('import socket\nsocket.create_connection(("1.1.1.1", 80), timeout=3)\n');
    expectFailure(result, 'exception');
    expect(result.message).toContain('PermissionError');
    expect(result.message).toContain('script.py", line 2');
    await expectWorkerHealthy(before);
  });

  it('network connection to a loopback port of the worker: refused, nothing arrives', async () => {
    let connections = 0;
    const server: Server = createServer((socket) => {
      connections++;
      socket.destroy();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    try {
      const before = zygoteStarts();
      const result = await render(
        `import socket\nsocket.create_connection(("127.0.0.1", ${port}), timeout=3).sendall(b"${PLANTED_SECRET}")\n`,
      );
      expectFailure(result, 'exception');
      expect(result.message).toContain('PermissionError');
      expect(connections).toBe(0);
      await expectWorkerHealthy(before);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('printing the environment: only the allow-listed variables, no secret', async () => {
    const before = zygoteStarts();
    const result = await render(`
import json, os
import matplotlib.pyplot as plt
print("ENVIRONMENT=" + json.dumps(dict(os.environ)))
plt.plot([0, 1], [0, 1])
`);
    expectImages(result);
    expect(result.output).not.toContain(PLANTED_SECRET);
    const environment = JSON.parse(/ENVIRONMENT=(.*)/.exec(result.output)?.[1] ?? '{}') as Record<string, string>;
    expect(Object.keys(environment).filter((key) => !ALLOWED_ENVIRONMENT_KEYS.has(key))).toEqual([]);
    expect(environment['HOME']).toMatch(/^\/jobs\/adversarial-\d+-[0-9a-f]{12}$/);
    await expectWorkerHealthy(before);
  });

  it("reading the worker's /proc environ: the worker is not there", async () => {
    const before = zygoteStarts();
    const result = await render(`print(open("/proc/${process.pid}/environ", "rb").read())\n`);
    expectFailure(result, 'exception');
    expect(result.message).toContain(
      `FileNotFoundError: [Errno 2] No such file or directory: '/proc/${process.pid}/environ'`,
    );
    expect(`${result.message}${result.output}`).not.toContain(PLANTED_SECRET);
    await expectWorkerHealthy(before);
  });

  it('reading a credentials file: not in the sandbox', async () => {
    const credentials = join(hostDirectory, 'credentials');
    // Readable by everyone on the host, so only the sandbox's file system stands in the way.
    await writeFile(credentials, `[default]\naws_secret_access_key = ${PLANTED_SECRET}\n`, { mode: 0o644 });
    await chmod(hostDirectory, 0o755);
    const before = zygoteStarts();
    const result = await render(`print(open(${JSON.stringify(credentials)}).read())\n`);
    expectFailure(result, 'exception');
    expect(result.message).toContain('FileNotFoundError');
    expect(`${result.message}${result.output}`).not.toContain(PLANTED_SECRET);
    await expectWorkerHealthy(before);
  });

  it('writing outside its directory: refused, nothing appears on the host', async () => {
    await chmod(hostDirectory, 0o777);
    const target = join(hostDirectory, 'escaped.txt');
    const before = zygoteStarts();
    const result = await render(`open(${JSON.stringify(target)}, "w").write("escaped")\n`);
    expectFailure(result, 'exception');
    expect(result.message).toContain('FileNotFoundError');
    expect(existsSync(target)).toBe(false);
    const system = await render('open("/usr/lib/escaped.txt", "w").write("escaped")\n');
    expectFailure(system, 'exception');
    expect(system.message).toContain('OSError: [Errno 30] Read-only file system');
    expect(existsSync('/usr/lib/escaped.txt')).toBe(false);
    await expectWorkerHealthy(before);
  });

  it('output as a symlink: rejected as not a regular file', async () => {
    const victim = join(hostDirectory, 'victim.png');
    await writeFile(victim, 'untouched');
    const before = zygoteStarts();
    const result = await render(forgeResultThenExit(`os.symlink(${JSON.stringify(victim)}, "figure-1.png")`));
    expectFailure(result, 'invalid-output');
    expect(result.message).toBe('figure-1.png is not a regular file');
    expect(await readFile(victim, 'utf8')).toBe('untouched');
    await expectWorkerHealthy(before);
  });

  it('gigantic figure: refused before it is drawn', async () => {
    const before = zygoteStarts();
    const result = await render('import matplotlib.pyplot as plt\nplt.figure(figsize=(500, 500))\nplt.plot([0, 1])\n');
    expectFailure(result, 'limit');
    expect(result.message).toBe('figure 1 is 500x500 inches, over 8192 pixels at 80 dpi; use a smaller figsize');
    await expectWorkerHealthy(before);
  });

  it('PNG with a forged header: refused from the header', async () => {
    const before = zygoteStarts();
    const result = await render(
      forgeResultThenExit(
        [
          'header = struct.pack(">II", 100000, 100000) + bytes([8, 6, 0, 0, 0])',
          'chunk = struct.pack(">I", 13) + b"IHDR" + header + struct.pack(">I", zlib.crc32(b"IHDR" + header))',
          'open("figure-1.png", "wb").write(b"\\x89PNG\\r\\n\\x1a\\n" + chunk)',
        ].join('\n'),
      ),
    );
    expectFailure(result, 'limit');
    expect(result.message).toBe('figure-1.png is 100000x100000 pixels, over 8192x8192');
    await expectWorkerHealthy(before);
  });

  it('stdout flood: stopped at 1 MiB of output', async () => {
    const before = zygoteStarts();
    const result = await render('while True:\n    print("x" * 1000)\n');
    expectFailure(result, 'limit');
    expect(result.message).toBe('the script printed more than 1048576 bytes and was stopped; print less');
    expect(result.output.length).toBeLessThanOrEqual(1024 * 1024 + 100);
    expect(result.output).toContain('[output truncated after 1048576 bytes]');
    await expectWorkerHealthy(before);
  });

  it('kill(-1, 9): refused, the zygote and the other slot live on', async () => {
    const before = zygoteStarts();
    const result = await render('import os\nos.kill(-1, 9)\n');
    expectFailure(result, 'exception');
    expect(result.message).toContain('PermissionError: [Errno 1] Operation not permitted');
    const zygote = await render('import os\nos.kill(1, 9)\n');
    expectFailure(zygote, 'exception');
    expect(zygote.message).toContain('PermissionError');
    await expectWorkerHealthy(before);
  });

  it('setuid attempt: refused', async () => {
    const before = zygoteStarts();
    const result = await render('import os\nos.setuid(0)\n');
    expectFailure(result, 'exception');
    expect(result.message).toContain('PermissionError: [Errno 1] Operation not permitted');
    await expectWorkerHealthy(before);
  });

  it('mount attempt, also through a new user namespace: refused', async () => {
    const before = zygoteStarts();
    const result = await render(`
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
CLONE_NEWUSER, CLONE_NEWNS = 0x10000000, 0x00020000
results = []
results.append(("unshare", libc.unshare(CLONE_NEWUSER | CLONE_NEWNS), ctypes.get_errno()))
results.append(("mount", libc.mount(b"none", b"/usr", b"tmpfs", 0, None), ctypes.get_errno()))
print(results)
if any(code == 0 for _, code, _ in results):
    raise SystemExit("escaped")
raise PermissionError(results[-1][2], os.strerror(results[-1][2]))
`);
    expectFailure(result, 'exception');
    expect(result.output).toContain("[('unshare', -1, 1), ('mount', -1, 1)]");
    expect(result.message).toContain('PermissionError: [Errno 1] Operation not permitted');
    await expectWorkerHealthy(before);
  });

  it('a job that changes rcParams does not affect the next', async () => {
    const before = zygoteStarts();
    const changed = await render(`
import matplotlib.pyplot as plt
plt.rcParams["lines.linewidth"] = 17
plt.rcParams["figure.facecolor"] = "red"
plt.rcParams["font.size"] = 30
plt.plot([0, 1], [0, 1])
`);
    expectImages(changed);
    const next = await render(`
import matplotlib.pyplot as plt
print("rc", plt.rcParams["lines.linewidth"], plt.rcParams["figure.facecolor"], plt.rcParams["font.size"])
plt.plot([0, 1], [0, 1])
`);
    expectImages(next);
    expect(next.output).toContain('rc 1.5 white 10.0');
    const corner = PNG.sync.read(Buffer.from(next.images[0]!));
    expect([...corner.data.subarray(0, 3)]).toEqual([255, 255, 255]);
    await expectWorkerHealthy(before);
  });
});

describe('render sandbox: harness introspection', () => {
  let workDirectory: string;
  let renderer: SandboxedRenderer;
  let jobCounter = 0;

  const render = (code: string): Promise<RenderResult> =>
    renderer.render({ code, jobId: `introspection-${++jobCounter}`, dpi: 100, timeoutMs: 20_000 });

  beforeAll(async () => {
    workDirectory = await mkdtemp(join(tmpdir(), 'scigen-render-introspection-'));
    await chmod(workDirectory, 0o755);
    renderer = createRenderer({ python: await findPython(), workDirectory, slots: 1 });
  });

  afterAll(async () => {
    await renderer?.close();
    await rm(workDirectory, { recursive: true, force: true });
  });

  it('finds a force label drawn on its arrow, and two labels on top of each other', async () => {
    const result = await render(`
import matplotlib.pyplot as plt
from matplotlib.patches import FancyArrowPatch, Rectangle
fig, ax = plt.subplots(figsize=(6, 4))
ax.add_patch(Rectangle((1, 1), 2, 1, color="tab:blue"))
ax.text(2, 1.5, "m", ha="center", va="center", color="white")
ax.add_patch(FancyArrowPatch((3, 1.5), (6, 1.5), arrowstyle="-|>", mutation_scale=20, lw=2))
ax.text(4.5, 1.5, "F = 25 N", ha="center", va="center", fontsize=14)
ax.text(1.0, 3.0, "A", fontsize=14)
ax.text(1.05, 3.0, "B", fontsize=14)
ax.set_xlim(0, 7)
ax.set_ylim(0, 4)
ax.axis("off")
`);
    expectImages(result);
    const [figure] = result.introspection.figures;
    expect(figure!.texts.map((text) => text.text).sort()).toEqual(['A', 'B', 'F = 25 N', 'm']);
    const force = figure!.texts.find((text) => text.text === 'F = 25 N')!;
    const [left, top, right, bottom] = force.bbox;
    expect(left).toBeGreaterThan(0);
    expect(right).toBeLessThanOrEqual(figure!.width);
    expect(top).toBeLessThan(bottom);
    expect(bottom).toBeLessThanOrEqual(figure!.height);
    expect(force.role).toBe('text');
    expect(force.fontSize).toBe(14);
    expect(describeFindings(result.introspection).sort()).toEqual([
      "label 'A' overlaps label 'B'",
      "label 'F = 25 N' overlaps an arrow",
    ]);
  });

  it('finds a label on a plotted line and crowded tick labels, and names the roles', async () => {
    const result = await render(`
import numpy as np
import matplotlib.pyplot as plt
x = np.linspace(0, 10, 200)
fig, ax = plt.subplots(figsize=(3, 2))
ax.plot(x, x, label="velocity")
ax.text(5, 5, "v = t", fontsize=12, ha="center", va="center")
ax.set_xticks(np.arange(0, 10.5, 0.25))
ax.set_title("Motion")
ax.set_xlabel("t (s)")
ax.legend(loc="upper left")
`);
    expectImages(result);
    const [figure] = result.introspection.figures;
    const roles = new Map(figure!.texts.map((text) => [text.text, text.role]));
    expect(roles.get('Motion')).toBe('title');
    expect(roles.get('t (s)')).toBe('axis-label');
    expect(roles.get('velocity')).toBe('legend');
    expect(roles.get('v = t')).toBe('text');
    const findings = describeFindings(result.introspection);
    expect(findings).toContain("label 'v = t' overlaps line 'velocity'");
    expect(findings.some((finding) => /^\d+ pairs of tick labels overlap/.test(finding))).toBe(true);
    expect(figure!.axes).toHaveLength(1);
    expect(figure!.axes[0]).toMatchObject({
      title: 'Motion',
      xlabel: 't (s)',
      axisOn: true,
      lines: 1,
      xlim: [-0.5, 10.5],
    });
  });

  it('reports nothing on a clean diagram', async () => {
    const result = await render(`
import matplotlib.pyplot as plt
from matplotlib.patches import Circle
fig, ax = plt.subplots(figsize=(4, 4))
ax.add_patch(Circle((0, 0), 1, fill=False))
ax.plot([0, 1], [0, 0], color="k")
ax.text(0.5, 0.08, "r", ha="center", fontsize=12)
ax.text(0, -1.3, "O", ha="center", fontsize=12)
ax.set_xlim(-1.5, 1.5)
ax.set_ylim(-1.5, 1.5)
ax.set_aspect("equal")
ax.axis("off")
`);
    expectImages(result);
    expect(result.introspection.figures[0]!.overlaps).toEqual([]);
    expect(describeFindings(result.introspection)).toEqual([]);
  });

  it('describes a blank figure for the repair step', async () => {
    const result = await render(
      'import matplotlib.pyplot as plt\nfig, ax = plt.subplots()\nax.plot([5], [5])\nax.set_xlim(0, 1)\nax.set_ylim(0, 1)\nax.axis("off")\n',
    );
    expectFailure(result, 'blank');
    expect(describeFindings(result.introspection)).toEqual([
      'the figure is blank or nearly so (0.0000% of its pixels are drawn)',
      'axes 1 shows x from 0 to 1 and y from 0 to 1 with its axis turned off and holds 1 artists',
    ]);
  });

  it('numbers findings by figure when the script made several', async () => {
    const result = await render(`
import matplotlib.pyplot as plt
plt.figure()
plt.plot([0, 1], [0, 1])
second = plt.figure()
second.text(0.5, 0.5, "P")
second.text(0.51, 0.5, "Q")
`);
    expectImages(result);
    expect(result.images).toHaveLength(2);
    expect(describeFindings(result.introspection)).toEqual(["figure 2: label 'P' overlaps label 'Q'"]);
  });
});

describe('render sandbox: zygote lifecycle', () => {
  let workDirectory: string;

  beforeAll(async () => {
    workDirectory = await mkdtemp(join(tmpdir(), 'scigen-render-lifecycle-'));
    await chmod(workDirectory, 0o755);
  });

  afterAll(async () => {
    await rm(workDirectory, { recursive: true, force: true });
  });

  it('recycles a zygote after its share of jobs and replaces one that died', async () => {
    const renderer = createRenderer({
      python: await findPython(),
      workDirectory: join(workDirectory, 'recycle'),
      slots: 1,
      recycleAfterJobs: 2,
    });
    try {
      await renderer.start();
      const render = (index: number): Promise<RenderResult> =>
        renderer.render({ code: healthCheckScript, jobId: `lifecycle-${index}`, dpi: 60, timeoutMs: 20_000 });
      for (let index = 0; index < 3; index++) expectImages(await render(index));
      expect(renderer.status()!.slots[0]!.zygoteStarts).toBe(2);

      const { sandboxPid } = renderer.status()!.slots[0]!;
      process.kill(sandboxPid!, 'SIGKILL');
      await expect.poll(() => renderer.status()!.slots[0]!.sandboxPid).toBeUndefined();
      expectImages(await render(3));
      expect(renderer.status()!.slots[0]!.zygoteStarts).toBe(3);
    } finally {
      await renderer.close();
    }
    // A closed renderer leaves no sandbox process behind.
    expect(processesOfUid(renderer.status()!.slots[0]!.uid!)).toEqual([]);
  });

  it('leaves no sandbox process behind when the worker itself is killed', async () => {
    // .mts: outside the project no package.json makes a .ts file an ES module, and it awaits at top level.
    const worker = join(workDirectory, 'worker.mts');
    const createRendererModule = fileURLToPath(new URL('../../render/create-renderer.ts', import.meta.url));
    const findPythonModule = fileURLToPath(new URL('../../render/find-python.ts', import.meta.url));
    await writeFile(
      worker,
      [
        `import { createRenderer } from ${JSON.stringify(createRendererModule)};`,
        `import { findPython } from ${JSON.stringify(findPythonModule)};`,
        `const renderer = createRenderer({ python: await findPython(), workDirectory: ${JSON.stringify(join(workDirectory, 'killed'))}, slots: 2 });`,
        'await renderer.start();',
        "void renderer.render({ code: 'import time\\ntime.sleep(3600)\\n', jobId: 'in-flight', dpi: 60, timeoutMs: 600_000 });",
        'console.log(JSON.stringify(renderer.status()));',
        'setInterval(() => {}, 1000);',
      ].join('\n'),
    );
    const child = spawn(process.execPath, ['--import', 'tsx', worker], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      const firstLine = await new Promise<string>((resolve, reject) => {
        let text = '';
        child.stdout.on('data', (chunk: Buffer) => {
          text += chunk.toString('utf8');
          if (text.includes('\n')) resolve(text.split('\n')[0]!);
        });
        child.once('exit', () => reject(new Error(`the worker exited early: ${text}`)));
      });
      const uids = (JSON.parse(firstLine) as { slots: Array<{ uid: number }> }).slots.map((slot) => slot.uid);
      // Both zygotes and the sleeping job run before the worker dies.
      await expect.poll(() => uids.flatMap(processesOfUid).length, { timeout: 10_000 }).toBe(3);
      child.kill('SIGKILL');
      await expect.poll(() => uids.flatMap(processesOfUid), { timeout: 10_000 }).toEqual([]);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('refuses to render when no isolation works, saying what is missing', async () => {
    // No bwrap, unshare or setpriv to be found: every level is unavailable.
    const renderer = createSandboxedRenderer({
      python: await findPython(),
      workDirectory: join(workDirectory, 'none'),
      slots: 1,
      searchPath: '/nonexistent',
    });
    try {
      const attempt = renderer.render({ code: healthCheckScript, jobId: 'refused', dpi: 60, timeoutMs: 5000 });
      await expect(attempt).rejects.toSatisfy(IsolationUnavailableError.isInstance);
      await expect(attempt).rejects.toThrow(
        [
          'refusing to render untrusted code: no isolation works on this machine.',
          '  bubblewrap: bwrap is not installed (install the bubblewrap package)',
          '  namespaces: unshare or setpriv is not installed (util-linux)',
          '  unprivileged-uid: setpriv is not installed (util-linux)',
        ].join('\n'),
      );
      await expect(renderer.start()).rejects.toSatisfy(IsolationUnavailableError.isInstance);
    } finally {
      await renderer.close();
    }
  });
});

describe('render sandbox: an interpreter the slot uid cannot read', () => {
  const workDirectory = useTemporaryDirectory('render-closed');

  it('is refused at start with the reason, not run with another standard library', async (context) => {
    // The venv sits in a directory only root may enter (mkdtemp makes it 0700).
    const python = await worldReadablePython(workDirectory.path);
    if (python === undefined) context.skip();
    const renderDirectory = await mkdtemp(join(tmpdir(), 'scigen-render-closed-work-'));
    await chmod(renderDirectory, 0o755);
    const renderer = createRenderer({
      python: python!,
      workDirectory: renderDirectory,
      slots: 1,
      isolation: 'unprivileged-uid',
    });
    try {
      const starting = renderer.start();
      await expect(starting).rejects.toSatisfy(IsolationUnavailableError.isInstance);
      // Whether it dies importing matplotlib or starts with another standard library depends on
      // what the fallback finds; either way the reason names the unreadable installation.
      await expect(starting).rejects.toThrow(
        /unprivileged-uid: (started, but the sandboxed process finds python's installation at \S+ instead of \S+: a directory on the way is closed to the slot uid|the sandbox exited before the zygote was ready:[^]*python cannot import the harness's packages as uid \d+: sys\.prefix is)/,
      );
    } finally {
      await renderer.close();
      await rm(renderDirectory, { recursive: true, force: true });
    }
  });
});

describe.each<IsolationLevel>(['namespaces', 'unprivileged-uid'])('render sandbox: the %s fallback', (level) => {
  let workDirectory: string;
  let renderer: SandboxedRenderer | undefined;
  let jobCounter = 0;

  const render = (code: string, overrides: Partial<RenderRequest> = {}): Promise<RenderResult> =>
    renderer!.render({ code, jobId: `${level}-${++jobCounter}`, dpi: 60, timeoutMs: 20_000, ...overrides });

  beforeAll(async () => {
    workDirectory = await mkdtemp(join(tmpdir(), `scigen-render-${level}-`));
    await chmod(workDirectory, 0o755);
    const python = await worldReadablePython(workDirectory);
    if (python === undefined) return;
    renderer = createRenderer({ python, workDirectory: join(workDirectory, 'render'), slots: 2, isolation: level });
    await renderer.start();
  });

  afterAll(async () => {
    await renderer?.close();
    await rm(workDirectory, { recursive: true, force: true });
  });

  it('renders, and holds the network, signals and environment as promised', async (context) => {
    if (renderer === undefined) context.skip();
    expect(renderer!.status()!.level).toBe(level);
    expect(renderer!.describe()).toContain(`isolation ${level}`);
    expectImages(await render(healthCheckScript));

    const network = await render('import socket\nsocket.create_connection(("127.0.0.1", 9), timeout=3)\n');
    expectFailure(network, 'exception');
    expect(network.message).toContain('PermissionError');

    const starts = renderer!.status()!.slots.map((slot) => slot.zygoteStarts);
    const killAll = await render('import os\nos.kill(-1, 9)\n');
    expectFailure(killAll, 'exception');
    expect(killAll.message).toContain('PermissionError');
    const killParent = await render('import os\nos.kill(os.getppid(), 9)\n');
    expectFailure(killParent, 'exception');
    expect(killParent.message).toContain('PermissionError');
    expect(renderer!.status()!.slots.map((slot) => slot.zygoteStarts)).toEqual(starts);

    const environment = await render(
      'import os\nimport matplotlib.pyplot as plt\nprint(sorted(os.environ))\nplt.plot([0, 1])\n',
    );
    expectImages(environment);
    expect(environment.output).not.toContain('OPENAI_API_KEY');

    const daemon = await render(
      'import os, time\nimport matplotlib.pyplot as plt\nif os.fork() == 0:\n    os.setsid()\n    time.sleep(3600)\nplt.plot([0, 1])\n',
    );
    expectImages(daemon);
    for (const slot of renderer!.status()!.slots) {
      expect(processesOfUid(slot.uid!), `processes left under uid ${slot.uid}`).toEqual([slot.sandboxPid]);
    }
    const timeout = await render('import time\ntime.sleep(3600)\n', { timeoutMs: 1500 });
    expectFailure(timeout, 'timeout');
    expectImages(await render(healthCheckScript));
  });
});
