import type { Renderer } from './renderer.ts';
import { createSubprocessRenderer } from './subprocess-renderer.ts';

export interface RendererSettings {
  /** Absolute path of a Python that imports matplotlib (see `findPython`). */
  python: string;
  /** Parent of the per-job scratch directories. */
  workDirectory: string;
}

/**
 * The renderer workers use. Today that is the unsandboxed subprocess renderer; this is the one
 * place that will choose a stronger isolation once it can be probed for.
 */
export function createRenderer(settings: RendererSettings): Renderer {
  return createSubprocessRenderer({ python: settings.python, workDirectory: settings.workDirectory });
}
