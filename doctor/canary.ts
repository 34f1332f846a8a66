import { randomInt } from 'node:crypto';
import { PNG } from 'pngjs';
import type { Step } from '../domain/types.ts';
import type { ModelProvider } from '../providers/provider.ts';
import { DIGIT_GLYPHS, GLYPH_COLUMNS, GLYPH_ROWS } from './digit-font.ts';

/**
 * The vision canary: a small picture scigen draws at run time holding a random fact (a digit, the
 * colour of a shape and the shape), and a question only a model that sees the picture can answer.
 * The question is the same every time and the fact is in the pixels alone, so a model that drops
 * the image (a text-only model behind a server that accepts image parts anyway) can only guess.
 */

export const CANARY_COLOURS = {
  red: [215, 30, 35],
  green: [35, 155, 55],
  blue: [30, 80, 215],
  yellow: [240, 195, 0],
} as const satisfies Record<string, readonly [number, number, number]>;
export type CanaryColour = keyof typeof CANARY_COLOURS;
export const CANARY_SHAPES = ['triangle', 'square', 'circle'] as const;
export type CanaryShape = (typeof CANARY_SHAPES)[number];

export interface CanaryFact {
  digit: number;
  colour: CanaryColour;
  shape: CanaryShape;
}

/** The problem id canary and probe requests carry in `x-scigen-problem`: they belong to no problem. */
export const DOCTOR_PROBLEM_ID = 'scigen-doctor';

/** Asked with the picture; it names no digit, colour or shape. */
export const CANARY_QUESTION =
  'The image shows one large coloured shape and one black digit. Reply on a single line in the form ' +
  '"<digit>, <colour>, <shape>": the digit written in the image, the colour of the shape in one word, ' +
  "and the shape's name in one word.";

const WIDTH = 320;
const HEIGHT = 200;
const DIGIT_SCALE = 18;

/** A fact picked at random; `pick(n)` returns an integer in [0, n). */
export function randomCanaryFact(pick: (count: number) => number = randomInt): CanaryFact {
  const colours = Object.keys(CANARY_COLOURS) as CanaryColour[];
  return { digit: pick(10), colour: colours[pick(colours.length)]!, shape: CANARY_SHAPES[pick(CANARY_SHAPES.length)]! };
}

/** The canary picture of a fact as a PNG: on white, the shape on the left and the digit in black on the right. */
export function drawCanary(fact: CanaryFact): Uint8Array {
  const png = new PNG({ width: WIDTH, height: HEIGHT });
  png.data.fill(255);
  const paint = (x: number, y: number, [red, green, blue]: readonly [number, number, number]) => {
    const index = (y * WIDTH + x) * 4;
    png.data[index] = red;
    png.data[index + 1] = green;
    png.data[index + 2] = blue;
  };
  // The shape fills a 140 px box at (30, 30).
  const [left, top, size] = [30, 30, 140];
  const inShape: Record<CanaryShape, (x: number, y: number) => boolean> = {
    square: () => true,
    circle: (x, y) => (x - size / 2) ** 2 + (y - size / 2) ** 2 <= (size / 2) ** 2,
    // Apex at the top middle, base along the bottom.
    triangle: (x, y) => Math.abs(x - size / 2) <= (y / size) * (size / 2),
  };
  for (let y = 0; y < size; y++)
    for (let x = 0; x < size; x++)
      if (inShape[fact.shape](x + 0.5, y + 0.5)) paint(left + x, top + y, CANARY_COLOURS[fact.colour]);

  const glyph = DIGIT_GLYPHS[fact.digit]!;
  const digitLeft = 200;
  const digitTop = Math.round((HEIGHT - GLYPH_ROWS * DIGIT_SCALE) / 2);
  for (let row = 0; row < GLYPH_ROWS; row++)
    for (let column = 0; column < GLYPH_COLUMNS; column++) {
      if (glyph[row]![column] !== '#') continue;
      for (let y = 0; y < DIGIT_SCALE; y++)
        for (let x = 0; x < DIGIT_SCALE; x++)
          paint(digitLeft + column * DIGIT_SCALE + x, digitTop + row * DIGIT_SCALE + y, [0, 0, 0]);
    }
  return new Uint8Array(PNG.sync.write(png, { colorType: 2 }));
}

const DIGIT_WORDS = ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine'];
const COLOUR_WORDS: Record<CanaryColour, RegExp> = {
  red: /\b(red|crimson|scarlet)\b/,
  green: /\bgreen\b/,
  blue: /\b(blue|navy)\b/,
  yellow: /\b(yellow|gold|golden|amber)\b/,
};
const SHAPE_WORDS: Record<CanaryShape, RegExp> = {
  triangle: /\btriang/,
  square: /\b(square|rectangle|rectangular|box)\b/,
  circle: /\b(circle|circular|disc|disk|round|oval|ellipse)\b/,
};

export interface CanaryGrade {
  passed: boolean;
  /** What was wrong, for the table; '' when it passed. */
  reason: string;
}

/**
 * Grades an answer leniently in form and strictly in substance: any wording, but the first number
 * in it must be the digit, and the colour and the shape must be named, each without naming
 * another of the canary's (a hedge such as "red or blue" is no answer). A blind guess passes
 * one time in 120.
 */
export function gradeCanaryAnswer(fact: CanaryFact, answer: string): CanaryGrade {
  const text = answer.toLowerCase();
  const wrong: string[] = [];
  const number = /\b(\d+|zero|one|two|three|four|five|six|seven|eight|nine)\b/.exec(text)?.[1];
  const digit = number === undefined ? undefined : /^\d+$/.test(number) ? Number(number) : DIGIT_WORDS.indexOf(number);
  if (digit !== fact.digit) wrong.push(digit === undefined ? 'no digit' : `digit ${digit}`);
  const named = <T extends string>(words: Record<T, RegExp>) =>
    (Object.keys(words) as T[]).filter((key) => words[key].test(text));
  const colours = named(COLOUR_WORDS);
  if (colours.length !== 1 || colours[0] !== fact.colour)
    wrong.push(colours.length === 0 ? 'no colour' : `colour ${colours.join('/')}`);
  const shapes = named(SHAPE_WORDS);
  if (shapes.length !== 1 || shapes[0] !== fact.shape)
    wrong.push(shapes.length === 0 ? 'no shape' : `shape ${shapes.join('/')}`);
  return { passed: wrong.length === 0, reason: wrong.join(', ') };
}

export interface VisionVerdict {
  sees: boolean;
  /** The model's answer, trimmed to one short line. */
  answer: string;
  /** What the answer got wrong; '' when it passed. */
  reason: string;
}

/**
 * Shows a model a fresh canary and grades its answer. Provider failures pass through: an error is
 * no verdict (a server that refuses images says so in its own words, and that is the step's failure).
 */
export async function askCanary(
  provider: ModelProvider,
  request: { model: string; step: Step; timeoutMs?: number; signal?: AbortSignal },
): Promise<VisionVerdict> {
  const fact = randomCanaryFact();
  const response = await provider.generate({
    step: request.step,
    problemId: DOCTOR_PROBLEM_ID,
    model: request.model,
    parts: [
      { type: 'image', mimeType: 'image/png', data: drawCanary(fact) },
      { type: 'text', text: CANARY_QUESTION },
    ],
    temperature: 0,
    ...(request.timeoutMs === undefined ? {} : { timeoutMs: request.timeoutMs }),
    ...(request.signal ? { signal: request.signal } : {}),
  });
  const grade = gradeCanaryAnswer(fact, response.text);
  return { sees: grade.passed, answer: oneLine(response.text, 120), reason: grade.reason };
}

/** The refusal a step gets when its model failed the canary. */
export function doesNotSeeMessage(model: string, verdict: VisionVerdict): string {
  const answered = verdict.answer === '' ? 'nothing' : JSON.stringify(verdict.answer);
  return `model ${model} does not see images (answered ${answered} to a canary it cannot answer blind)`;
}

function oneLine(text: string, limit: number): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length <= limit ? line : `${line.slice(0, limit - 1)}…`;
}
