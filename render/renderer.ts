/** Why a render produced no usable image. Each is a business outcome fed back to the repair step. */
export type RenderErrorKind =
  | 'exception' // the script raised; message carries the last traceback lines
  | 'timeout' // wall clock exceeded, process group killed
  | 'no-figure' // the script ran but drew nothing
  | 'blank' // a figure exists but its canvas is (near) empty
  | 'limit' // a resource limit was hit (output flood, image too large, ...)
  | 'invalid-output'; // the PNG could not be trusted (bad header, symlink, outside the job dir)

export interface RenderRequest {
  /** The complete Python/Matplotlib script. Untrusted. */
  code: string;
  /** Names the job in logs and its scratch directory; [A-Za-z0-9._-] only. */
  jobId: string;
  /** Every figure is saved at this dpi. */
  dpi: number;
  /** Wall clock limit; the whole process group is killed past it. */
  timeoutMs: number;
  signal?: AbortSignal;
}

export type RenderResult =
  | {
      ok: true;
      /** One PNG per figure the script made, in figure-number order. */
      images: Uint8Array[];
      width: number;
      height: number;
      /** Captured stdout+stderr, truncated. */
      output: string;
      durationMs: number;
    }
  | { ok: false; kind: RenderErrorKind; message: string; output: string; durationMs: number };

export interface Renderer {
  render(request: RenderRequest): Promise<RenderResult>;
  /** One line for startup logs: interpreter, isolation level. */
  describe(): string;
  close(): Promise<void>;
}
