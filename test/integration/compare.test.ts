import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCompareWithReference } from '../../activities/compare.ts';
import type { ArtifactStore } from '../../storage/artifact-store.ts';
import { createFileStore } from '../../storage/file-store.ts';
import { repositoryRoot } from '../helpers/cli.ts';

type Rgba = [number, number, number, number];

/** A PNG whose pixel (x, y) is `pixel(x, y)`; RGBA unless `rgb` (then the alpha is not written). */
function png(width: number, height: number, pixel: (x: number, y: number) => Rgba, rgb = false): Uint8Array {
  const image = new PNG({ width, height });
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) image.data.set(pixel(x, y), (y * width + x) * 4);
  }
  return new Uint8Array(PNG.sync.write(image, rgb ? { colorType: 2 } : {}));
}

const flat =
  (red: number, green: number, blue: number, alpha = 255) =>
  (): Rgba => [red, green, blue, alpha];

/** A coloured pattern with fine detail, so resampling one image or the other gives different numbers. */
const pattern = (x: number, y: number): Rgba => [
  (x * 37 + y * 11) % 256,
  (Math.floor(x / 3) + Math.floor(y / 2)) % 2 === 0 ? 40 : 210,
  (x * y * 7) % 256,
  255,
];

/** PSNR over the three channels of two flat colours, data range 255: worked out by hand. */
function flatPsnr(left: [number, number, number], right: [number, number, number]): number {
  const mse = left.reduce((sum, value, channel) => sum + (value - right[channel]!) ** 2, 0) / 3;
  return 10 * Math.log10(255 ** 2 / mse);
}

/**
 * SSIM of two flat colours: every window has zero variance, so each channel's SSIM is
 * (2·μx·μy + C1) / (μx² + μy² + C1) with C1 = (0.01·255)², and the result is their mean.
 */
function flatSsim(left: [number, number, number], right: [number, number, number]): number {
  const c1 = (0.01 * 255) ** 2;
  return (
    left.reduce((sum, x, channel) => sum + (2 * x * right[channel]! + c1) / (x * x + right[channel]! ** 2 + c1), 0) / 3
  );
}

/**
 * SciGenBench's pixel metrics (src/eval/t2i_metric.py), computed here on their own: each image
 * opened and converted to RGB, the reference resized to the generated size (bicubic), PSNR by the
 * formula with NumPy and by scikit-image, SSIM per channel with a 3x3 window, data range 255.
 */
const OFFICIAL_RECIPE = `
import json, sys
import numpy as np
from PIL import Image
from skimage.metrics import peak_signal_noise_ratio, structural_similarity
generated = Image.open(sys.argv[2]).convert("RGB")
reference = Image.open(sys.argv[1]).convert("RGB")
if generated.size != reference.size:
    reference = reference.resize(generated.size, Image.BICUBIC)
g = np.array(generated)
r = np.array(reference)
mse = np.mean((r.astype(np.float64) - g.astype(np.float64)) ** 2)
print(json.dumps({
    "psnr_numpy": float(10 * np.log10(255.0 ** 2 / mse)),
    "psnr": float(peak_signal_noise_ratio(r, g, data_range=255)),
    "ssim": float(structural_similarity(r, g, data_range=255, channel_axis=2, win_size=3)),
}))
`;

describe('compareWithReference', () => {
  const python = join(repositoryRoot, '.venv', 'bin', 'python');
  let root: string;
  let store: ArtifactStore;
  let compare: ReturnType<typeof createCompareWithReference>;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'scigen-compare-test-'));
    store = createFileStore(root);
    compare = createCompareWithReference({ store, python });
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

  async function officialRecipe(
    reference: Uint8Array,
    image: Uint8Array,
  ): Promise<{ psnr_numpy: number; psnr: number; ssim: number }> {
    const name = String(Math.random()).slice(2);
    const referencePath = join(root, `${name}-reference.png`);
    const imagePath = join(root, `${name}-generated.png`);
    await Promise.all([writeFile(referencePath, reference), writeFile(imagePath, image)]);
    const result = await execa(python, ['-c', OFFICIAL_RECIPE, referencePath, imagePath]);
    return JSON.parse(result.stdout) as { psnr_numpy: number; psnr: number; ssim: number };
  }

  it('gives identical images PSNR null (infinite) and SSIM 1', async () => {
    const image = png(40, 30, pattern);
    expect(await compareImages(image, image)).toEqual({ ok: true, psnr: null, ssim: 1 });
  });

  it('drops an alpha channel as PIL convert("RGB") does, without compositing', async () => {
    // A fully transparent gray stays that gray: equal to an opaque one of the same colour…
    expect(await compareImages(png(20, 20, flat(51, 51, 51, 0)), png(20, 20, flat(51, 51, 51), true))).toEqual({
      ok: true,
      psnr: null,
      ssim: 1,
    });
    // …and unlike white, which compositing onto white would have made it.
    const outcome = await compareImages(png(20, 20, flat(51, 51, 51, 0)), png(20, 20, flat(255, 255, 255)));
    expect(outcome.ok && outcome.psnr).toBeCloseTo(flatPsnr([51, 51, 51], [255, 255, 255]), 6);
  });

  it('matches PSNR and SSIM worked out by hand for two flat colours, at any sizes', async () => {
    const reference: [number, number, number] = [51, 102, 204];
    const generated: [number, number, number] = [153, 102, 0];
    for (const [referenceSize, generatedSize] of [
      [
        [40, 30],
        [40, 30],
      ],
      [
        [40, 30],
        [80, 60],
      ],
      [
        [64, 64],
        [25, 9],
      ],
    ] as const) {
      const outcome = await compareImages(
        png(referenceSize[0], referenceSize[1], flat(...reference)),
        png(generatedSize[0], generatedSize[1], flat(...generated)),
      );
      expect(outcome.ok).toBe(true);
      if (!outcome.ok) return;
      expect(outcome.psnr).toBeCloseTo(flatPsnr(reference, generated), 6);
      expect(outcome.ssim).toBeCloseTo(flatSsim(reference, generated), 6);
    }
  });

  it('matches the official recipe computed independently: RGBA, RGB, other sizes', async () => {
    const cases: [string, Uint8Array, Uint8Array][] = [
      ['same size', png(48, 36, pattern), png(48, 36, (x, y) => pattern(x + 1, y))],
      // Half transparent: the stored colours count, the alpha does not.
      [
        'RGBA with transparency',
        png(48, 36, (x, y) => {
          const [red, green, blue] = pattern(x, y);
          return [red, green, blue, x < 24 ? 0 : 128];
        }),
        png(48, 36, (x, y) => pattern(y, x), true),
      ],
      ['reference larger', png(96, 72, pattern), png(48, 36, (x, y) => pattern(2 * x, 2 * y))],
      ['reference smaller, other aspect', png(30, 20, pattern), png(71, 53, (x, y) => pattern(x >> 1, y >> 1))],
    ];
    for (const [name, reference, image] of cases) {
      const [outcome, official] = await Promise.all([
        compareImages(reference, image),
        officialRecipe(reference, image),
      ]);
      expect(outcome.ok, name).toBe(true);
      if (!outcome.ok) return;
      expect(official.psnr, name).toBeCloseTo(official.psnr_numpy, 9);
      expect(outcome.psnr, name).toBeCloseTo(official.psnr_numpy, 9);
      expect(outcome.ssim, name).toBeCloseTo(official.ssim, 9);
    }
    // The reference is resized to the generated image, not the other way round: swapping the roles
    // of two images of different sizes changes the numbers.
    const small = png(30, 20, pattern);
    const large = png(71, 53, (x, y) => pattern(x >> 1, y >> 1));
    const forward = await compareImages(small, large);
    const backward = await compareImages(large, small);
    expect(forward.ok && backward.ok && forward.psnr !== backward.psnr).toBe(true);
    expect(backward.ok && backward.psnr).toBeCloseTo((await officialRecipe(large, small)).psnr_numpy, 9);
  });

  it('answers ok false with a reason for images it cannot compare', async () => {
    const garbage = await compareImages(png(40, 30, pattern), new TextEncoder().encode('not a png'));
    expect(garbage).toMatchObject({ ok: false, reason: expect.stringMatching(/^cannot read the generated image: /) });
    const tiny = await compareImages(png(40, 30, pattern), png(2, 5, flat(0, 0, 0)));
    expect(tiny).toEqual({ ok: false, reason: 'the generated image is 2x5, smaller than the 3x3 SSIM window' });
    // A tiny reference is resized to the generated image like any other.
    expect(await compareImages(png(2, 5, flat(9, 9, 9)), png(40, 30, flat(9, 9, 9)))).toEqual({
      ok: true,
      psnr: null,
      ssim: 1,
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
