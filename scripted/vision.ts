import { PNG } from 'pngjs';
import { DIGIT_GLYPHS, GLYPH_COLUMNS, GLYPH_ROWS } from '../doctor/digit-font.ts';

/**
 * The scripted endpoint's stand-in for sight: what a picture shows, read from its pixels alone.
 * It knows colours by name, tells a square, a circle and a triangle apart by how much of their
 * bounding box they fill, and reads a blocky digit by matching it cell by cell against the digit
 * shapes it knows (the ones the vision canary writes). It is told nothing else: a canary is
 * answered right only when its PNG really was sent and decoded.
 */

export interface Sight {
  width: number;
  height: number;
  /** The name of the most common strong colour (not white, grey or black); null when there is none. */
  colour: string | null;
  /** The outline of the pixels of that colour; null when there are too few to tell. */
  shape: 'square' | 'circle' | 'triangle' | null;
  /** A digit written in black; null when no dark marks match one. */
  digit: number | null;
}

/** Colours the endpoint can name, as RGB. */
const NAMED_COLOURS: ReadonlyArray<readonly [string, number, number, number]> = [
  ['red', 220, 30, 30],
  ['orange', 245, 140, 20],
  ['yellow', 240, 200, 0],
  ['green', 40, 160, 50],
  ['cyan', 20, 190, 210],
  ['blue', 30, 80, 220],
  ['purple', 130, 50, 180],
  ['pink', 240, 110, 180],
  ['brown', 130, 80, 40],
];

/** Decodes a PNG (any colour type and bit depth pngjs reads) and describes what it shows. */
export function seeImage(bytes: Uint8Array): Sight {
  const png = PNG.sync.read(Buffer.from(bytes));
  const { width, height, data } = png;
  const counts = new Map<string, number>();
  const isDark: boolean[] = new Array<boolean>(width * height).fill(false);
  const colourAt: Array<string | undefined> = new Array<string | undefined>(width * height);
  for (let index = 0; index < width * height; index++) {
    const alpha = data[index * 4 + 3]! / 255;
    // Transparency is seen against white, as a viewer shows it.
    const [red, green, blue] = [0, 1, 2].map((channel) => data[index * 4 + channel]! * alpha + 255 * (1 - alpha)) as [
      number,
      number,
      number,
    ];
    const brightest = Math.max(red, green, blue);
    const darkest = Math.min(red, green, blue);
    if (brightest < 70) isDark[index] = true;
    else if (brightest - darkest > 90) {
      const name = nearestColour(red, green, blue);
      colourAt[index] = name;
      counts.set(name, (counts.get(name) ?? 0) + 1);
    }
  }
  const [colour, colourCount] = [...counts.entries()].sort((first, second) => second[1] - first[1])[0] ?? [null, 0];
  return {
    width,
    height,
    colour: colourCount >= 50 ? colour : null,
    shape: colour && colourCount >= 50 ? shapeOf(colourAt, colour, width, height) : null,
    digit: readDigit(isDark, width, height),
  };
}

function nearestColour(red: number, green: number, blue: number): string {
  let best = NAMED_COLOURS[0]![0];
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const [name, r, g, b] of NAMED_COLOURS) {
    const distance = (red - r) ** 2 + (green - g) ** 2 + (blue - b) ** 2;
    if (distance < bestDistance) [best, bestDistance] = [name, distance];
  }
  return best;
}

/** A filled square fills its bounding box, a disc about π/4 of it, a triangle about half. */
function shapeOf(
  colourAt: ReadonlyArray<string | undefined>,
  colour: string,
  width: number,
  height: number,
): Sight['shape'] {
  const box = boundingBox(width, height, (index) => colourAt[index] === colour);
  if (!box) return null;
  let filled = 0;
  for (let y = box.top; y <= box.bottom; y++)
    for (let x = box.left; x <= box.right; x++) if (colourAt[y * width + x] === colour) filled++;
  const share = filled / ((box.right - box.left + 1) * (box.bottom - box.top + 1));
  return share > 0.9 ? 'square' : share > 0.65 ? 'circle' : 'triangle';
}

/**
 * Reads the dark marks as one digit. The marks are drawn in square cells, GLYPH_ROWS high: their
 * height gives the cell size, their width how many of the glyph's columns carry ink (a "1" uses
 * three), and each cell is inked or not. A digit matches when its glyph, at some column offset,
 * has ink in exactly those cells and none in the columns outside.
 */
function readDigit(isDark: readonly boolean[], width: number, height: number): number | null {
  const box = boundingBox(width, height, (index) => isDark[index]!);
  if (!box) return null;
  const cell = (box.bottom - box.top + 1) / GLYPH_ROWS;
  const columns = Math.round((box.right - box.left + 1) / cell);
  if (cell < 2 || columns < 1 || columns > GLYPH_COLUMNS) return null;
  const inked = (row: number, column: number): boolean => {
    let ink = 0;
    let total = 0;
    for (let y = Math.floor(box.top + row * cell); y < Math.floor(box.top + (row + 1) * cell); y++)
      for (let x = Math.floor(box.left + column * cell); x < Math.floor(box.left + (column + 1) * cell); x++) {
        total++;
        if (x <= box.right && isDark[y * width + x]) ink++;
      }
    return total > 0 && ink / total > 0.5;
  };
  const seen = Array.from({ length: GLYPH_ROWS }, (_, row) =>
    Array.from({ length: columns }, (_, column) => inked(row, column)),
  );
  for (const [digit, glyph] of Object.entries(DIGIT_GLYPHS)) {
    for (let offset = 0; offset + columns <= GLYPH_COLUMNS; offset++) {
      const matches = glyph.every((line, row) =>
        [...line].every((mark, column) => {
          const within = column >= offset && column < offset + columns;
          return within ? (mark === '#') === seen[row]![column - offset] : mark !== '#';
        }),
      );
      if (matches) return Number(digit);
    }
  }
  return null;
}

function boundingBox(
  width: number,
  height: number,
  marked: (index: number) => boolean,
): { left: number; top: number; right: number; bottom: number } | undefined {
  let [left, top, right, bottom] = [width, height, -1, -1];
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++)
      if (marked(y * width + x)) {
        left = Math.min(left, x);
        right = Math.max(right, x);
        top = Math.min(top, y);
        bottom = Math.max(bottom, y);
      }
  return right < 0 ? undefined : { left, top, right, bottom };
}

/** How the endpoint answers a question about a picture it saw: "<digit>, <colour>, <shape>", with what it could make out. */
export function describeSight(sight: Sight): string {
  return [sight.digit ?? 'no digit', sight.colour ?? 'no colour', sight.shape ?? 'no shape'].join(', ');
}

/**
 * How the endpoint answers scigen's doctor (problem DOCTOR_PROBLEM_ID), which scripts do not cover:
 * a question about a picture's digit and shape from what it sees in the picture (a guess when it
 * is blind or got none), a JSON probe with a small object, anything else with "OK".
 */
export function answerDoctor(
  request: { text: string; images: Uint8Array[]; structured: boolean },
  sees: boolean,
): string {
  const picture = request.images[0];
  if (/\bdigit\b/i.test(request.text) && /\bshape\b/i.test(request.text)) {
    // What a text-only model tends to do: describe a picture it never got.
    if (!picture || !sees) return 'It looks like a blue circle.';
    try {
      return describeSight(seeImage(picture));
    } catch {
      return 'I cannot make out the picture.';
    }
  }
  if (request.structured || /\bjson\b/i.test(request.text)) return '{"ok": true}';
  return 'OK';
}
