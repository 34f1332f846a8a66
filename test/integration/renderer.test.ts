import { chmod, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findPython, PythonNotUsableError } from '../../render/find-python.ts';
import { createRenderer } from '../../render/create-renderer.ts';
import type { RenderRequest, RenderResult } from '../../render/renderer.ts';
import {
  ALLOWED_ENVIRONMENT_KEYS,
  expectFailure,
  expectImages,
  forgeResultThenExit,
  PNG_SIGNATURE,
  processesOfUid,
} from '../helpers/render.ts';
import type { SandboxedRenderer } from '../../render/sandboxed-renderer.ts';

const mechanicsDiagram = `
import numpy as np
import matplotlib.pyplot as plt
from matplotlib.patches import FancyArrowPatch, Polygon, Rectangle

theta = np.radians(30)
length = 6.0
fig, ax = plt.subplots(figsize=(7, 5))
ax.add_patch(Polygon([[0, 0], [length * np.cos(theta), 0], [length * np.cos(theta), length * np.sin(theta)]],
                     closed=True, fill=False, lw=2))
cx, cy = 3 * np.cos(theta), 3 * np.sin(theta)
ax.add_patch(Rectangle((cx - 0.4, cy), 0.8, 0.6, angle=30, rotation_point=(cx, cy), color="tab:blue"))
forces = {"mg": (0, -1.5), "N": (-0.75 * np.sin(theta), 0.75 * np.cos(theta)), "f": (-np.cos(theta), -np.sin(theta))}
for label, (dx, dy) in forces.items():
    ax.add_patch(FancyArrowPatch((cx, cy + 0.3), (cx + dx, cy + 0.3 + dy), arrowstyle="-|>", mutation_scale=15))
    ax.text(cx + 1.15 * dx, cy + 0.3 + 1.15 * dy, f"\${label}$", fontsize=13)
ax.annotate(r"$\\theta = 30^\\circ$", (1.0, 0.15), fontsize=12)
ax.set_aspect("equal")
ax.axis("off")
ax.set_title("Block on a rough incline")
plt.show()
`;

describe('sandboxed renderer: harness semantics', () => {
  let workDirectory: string;
  let scratchDirectory: string;
  let renderer: SandboxedRenderer;
  let jobCounter = 0;

  /** Every slot's uid runs its zygote and nothing else: whatever a job started is gone. */
  const expectOnlyZygotes = (): void => {
    for (const slot of renderer.status()!.slots) {
      expect(processesOfUid(slot.uid!), `processes of uid ${slot.uid}`).toEqual([slot.sandboxPid]);
    }
  };

  /** Job directories still present in any slot (the sandbox's /jobs, or the slot's host directory). */
  const jobDirectoriesLeft = async (prefix: string): Promise<string[]> => {
    const status = renderer.status()!;
    const listings = await Promise.all(
      status.slots.map((slot) =>
        readdir(
          status.level === 'bubblewrap'
            ? `/proc/${slot.sandboxPid}/root/jobs`
            : join(workDirectory, `slot-${slot.uid}`),
        ).catch(() => []),
      ),
    );
    return listings.flat().filter((entry) => entry.startsWith(prefix));
  };

  const render = (code: string, overrides: Partial<RenderRequest> = {}): Promise<RenderResult> =>
    renderer.render({ code, jobId: `test-${++jobCounter}`, dpi: 100, timeoutMs: 20_000, ...overrides });

  beforeAll(async () => {
    process.env['SCIGEN_TEST_SECRET'] = 'planted';
    workDirectory = await mkdtemp(join(tmpdir(), 'scigen-renderer-test-'));
    // The slot uids must reach the font cache (and, without bubblewrap, their slot directories).
    await chmod(workDirectory, 0o755);
    scratchDirectory = await mkdtemp(join(tmpdir(), 'scigen-renderer-scratch-'));
    renderer = createRenderer({ python: await findPython(), workDirectory, slots: 2 });
    await renderer.start();
  });

  afterAll(async () => {
    delete process.env['SCIGEN_TEST_SECRET'];
    await renderer.close();
    await rm(workDirectory, { recursive: true, force: true });
    await rm(scratchDirectory, { recursive: true, force: true });
  });

  it('renders a mechanics diagram to a PNG', async () => {
    const result = await render(mechanicsDiagram, { dpi: 150 });
    expectImages(result);
    expect(result.images).toHaveLength(1);
    const [image] = result.images;
    expect(Buffer.from(image!.subarray(0, 8)).equals(PNG_SIGNATURE)).toBe(true);
    expect(result.width).toBeGreaterThan(0);
    expect(result.height).toBeGreaterThan(0);
    const decoded = PNG.sync.read(Buffer.from(image!));
    expect([decoded.width, decoded.height]).toEqual([result.width, result.height]);
    expect(renderer.describe()).toMatch(/isolation (bubblewrap|namespaces|unprivileged-uid) — /);
  });

  it('saves every figure at the requested dpi', async () => {
    const code = 'import matplotlib.pyplot as plt\nplt.figure(figsize=(4, 3))\nplt.plot([0, 1], [1, 0])\n';
    const [low, high] = await Promise.all([render(code, { dpi: 50 }), render(code, { dpi: 200 })]);
    expectImages(low);
    expectImages(high);
    // bbox_inches='tight' trims a little, so the ratio is about, not exactly, 4.
    expect(high.width / low.width).toBeGreaterThan(3.5);
    expect(high.width / low.width).toBeLessThan(4.5);
  });

  it('removes each job directory afterwards', async () => {
    await render('import matplotlib.pyplot as plt\nplt.plot([0, 1], [1, 0])\n');
    expect(await jobDirectoriesLeft('test-')).toEqual([]);
  });

  it('captures a figure the script showed, saved under its own name and closed', async () => {
    const result = await render(`
import matplotlib.pyplot as plt
fig, ax = plt.subplots()
ax.plot([0, 1, 2], [0, 1, 4])
plt.show()
plt.savefig("out.png")
plt.close()
`);
    expectImages(result);
    expect(result.images).toHaveLength(1);
  });

  it('returns one image per figure, in creation order', async () => {
    const result = await render(`
import matplotlib.pyplot as plt
first = plt.figure(figsize=(4, 3))
first.gca().plot([0, 1], [0, 1])
second = plt.figure(figsize=(8, 3))
second.gca().bar(["a", "b"], [1, 2])
`);
    expectImages(result);
    expect(result.images).toHaveLength(2);
    const widths = result.images.map((image) => PNG.sync.read(Buffer.from(image)).width);
    expect(widths[0]).toBeLessThan(widths[1]!);
  });

  it('runs the script as __main__', async () => {
    const result = await render(`
import matplotlib.pyplot as plt

def main():
    plt.plot([0, 1], [0, 1])

if __name__ == "__main__":
    main()
`);
    expectImages(result);
  });

  it('reports a syntax error with its line number', async () => {
    const result = await render('import matplotlib.pyplot as plt\nx = [1, 2\nplt.plot(x)\nplt.plot(]\n');
    expectFailure(result, 'exception');
    expect(result.message).toMatch(/script\.py", line \d/);
    expect(result.message).toContain('SyntaxError');
  });

  it('reports a runtime error with the name, the line and the code', async () => {
    const result = await render(`
import matplotlib.pyplot as plt
fig, ax = plt.subplots()
ax.plot([0, 1], [0, velocity])
`);
    expectFailure(result, 'exception');
    expect(result.message).toContain("NameError: name 'velocity' is not defined");
    expect(result.message).toContain('script.py", line 4');
    expect(result.message).toContain('ax.plot([0, 1], [0, velocity])');
    expect(result.message).not.toContain('harness.py');
  });

  it('reports a script that draws nothing', async () => {
    expectFailure(await render('print("no drawing here")\n'), 'no-figure');
  });

  it('reports an empty figure as blank', async () => {
    expectFailure(await render('import matplotlib.pyplot as plt\nplt.figure()\n'), 'blank');
  });

  it('kills a script past its wall clock and renders the next job', async () => {
    const result = await render('while True:\n    pass\n', { timeoutMs: 2000 });
    expectFailure(result, 'timeout');
    expect(result.durationMs).toBeLessThan(10_000);
    expectImages(await render('import matplotlib.pyplot as plt\nplt.plot([0, 1], [0, 1])\n'));
  });

  it('kills the processes the script left behind, however they detached', async () => {
    const result = await render(`
import os, subprocess, time
import matplotlib.pyplot as plt
sleeper = subprocess.Popen(["sleep", "60"])
forked = os.fork()
if forked == 0:
    time.sleep(60)
    os._exit(0)
print("children", sleeper.pid, forked)
plt.plot([0, 1], [0, 1])
`);
    expectImages(result);
    expect(result.output).toMatch(/children \d+ \d+/);
    expectOnlyZygotes();
  });

  it('does not wait on a process that left the session holding the output pipe', async () => {
    const result = await render(`
import subprocess
import matplotlib.pyplot as plt
escaped = subprocess.Popen(["sleep", "60"], start_new_session=True)
print("escaped", escaped.pid)
plt.plot([0, 1], [0, 1])
`);
    expectImages(result);
    expect(result.output).toMatch(/escaped \d+/);
    expect(result.durationMs).toBeLessThan(10_000);
    expectOnlyZygotes();
  });

  it('gives the script none of the parent environment', async () => {
    const result = await render(`
import json, os
import matplotlib.pyplot as plt
print("ENVIRONMENT=" + json.dumps(dict(os.environ)))
plt.plot([0, 1], [0, 1])
`);
    expectImages(result);
    expect(result.output).not.toContain('planted');
    const environment = JSON.parse(/ENVIRONMENT=(.*)/.exec(result.output)?.[1] ?? '{}') as Record<string, string>;
    expect(Object.keys(environment).filter((key) => !ALLOWED_ENVIRONMENT_KEYS.has(key))).toEqual([]);
    // Its own job directory, as the sandbox names it.
    expect(environment['HOME']).toMatch(/\/test-\d+-[0-9a-f]{12}$/);
    expect(environment['TMPDIR']).toBe(environment['HOME']);
  });

  it('stops a script that floods its output', async () => {
    const result = await render('while True:\n    print("x" * 1000)\n');
    expectFailure(result, 'limit');
    expect(result.durationMs).toBeLessThan(10_000);
    expect(result.output.length).toBeLessThanOrEqual(1024 * 1024 + 100);
    expect(result.output).toContain('[output truncated after');
  });

  it('passes an abort on as a rejection and kills the group', async () => {
    const controller = new AbortController();
    const rendering = render('while True:\n    pass\n', { signal: controller.signal });
    setTimeout(() => controller.abort(new Error('cancelled by test')), 1000);
    const started = Date.now();
    await expect(rendering).rejects.toThrow('cancelled by test');
    expect(Date.now() - started).toBeLessThan(5000);
    expect(await jobDirectoriesLeft(`test-${jobCounter}-`)).toEqual([]);
    expectImages(await render('import matplotlib.pyplot as plt\nplt.plot([0, 1], [0, 1])\n'));
  });

  it('stops renders in flight when closed', async () => {
    const closing = createRenderer({
      python: await findPython(),
      workDirectory: join(workDirectory, 'closing'),
      slots: 1,
    });
    const rendering = closing.render({
      code: 'while True:\n    pass\n',
      jobId: 'closing',
      dpi: 100,
      timeoutMs: 60_000,
    });
    const rejection = expect(rendering).rejects.toThrow('closed');
    await closing.close();
    await rejection;
    await expect(closing.render({ code: '', jobId: 'after-close', dpi: 100, timeoutMs: 1000 })).rejects.toThrow(
      'closed',
    );
  });

  it('reports a memory hog as a limit', async () => {
    const result = await render('blob = bytearray(3 * 1024 ** 3)\n');
    expectFailure(result, 'limit');
    expect(result.message).toContain('MemoryError');
  });

  it('saves over a symlink the script planted under a figure name, not through it', async () => {
    const victim = join(scratchDirectory, 'victim.txt');
    await writeFile(victim, 'untouched');
    const result = await render(`
import os
import matplotlib.pyplot as plt
os.symlink(${JSON.stringify(victim)}, "figure-1.png")
plt.plot([0, 1], [0, 1])
`);
    expectImages(result);
    expect(await readFile(victim, 'utf8')).toBe('untouched');
  });

  it.each([
    ['a symlink', 'os.symlink("real.png", "figure-1.png")', 'invalid-output', 'not a regular file'],
    ['a hard link', 'os.link("real.png", "figure-1.png")', 'invalid-output', 'linked elsewhere'],
    ['a FIFO', 'os.mkfifo("figure-1.png")', 'invalid-output', 'not a regular file'],
    ['not a PNG', 'open("figure-1.png", "wb").write(b"GIF89a" + bytes(100))', 'invalid-output', 'PNG signature'],
    [
      'a truncated PNG',
      'data = open("real.png", "rb").read()\nopen("figure-1.png", "wb").write(data[: len(data) // 2])',
      'invalid-output',
      'truncated',
    ],
    [
      'a PNG header claiming 10000x10000 pixels',
      [
        'header = struct.pack(">II", 10000, 10000) + bytes([8, 6, 0, 0, 0])',
        'chunk = struct.pack(">I", 13) + b"IHDR" + header + struct.pack(">I", zlib.crc32(b"IHDR" + header))',
        'open("figure-1.png", "wb").write(b"\\x89PNG\\r\\n\\x1a\\n" + chunk)',
      ].join('\n'),
      'limit',
      '10000x10000',
    ],
  ])('refuses a forged result whose figure is %s', async (_description, planting, kind, reason) => {
    const result = await render(forgeResultThenExit(planting));
    expectFailure(result, kind);
    expect(result.message).toContain(reason);
  });

  it('reports a script that ends python before the harness could write its result', async () => {
    const result = await render('import os\nprint("leaving")\nos._exit(3)\n');
    expectFailure(result, 'exception');
    expect(result.message).toContain('code 3');
    expect(result.message).toContain('leaving');
  });
});

describe('findPython', () => {
  it('names the interpreter and the fix when matplotlib is missing', async () => {
    const attempt = findPython({ python: '/bin/false' });
    await expect(attempt).rejects.toThrow('matplotlib is not importable by /bin/false: run npm run setup');
    await expect(attempt).rejects.toSatisfy(PythonNotUsableError.isInstance);
  });

  it('prefers the configured interpreter (render.python, set by SCIGEN_PYTHON) to the project venv', async () => {
    const projectPython = await findPython({});
    expect(projectPython).toMatch(/\.venv\/bin\/python$/);
    await expect(findPython({ python: '/bin/false' })).rejects.toThrow('/bin/false');
  });
});
