import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import {
  CANARY_COLOURS,
  CANARY_QUESTION,
  CANARY_SHAPES,
  drawCanary,
  gradeCanaryAnswer,
  randomCanaryFact,
  type CanaryColour,
  type CanaryFact,
} from '../../doctor/canary.ts';
import { answerDoctor, describeSight, seeImage } from '../../scripted/vision.ts';

const COLOURS = Object.keys(CANARY_COLOURS) as CanaryColour[];

describe('the vision canary', () => {
  it('asks a question that holds none of the facts it asks about', () => {
    expect(CANARY_QUESTION).not.toMatch(/\d/);
    for (const word of [...COLOURS, ...CANARY_SHAPES])
      expect(CANARY_QUESTION.toLowerCase()).not.toMatch(new RegExp(`\\b${word}\\b`));
  });

  it('draws a random fact: many runs give many different pictures', () => {
    const facts = Array.from({ length: 60 }, () => randomCanaryFact());
    const distinct = new Set(facts.map((fact) => `${fact.digit}/${fact.colour}/${fact.shape}`));
    expect(distinct.size).toBeGreaterThan(20);
    expect(new Set(facts.map((fact) => fact.digit)).size).toBeGreaterThan(5);
    const pictures = new Set(facts.slice(0, 10).map((fact) => Buffer.from(drawCanary(fact)).toString('base64')));
    expect(pictures.size).toBe(new Set(facts.slice(0, 10).map((fact) => JSON.stringify(fact))).size);
  });

  it('is a real PNG with the shape in its colour and the digit in black', () => {
    const png = PNG.sync.read(Buffer.from(drawCanary({ digit: 8, colour: 'green', shape: 'square' })));
    const pixel = (x: number, y: number) => [
      ...png.data.subarray((y * png.width + x) * 4, (y * png.width + x) * 4 + 3),
    ];
    expect(pixel(100, 100)).toEqual([...CANARY_COLOURS.green]);
    expect(pixel(5, 5)).toEqual([255, 255, 255]);
    // The top bar of an 8 (".###."), its second cell.
    expect(pixel(200 + 18 + 9, 37 + 9)).toEqual([0, 0, 0]);
  });

  it('grades the substance strictly and the wording leniently', () => {
    const fact: CanaryFact = { digit: 7, colour: 'red', shape: 'triangle' };
    for (const right of [
      '7, red, triangle',
      'The digit is seven; the shape is a red triangle.',
      '7, Crimson, Triangular',
    ])
      expect(gradeCanaryAnswer(fact, right), right).toEqual({ passed: true, reason: '' });
    expect(gradeCanaryAnswer(fact, '1, red, triangle')).toEqual({ passed: false, reason: 'digit 1' });
    expect(gradeCanaryAnswer(fact, 'It looks like a blue circle.')).toEqual({
      passed: false,
      reason: 'no digit, colour blue, shape circle',
    });
    // A hedge is no answer.
    expect(gradeCanaryAnswer(fact, '7, red or blue, triangle').passed).toBe(false);
    expect(gradeCanaryAnswer(fact, '7, red, triangle or square').passed).toBe(false);
    expect(gradeCanaryAnswer(fact, '').reason).toBe('no digit, no colour, no shape');
  });
});

describe("the scripted endpoint's sight", () => {
  it('reads canaries from their pixels: every digit with every colour, every shape', () => {
    for (let digit = 0; digit < 10; digit++)
      for (const [index, colour] of COLOURS.entries()) {
        const shape = CANARY_SHAPES[(digit + index) % CANARY_SHAPES.length]!;
        const sight = seeImage(drawCanary({ digit, colour, shape }));
        expect(describeSight(sight), `${digit} ${colour} ${shape}`).toBe(`${digit}, ${colour}, ${shape}`);
      }
  });

  it('reads a picture it was never given the answer to, and says what it cannot make out', () => {
    const png = new PNG({ width: 120, height: 90 });
    png.data.fill(255);
    // A purple disc on a transparent-left, white-right canvas; no digit.
    for (let y = 0; y < 90; y++)
      for (let x = 0; x < 120; x++) {
        const index = (y * 120 + x) * 4;
        if (x < 10) png.data[index + 3] = 0;
        if ((x - 60) ** 2 + (y - 45) ** 2 <= 30 ** 2) png.data.set([130, 50, 180, 255], index);
      }
    const sight = seeImage(PNG.sync.write(png));
    expect(sight).toMatchObject({ width: 120, height: 90, colour: 'purple', shape: 'circle', digit: null });
    expect(describeSight(sight)).toBe('no digit, purple, circle');
  });

  it("answers the doctor's canary from the image when it sees, and guesses when it is blind or got none", () => {
    const fact: CanaryFact = { digit: 4, colour: 'yellow', shape: 'triangle' };
    const request = { text: CANARY_QUESTION, images: [drawCanary(fact)], structured: false };
    const seen = answerDoctor(request, true);
    expect(seen).toBe('4, yellow, triangle');
    expect(gradeCanaryAnswer(fact, seen).passed).toBe(true);
    expect(gradeCanaryAnswer(fact, answerDoctor(request, false)).passed).toBe(false);
    expect(gradeCanaryAnswer(fact, answerDoctor({ ...request, images: [] }, true)).passed).toBe(false);
    expect(answerDoctor({ text: 'Reply with JSON: {"ok": true}', images: [], structured: false }, true)).toBe(
      '{"ok": true}',
    );
    expect(answerDoctor({ text: 'Reply with the word OK.', images: [], structured: false }, true)).toBe('OK');
  });
});
