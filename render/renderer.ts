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
  /**
   * Every figure is resized to this many inches and saved whole, so its PNG is exactly
   * dpi × inches pixels. Absent: the script's own size, cropped to what it drew (bbox_inches='tight').
   */
  figureInches?: { width: number; height: number };
  /** Wall clock limit; the whole process group is killed past it. */
  timeoutMs: number;
  signal?: AbortSignal;
}

/** A box in the pixels of the saved PNG, origin top-left: [left, top, right, bottom]. */
export type PixelBox = [number, number, number, number];

export interface TextArtist {
  text: string;
  bbox: PixelBox;
  /** title, axis-label, tick-label, legend, table, annotation or text. */
  role: string;
  /** Points. */
  fontSize: number | null;
  /** Index into the figure's axes, or null for figure-level text. */
  axes: number | null;
}

export interface ArtistOverlap {
  kind: 'text-text' | 'text-line' | 'text-patch';
  /** Index into the figure's texts. */
  text: number;
  /** Index into the figure's texts for text-text, else null. */
  other: number | null;
  /** What the text overlaps, in words: "label 'B'", "an arrow", "line 'velocity'". */
  otherDescription: string;
  otherBbox: PixelBox;
  /** Shared pixels, for text-text only. */
  area: number | null;
}

export interface AxesFacts {
  bbox: PixelBox;
  xlim: [number | null, number | null];
  ylim: [number | null, number | null];
  axisOn: boolean;
  aspect: string | number | null;
  projection: string;
  title: string;
  xlabel: string;
  ylabel: string;
  lines: number;
  patches: number;
  texts: number;
  collections: number;
  images: number;
}

/** What the harness measured on one saved figure: the evidence next to the PNG. */
export interface FigureIntrospection {
  /** 1-based, in creation order (the PNG is figure-N.png). */
  figure: number;
  width: number;
  height: number;
  widthInches: number | null;
  heightInches: number | null;
  dpi: number | null;
  inkFraction: number;
  blank: boolean;
  axes: AxesFacts[];
  texts: TextArtist[];
  /** True when the figure drew more texts than are listed. */
  textsTruncated: boolean;
  overlaps: ArtistOverlap[];
}

export interface RenderIntrospection {
  figures: FigureIntrospection[];
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
      introspection: RenderIntrospection;
    }
  | {
      ok: false;
      kind: RenderErrorKind;
      message: string;
      output: string;
      durationMs: number;
      /** Present when figures were saved before the render was judged a failure (e.g. blank). */
      introspection?: RenderIntrospection;
    };

export interface Renderer {
  render(request: RenderRequest): Promise<RenderResult>;
  /**
   * Probes the isolation and starts the render slots; rejects when nothing isolates. `render`
   * calls it too; workers call it first so they refuse to start instead of failing every job.
   */
  start(): Promise<void>;
  /** One line for startup logs: interpreter, isolation level. */
  describe(): string;
  close(): Promise<void>;
}
