import { readFile } from 'node:fs/promises';
import { PNG } from 'pngjs';
import type { ScriptedImage } from './script.ts';

/**
 * A stand-in "diagram" for image requests: on white, a thin grey frame, a black right triangle
 * and a blue disc, so a picture served by the scripted endpoint is plainly drawn (not blank) and
 * plainly fake. Deterministic for a given size.
 */
function drawPlaceholderDiagram(width: number, height: number): Uint8Array {
  const png = new PNG({ width, height });
  const paint = (x: number, y: number, [red, green, blue]: [number, number, number]) => {
    const index = (y * width + x) * 4;
    png.data[index] = red;
    png.data[index + 1] = green;
    png.data[index + 2] = blue;
    png.data[index + 3] = 255;
  };
  const unit = Math.max(1, Math.round(Math.min(width, height) / 200));
  const left = Math.round(width * 0.2);
  const right = Math.round(width * 0.6);
  const top = Math.round(height * 0.25);
  const bottom = Math.round(height * 0.75);
  const discX = width * 0.75;
  const discY = height * 0.35;
  const radius = Math.min(width, height) * 0.08;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const frame = x < unit || y < unit || x >= width - unit || y >= height - unit;
      const base = y >= bottom - unit && y < bottom + unit && x >= left && x <= right;
      const upright = x >= right - unit && x < right + unit && y >= top && y <= bottom;
      // The hypotenuse from (left, bottom) to (right, top), `unit` thick.
      const along =
        ((x - left) * (top - bottom) - (y - bottom) * (right - left)) / Math.hypot(right - left, top - bottom);
      const hypotenuse = Math.abs(along) < unit && x >= left && x <= right;
      const disc = (x - discX) ** 2 + (y - discY) ** 2 <= radius ** 2;
      if (frame) paint(x, y, [160, 160, 160]);
      else if (base || upright || hypotenuse) paint(x, y, [0, 0, 0]);
      else if (disc) paint(x, y, [40, 90, 200]);
      else paint(x, y, [255, 255, 255]);
    }
  }
  return new Uint8Array(PNG.sync.write(png, { colorType: 2 }));
}

/** The picture a scripted image reply serves: its file, or the placeholder at its size or the size asked for. */
export async function scriptedImageBytes(
  image: ScriptedImage,
  requested: { width: number; height: number },
): Promise<{ data: Uint8Array; mimeType: string }> {
  if (image.file) {
    const data = new Uint8Array(await readFile(image.file));
    const isJpeg = data[0] === 0xff && data[1] === 0xd8;
    return { data, mimeType: isJpeg ? 'image/jpeg' : 'image/png' };
  }
  const width = image.width ?? requested.width;
  const height = image.height ?? requested.height;
  const key = `${width}x${height}`;
  let data = placeholders.get(key);
  if (!data) {
    data = drawPlaceholderDiagram(width, height);
    placeholders.set(key, data);
  }
  return { data, mimeType: 'image/png' };
}

const placeholders = new Map<string, Uint8Array>();
