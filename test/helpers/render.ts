import { readdirSync, readFileSync } from 'node:fs';
import { expect } from 'vitest';
import type { RenderResult } from '../../render/renderer.ts';

export const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/**
 * The environment a script may see, written out here rather than imported from the renderer, so a
 * key added to the renderer's allow-list by mistake makes these tests fail.
 */
export const ALLOWED_ENVIRONMENT_KEYS: ReadonlySet<string> = new Set([
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
]);

/** A script that draws, then writes its own result.json naming figure-1.png after `planting` made it. */
export const forgeResultThenExit = (planting: string): string => `
import json, os, struct, zlib
import matplotlib.pyplot as plt
fig, ax = plt.subplots()
ax.plot([0, 1], [0, 1])
with open("real.png", "wb") as handle:
    fig.savefig(handle, format="png")
${planting}
introspection = {"texts": [], "texts_truncated": False, "overlaps": [], "axes": [], "size_inches": [1, 1], "dpi": 100}
with open("result.json", "w") as handle:
    json.dump({"ok": True, "figures": [{"file": "figure-1.png", "width": 10, "height": 10, "blank": False, "ink_fraction": 0.5, "introspection": introspection}]}, handle)
os._exit(0)
`;

/** Host pids of the live (non-zombie) processes running as `uid`. */
export function processesOfUid(uid: number): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const status = readFileSync(`/proc/${entry}/status`, 'utf8');
      if (/^State:\s+Z/m.test(status)) continue;
      if (Number(/^Uid:\s+(\d+)/m.exec(status)?.[1]) === uid) pids.push(Number(entry));
    } catch {
      // exited while being listed
    }
  }
  return pids;
}

export function expectFailure(
  result: RenderResult,
  kind: string,
): asserts result is Extract<RenderResult, { ok: false }> {
  if (result.ok)
    throw new Error(`expected a '${kind}' failure, got ${result.images.length} image(s)\n${result.output}`);
  expect(result.kind, `${result.message}\n${result.output}`).toBe(kind);
}

export function expectImages(result: RenderResult): asserts result is Extract<RenderResult, { ok: true }> {
  if (!result.ok) throw new Error(`expected images, got '${result.kind}': ${result.message}\n${result.output}`);
}
