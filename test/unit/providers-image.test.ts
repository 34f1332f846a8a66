import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { fitImage, pngSize, resizeRgba } from '../../providers/image.ts';
import { makePng } from '../helpers/png.ts';

const part = (data: Uint8Array) => ({ type: 'image' as const, mimeType: 'image/png' as const, data });

describe('fitImage', () => {
  it('leaves an image within both limits untouched (same bytes, no re-encoding)', () => {
    const image = part(makePng(800, 600));
    expect(fitImage(image)).toBe(image);
  });

  it('scales the long side down to 1024 px, keeping the aspect ratio', () => {
    const fitted = fitImage(part(makePng(1800, 1200)));
    expect(pngSize(fitted.data)).toEqual({ width: 1024, height: 683 });
    const portrait = fitImage(part(makePng(600, 2048)));
    expect(pngSize(portrait.data)).toEqual({ width: 300, height: 1024 });
    // Still a PNG the decoder reads.
    expect(PNG.sync.read(Buffer.from(fitted.data)).width).toBe(1024);
  });

  it('shrinks further until the encoded PNG is at most the byte limit', () => {
    // Noise does not compress: 700x700 RGB noise is about 1.4 MB.
    const noisy = makePng(700, 700, { noisy: true });
    expect(noisy.byteLength).toBeGreaterThan(1_000_000);
    const fitted = fitImage(part(noisy), { maxSide: 1024, maxBytes: 300_000 });
    expect(fitted.data.byteLength).toBeLessThanOrEqual(300_000);
    const { width, height } = pngSize(fitted.data);
    expect(width).toBe(height);
    expect(width).toBeLessThan(700);
    expect(width).toBeGreaterThan(250);
  });

  it('meets the default 2 MB limit for a large noisy render', () => {
    const fitted = fitImage(part(makePng(2400, 1600, { noisy: true })));
    expect(fitted.data.byteLength).toBeLessThanOrEqual(2 * 1024 * 1024);
    expect(Math.max(...Object.values(pngSize(fitted.data)))).toBeLessThanOrEqual(1024);
  });

  it('passes a small JPEG through and refuses one over the byte limit it cannot shrink', () => {
    const jpeg = {
      type: 'image' as const,
      mimeType: 'image/jpeg' as const,
      data: new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3]),
    };
    expect(fitImage(jpeg)).toBe(jpeg);
    expect(() => fitImage(jpeg, { maxSide: 1024, maxBytes: 4 })).toThrow(/only PNG can be shrunk/);
  });
});

describe('resizeRgba (area averaging)', () => {
  it('averages the pixels under each output pixel', () => {
    // 2x1 -> 1x1: black and white average to mid grey.
    const source = new Uint8Array([0, 0, 0, 255, 255, 255, 255, 255]);
    expect([...resizeRgba(source, 2, 1, 1, 1)]).toEqual([128, 128, 128, 255]);
  });

  it('weights partly covered pixels by their share (3 -> 2)', () => {
    // Output pixel 0 covers source 0 fully and half of source 1: (0*1 + 90*0.5) / 1.5 = 30.
    const source = new Uint8Array([0, 0, 0, 255, 90, 90, 90, 255, 180, 180, 180, 255]);
    expect([...resizeRgba(source, 3, 1, 2, 1)]).toEqual([30, 30, 30, 255, 150, 150, 150, 255]);
  });

  it('does not let transparent pixels darken their neighbours (premultiplied alpha)', () => {
    // A red opaque pixel next to a transparent black one: the colour stays red, alpha halves.
    const source = new Uint8Array([255, 0, 0, 255, 0, 0, 0, 0]);
    expect([...resizeRgba(source, 2, 1, 1, 1)]).toEqual([255, 0, 0, 128]);
  });

  it('keeps a transparent figure transparent through fitImage', () => {
    const fitted = fitImage(part(makePng(2048, 100, { alpha: true })));
    const decoded = PNG.sync.read(Buffer.from(fitted.data));
    expect(decoded.width).toBe(1024);
    expect(decoded.data[3]).toBe(0);
    expect(decoded.data[(decoded.width - 1) * 4 + 3]).toBe(255);
  });
});
