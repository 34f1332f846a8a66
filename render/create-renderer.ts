import {
  createSandboxedRenderer,
  type SandboxedRenderer,
  type SandboxedRendererOptions,
} from './sandboxed-renderer.ts';

/** What workers set of the renderer: everything but where its tools are looked up. */
export type RendererSettings = Omit<SandboxedRendererOptions, 'searchPath'>;

/**
 * The renderer workers use: untrusted scripts run in the strongest isolation this machine offers,
 * probed when the renderer starts; it refuses to render when none works.
 */
export function createRenderer(settings: RendererSettings): SandboxedRenderer {
  return createSandboxedRenderer(settings);
}
