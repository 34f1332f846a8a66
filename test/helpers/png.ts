import { PNG } from 'pngjs';

/**
 * A real PNG of the given size: a white canvas with a dark diagonal and, when `noisy`, random
 * pixels that defeat compression (for byte-limit tests). Deterministic for a given seed.
 */
export function makePng(
  width: number,
  height: number,
  options: { noisy?: boolean; alpha?: boolean; seed?: number } = {},
): Uint8Array {
  const png = new PNG({ width, height });
  let state = options.seed ?? 1;
  const random = () => {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
    return state / 2 ** 31;
  };
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const index = (y * width + x) * 4;
      const onLine = Math.abs(x / width - y / height) < 0.01;
      const value = options.noisy ? Math.floor(random() * 256) : onLine ? 20 : 255;
      png.data[index] = value;
      png.data[index + 1] = options.noisy ? Math.floor(random() * 256) : value;
      png.data[index + 2] = options.noisy ? Math.floor(random() * 256) : value;
      png.data[index + 3] = options.alpha ? (x < width / 2 ? 0 : 255) : 255;
    }
  }
  return new Uint8Array(PNG.sync.write(png));
}

/** The same image as base64, for request bodies. */
export function pngBase64(width = 4, height = 3): string {
  return Buffer.from(makePng(width, height)).toString('base64');
}
