import { z } from 'zod';
import type { ArtistOverlap, FigureIntrospection, PixelBox, RenderIntrospection } from './renderer.ts';

/** Mirrors MAX_FIGURES in harness.py. */
const MAX_FIGURES = 16;
const FIGURE_FILE_PATTERN = /^figure-[0-9]{1,3}\.png$/;
/** Below this size a label is hard to read at the dpi diagrams are judged at. */
const SMALLEST_READABLE_POINTS = 6;
const MAX_QUOTED_CHARACTERS = 40;

const nullableNumber = z.number().nullable();
const pixelBox = z.tuple([nullableNumber, nullableNumber, nullableNumber, nullableNumber]);

const introspectionSchema = z.object({
  texts: z
    .array(
      z.object({
        text: z.string(),
        bbox: pixelBox,
        role: z.string().max(20),
        fontsize: nullableNumber,
        axes: z.int().nonnegative().nullable(),
      }),
    )
    .max(400),
  texts_truncated: z.boolean(),
  overlaps: z
    .array(
      z.object({
        kind: z.enum(['text-text', 'text-line', 'text-patch']),
        text: z.int().nonnegative(),
        other: z.int().nonnegative().nullable(),
        other_description: z.string().max(300),
        other_bbox: pixelBox,
        area: nullableNumber,
      }),
    )
    .max(200),
  axes: z
    .array(
      z.object({
        bbox: pixelBox,
        xlim: z.tuple([nullableNumber, nullableNumber]),
        ylim: z.tuple([nullableNumber, nullableNumber]),
        axis_on: z.boolean(),
        aspect: z.union([z.string().max(20), z.number()]).nullable(),
        projection: z.string().max(40),
        title: z.string(),
        xlabel: z.string(),
        ylabel: z.string(),
        lines: z.int().nonnegative(),
        patches: z.int().nonnegative(),
        texts: z.int().nonnegative(),
        collections: z.int().nonnegative(),
        images: z.int().nonnegative(),
      }),
    )
    .max(200),
  size_inches: z.tuple([nullableNumber, nullableNumber]),
  dpi: nullableNumber,
});

/** result.json as harness.py writes it; the script shares the interpreter, so it is untrusted. */
export const harnessResultSchema = z.object({
  ok: z.boolean(),
  figures: z
    .array(
      z.object({
        file: z.string().regex(FIGURE_FILE_PATTERN),
        width: z.int().nonnegative(),
        height: z.int().nonnegative(),
        blank: z.boolean(),
        ink_fraction: z.number(),
        introspection: introspectionSchema,
      }),
    )
    .max(MAX_FIGURES),
  error: z
    .object({
      kind: z.enum(['exception', 'no-figure', 'blank', 'limit']),
      message: z.string(),
    })
    .optional(),
});

export type HarnessResult = z.infer<typeof harnessResultSchema>;

function box(values: readonly (number | null)[]): PixelBox {
  const [left, top, right, bottom] = values.map((value) => value ?? 0);
  return [left ?? 0, top ?? 0, right ?? 0, bottom ?? 0];
}

/** The harness's snake_case record, as the TypeScript side names it. */
export function toRenderIntrospection(result: HarnessResult): RenderIntrospection {
  return {
    figures: result.figures.map((record, index): FigureIntrospection => {
      const { introspection } = record;
      return {
        figure: index + 1,
        width: record.width,
        height: record.height,
        widthInches: introspection.size_inches[0],
        heightInches: introspection.size_inches[1],
        dpi: introspection.dpi,
        inkFraction: record.ink_fraction,
        blank: record.blank,
        axes: introspection.axes.map((axes) => ({
          bbox: box(axes.bbox),
          xlim: axes.xlim,
          ylim: axes.ylim,
          axisOn: axes.axis_on,
          aspect: axes.aspect,
          projection: axes.projection,
          title: axes.title,
          xlabel: axes.xlabel,
          ylabel: axes.ylabel,
          lines: axes.lines,
          patches: axes.patches,
          texts: axes.texts,
          collections: axes.collections,
          images: axes.images,
        })),
        texts: introspection.texts.map((text) => ({
          text: text.text,
          bbox: box(text.bbox),
          role: text.role,
          fontSize: text.fontsize,
          axes: text.axes,
        })),
        textsTruncated: introspection.texts_truncated,
        overlaps: introspection.overlaps.map((overlap): ArtistOverlap => ({
          kind: overlap.kind,
          text: overlap.text,
          other: overlap.other,
          otherDescription: overlap.other_description,
          otherBbox: box(overlap.other_bbox),
          area: overlap.area,
        })),
      };
    }),
  };
}

function quote(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return `'${flat.length > MAX_QUOTED_CHARACTERS ? `${flat.slice(0, MAX_QUOTED_CHARACTERS - 1)}…` : flat}'`;
}

function formatRange(range: readonly (number | null)[]): string {
  return range.map((value) => (value === null ? '?' : String(Number(value.toPrecision(4))))).join(' to ');
}

/**
 * `flawsOnly`: leave out labels that touch a line or a shape. Those are often meant (an atom
 * symbol on its bonds, a label inside its box), so they inform a repair but do not by themselves
 * call for a refinement round; overlapping texts, blank figures and unreadable type do.
 */
function figureFindings(figure: FigureIntrospection, flawsOnly = false): string[] {
  const findings: string[] = [];
  if (figure.blank) {
    findings.push(
      `the figure is blank or nearly so (${(figure.inkFraction * 100).toFixed(4)}% of its pixels are drawn)`,
    );
    figure.axes.forEach((axes, index) => {
      const drawn = axes.lines + axes.patches + axes.texts + axes.collections + axes.images;
      findings.push(
        `axes ${index + 1} shows x from ${formatRange(axes.xlim)} and y from ${formatRange(axes.ylim)}` +
          `${axes.axisOn ? '' : ' with its axis turned off'} and holds ${drawn === 0 ? 'no artists' : `${drawn} artists`}`,
      );
    });
  }

  let tickLabelOverlaps = 0;
  for (const overlap of figure.overlaps) {
    const text = figure.texts[overlap.text];
    if (text === undefined) continue;
    const other = overlap.other === null ? undefined : figure.texts[overlap.other];
    if (overlap.kind === 'text-text' && text.role === 'tick-label' && other?.role === 'tick-label') {
      tickLabelOverlaps++;
      continue;
    }
    if (flawsOnly && overlap.kind !== 'text-text') continue;
    findings.push(`${describeText(text.role)} ${quote(text.text)} overlaps ${overlap.otherDescription}`);
  }
  if (tickLabelOverlaps > 0) {
    const pairs =
      tickLabelOverlaps === 1 ? '1 pair of tick labels overlaps' : `${tickLabelOverlaps} pairs of tick labels overlap`;
    findings.push(`${pairs}; use fewer ticks or rotate them`);
  }

  for (const text of figure.texts) {
    if (text.fontSize !== null && text.fontSize < SMALLEST_READABLE_POINTS && text.text.trim() !== '') {
      findings.push(
        `${describeText(text.role)} ${quote(text.text)} is set in ${text.fontSize} pt type, too small to read`,
      );
    }
  }
  return findings;
}

function describeText(role: string): string {
  switch (role) {
    case 'title':
      return 'title';
    case 'axis-label':
      return 'axis label';
    case 'tick-label':
      return 'tick label';
    case 'legend':
      return 'legend entry';
    case 'table':
      return 'table cell';
    default:
      return 'label';
  }
}

/**
 * Short sentences a model can act on ("label 'F = 25 N' overlaps an arrow"), at most `limit`,
 * duplicates removed; prefixed with the figure number when the script made several.
 */
export function describeFindings(
  introspection: RenderIntrospection | undefined,
  limit = 12,
  options: { flawsOnly?: boolean } = {},
): string[] {
  if (introspection === undefined) return [];
  const several = introspection.figures.length > 1;
  const findings: string[] = [];
  for (const figure of introspection.figures) {
    for (const finding of figureFindings(figure, options.flawsOnly))
      findings.push(several ? `figure ${figure.figure}: ${finding}` : finding);
  }
  const unique = [...new Set(findings)];
  if (unique.length <= limit) return unique;
  return [...unique.slice(0, limit - 1), `… and ${unique.length - limit + 1} more findings`];
}

/** The findings that call for a refinement round of an image that rendered (see figureFindings). */
export function describeFlaws(introspection: RenderIntrospection | undefined, limit = 12): string[] {
  return describeFindings(introspection, limit, { flawsOnly: true });
}
