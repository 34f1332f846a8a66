import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCompareWithReference } from '../../activities/compare.ts';
import type { ArtifactStore } from '../../storage/artifact-store.ts';
import { createFileStore } from '../../storage/file-store.ts';
import { repositoryRoot } from '../helpers/cli.ts';

/** A gray PNG (R = G = B, so its luminance is exactly the value) with `value(x, y)` in 0–255. */
function grayPng(width: number, height: number, value: (x: number, y: number) => number, alpha = 255): Uint8Array {
  const png = new PNG({ width, height });
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const index = (y * width + x) * 4;
      png.data.fill(value(x, y), index, index + 3);
      png.data[index + 3] = alpha;
    }
  }
  return new Uint8Array(PNG.sync.write(png));
}

/** PSNR on [0, 1] luminance, computed here without scikit-image. */
function psnr(
  width: number,
  height: number,
  a: (x: number, y: number) => number,
  b: (x: number, y: number) => number,
): number {
  let sum = 0;
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) sum += ((a(x, y) - b(x, y)) / 255) ** 2;
  return 10 * Math.log10(1 / (sum / (width * height)));
}

const stripes = (x: number, y: number) => ((Math.floor(x / 4) + Math.floor(y / 6)) % 2 === 0 ? 30 : 220);

describe('compareWithReference', () => {
  let root: string;
  let store: ArtifactStore;
  let compare: ReturnType<typeof createCompareWithReference>;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'scigen-compare-test-'));
    store = createFileStore(root);
    compare = createCompareWithReference({ store, python: join(repositoryRoot, '.venv', 'bin', 'python') });
  });

  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  async function compareImages(reference: Uint8Array, image: Uint8Array) {
    const name = String(Math.random()).slice(2);
    await store.put(`references/${name}.png`, reference);
    await store.put(`images/${name}.png`, image);
    return compare({
      buildId: 'b',
      problemKey: name,
      referenceKey: `references/${name}.png`,
      imageKey: `images/${name}.png`,
    });
  }

  it('gives identical images the capped PSNR of 100 dB and SSIM 1', async () => {
    const image = grayPng(40, 30, stripes);
    expect(await compareImages(image, image)).toEqual({ ok: true, psnr: 100, ssim: 1 });
    // Transparent pixels are flattened onto white before comparing.
    expect(
      await compareImages(
        grayPng(20, 20, () => 0, 0),
        grayPng(20, 20, () => 255),
      ),
    ).toEqual({ ok: true, psnr: 100, ssim: 1 });
  });

  it('matches PSNR and SSIM worked out by hand for two flat grays', async () => {
    // Luminance 0.2 against 0.6: MSE 0.16, PSNR = 10·log10(1/0.16); every SSIM window has zero
    // variance, so SSIM = (2·0.2·0.6 + C1) / (0.2² + 0.6² + C1) with C1 = (0.01·1)².
    const expectedPsnr = 10 * Math.log10(1 / 0.16);
    const expectedSsim = (2 * 0.2 * 0.6 + 1e-4) / (0.2 ** 2 + 0.6 ** 2 + 1e-4);
    const outcome = await compareImages(
      grayPng(40, 30, () => 51),
      grayPng(40, 30, () => 153),
    );
    expect(outcome.ok).toBe(true);
    if (!outcome.ok) return;
    expect(outcome.psnr).toBeCloseTo(expectedPsnr, 6);
    expect(outcome.ssim).toBeCloseTo(expectedSsim, 6);
    // A generated image of another size is resized to the reference's first.
    const resized = await compareImages(
      grayPng(40, 30, () => 51),
      grayPng(80, 60, () => 153),
    );
    expect(resized.ok && resized.psnr).toBeCloseTo(expectedPsnr, 6);
    expect(resized.ok && resized.ssim).toBeCloseTo(expectedSsim, 6);
  });

  it('matches an independently computed PSNR for shifted and noisy copies', async () => {
    const shifted = (x: number, y: number) => stripes(x + 1, y);
    let state = 7;
    const noise = Array.from({ length: 48 * 36 }, () => {
      state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
      return Math.floor((state / 2 ** 31) * 41) - 20;
    });
    const noisy = (x: number, y: number) => Math.min(255, Math.max(0, stripes(x, y) + noise[y * 48 + x]!));
    for (const copy of [shifted, noisy]) {
      const outcome = await compareImages(grayPng(48, 36, stripes), grayPng(48, 36, copy));
      expect(outcome.ok).toBe(true);
      if (!outcome.ok) return;
      expect(outcome.psnr).toBeCloseTo(psnr(48, 36, stripes, copy), 6);
      expect(outcome.ssim).toBeGreaterThan(0);
      expect(outcome.ssim).toBeLessThan(1);
    }
  });

  it('keeps a close upscaled copy close', async () => {
    const outcome = await compareImages(
      grayPng(48, 36, stripes),
      grayPng(96, 72, (x, y) => stripes(Math.floor(x / 2), Math.floor(y / 2))),
    );
    expect(outcome.ok).toBe(true);
    if (!outcome.ok) return;
    expect(outcome.psnr).toBeGreaterThan(20);
    expect(outcome.ssim).toBeGreaterThan(0.8);
  });

  it('answers ok false with a reason for images it cannot compare', async () => {
    const garbage = await compareImages(grayPng(40, 30, stripes), new TextEncoder().encode('not a png'));
    expect(garbage).toMatchObject({ ok: false, reason: expect.stringMatching(/^cannot read the generated image: /) });
    const tiny = await compareImages(
      grayPng(5, 5, () => 0),
      grayPng(40, 30, stripes),
    );
    expect(tiny).toEqual({
      ok: false,
      reason: 'cannot read the reference image: the reference image is 5x5, smaller than the 7x7 SSIM window',
    });
    const missing = await compare({
      buildId: 'b',
      problemKey: 'x',
      referenceKey: 'references/none.png',
      imageKey: 'images/none.png',
    });
    expect(missing).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/the reference image .*none\.png does not exist/),
    });
  });
});
