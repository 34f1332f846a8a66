import type { IsolationSetting } from './isolation.ts';
import { createSandboxedRenderer, type RenderLimits, type SandboxedRenderer } from './sandboxed-renderer.ts';

export interface RendererSettings {
  /** Absolute path of a Python that imports matplotlib (see `findPython`). */
  python: string;
  /** Parent of the renderer's host-side state (font cache, per-slot directories). */
  workDirectory: string;
  /** Concurrent renders. @default number of cores */
  slots?: number;
  /** @default 'auto' (the strongest isolation that works) */
  isolation?: IsolationSetting;
  /** First uid tried for the per-slot uids. @default 850000 */
  uidBase?: number;
  /** @default 200 */
  recycleAfterJobs?: number;
  limits?: Partial<RenderLimits>;
  /** @default 150 */
  warmUpDpi?: number;
}

/**
 * The renderer workers use: untrusted scripts run in the strongest isolation this machine offers,
 * probed when the renderer starts; it refuses to render when none works.
 */
export function createRenderer(settings: RendererSettings): SandboxedRenderer {
  return createSandboxedRenderer(settings);
}
