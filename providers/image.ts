import { PNG } from 'pngjs';
import type { ModelPart } from './provider.ts';

type ImagePart = Extract<ModelPart, { type: 'image' }>;

export interface ImageLimits {
  /** The longest side sent to a model, in pixels. @default 1024 (as the benchmark sends figures) */
  maxSide: number;
  /** The largest encoded image sent, in bytes. @default 2 MiB */
  maxBytes: number;
}

export const DEFAULT_IMAGE_LIMITS: ImageLimits = { maxSide: 1024, maxBytes: 2 * 1024 * 1024 };

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
/** Each round that is still too large shrinks a little more than the size ratio asks, to converge fast. */
const SHRINK_MARGIN = 0.9;
const MAX_SHRINK_ROUNDS = 8;

/**
 * Makes an image fit what is sent to a model: the long side at most `maxSide` pixels and the PNG
 * at most `maxBytes`. An image already within both is returned untouched (no re-encoding);
 * otherwise it is downscaled by area averaging and re-encoded. Only PNG is resized (scigen's
 * renders are PNG); another format within the byte limit passes through, beyond it is refused.
 */
export function fitImage(image: ImagePart, limits: ImageLimits = DEFAULT_IMAGE_LIMITS): ImagePart {
  if (!isPng(image.data)) {
    if (image.data.byteLength <= limits.maxBytes) return image;
    throw new Error(
      `a ${image.mimeType} image of ${image.data.byteLength} bytes is over the ${limits.maxBytes}-byte limit and only PNG can be shrunk`,
    );
  }
  const { width, height } = pngSize(image.data);
  if (Math.max(width, height) <= limits.maxSide && image.data.byteLength <= limits.maxBytes) return image;

  const decoded = PNG.sync.read(Buffer.from(image.data.buffer, image.data.byteOffset, image.data.byteLength));
  let scale = Math.min(1, limits.maxSide / Math.max(width, height));
  for (let round = 0; round < MAX_SHRINK_ROUNDS; round++) {
    const targetWidth = Math.max(1, Math.round(width * scale));
    const targetHeight = Math.max(1, Math.round(height * scale));
    const pixels =
      scale === 1 ? new Uint8Array(decoded.data) : resizeRgba(decoded.data, width, height, targetWidth, targetHeight);
    const encoded = encodePng(pixels, targetWidth, targetHeight);
    if (encoded.byteLength <= limits.maxBytes) return { type: 'image', mimeType: 'image/png', data: encoded };
    scale *= Math.sqrt(limits.maxBytes / encoded.byteLength) * SHRINK_MARGIN;
  }
  throw new Error(`could not shrink a ${width}x${height} PNG under ${limits.maxBytes} bytes`);
}

function isPng(data: Uint8Array): boolean {
  return data.byteLength >= 24 && PNG_SIGNATURE.every((byte, index) => data[index] === byte);
}

function isJpeg(data: Uint8Array): boolean {
  return data.byteLength >= 4 && data[0] === 0xff && data[1] === 0xd8 && data[2] === 0xff;
}

function isWebp(data: Uint8Array): boolean {
  return data.byteLength >= 16 && ascii(data, 0, 4) === 'RIFF' && ascii(data, 8, 12) === 'WEBP';
}

function ascii(data: Uint8Array, from: number, to: number): string {
  return String.fromCharCode(...data.subarray(from, to));
}

/**
 * What the bytes are (by their signature, whatever they were labelled): the formats scigen sends to
 * models, which both APIs take inline.
 */
export function imageMimeTypeOf(data: Uint8Array): ImagePart['mimeType'] | undefined {
  if (isPng(data)) return 'image/png';
  if (isJpeg(data)) return 'image/jpeg';
  if (isWebp(data)) return 'image/webp';
  return undefined;
}

/**
 * A stored image as a model part, its mime type read from the bytes: pixel and external generators
 * may store a JPEG or WebP where renders are always PNG. Unknown bytes go as PNG, which the API
 * then refuses by name.
 */
export function storedImagePart(data: Uint8Array): ImagePart {
  return { type: 'image', mimeType: imageMimeTypeOf(data) ?? 'image/png', data };
}

/** Width and height from a WebP's first chunk (lossy VP8, lossless VP8L, or the extended VP8X canvas); undefined when it holds none. */
export function webpSize(data: Uint8Array): { width: number; height: number } | undefined {
  if (!isWebp(data) || data.byteLength < 30) return undefined;
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const chunk = ascii(data, 12, 16);
  if (chunk === 'VP8 ') {
    // A key frame's start code, then 14-bit width and height.
    if (data[23] !== 0x9d || data[24] !== 0x01 || data[25] !== 0x2a) return undefined;
    return { width: view.getUint16(26, true) & 0x3fff, height: view.getUint16(28, true) & 0x3fff };
  }
  if (chunk === 'VP8L') {
    if (data[20] !== 0x2f) return undefined;
    const bits = view.getUint32(21, true);
    return { width: (bits & 0x3fff) + 1, height: ((bits >>> 14) & 0x3fff) + 1 };
  }
  if (chunk === 'VP8X') {
    const width = (data[24]! | (data[25]! << 8) | (data[26]! << 16)) + 1;
    const height = (data[27]! | (data[28]! << 8) | (data[29]! << 16)) + 1;
    return { width, height };
  }
  return undefined;
}

/** A WebP's RIFF header gives its length: fewer bytes than that were cut short. */
export function webpIsComplete(data: Uint8Array): boolean {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  return data.byteLength >= 8 && view.getUint32(4, true) + 8 <= data.byteLength;
}

/** A JPEG ends with its end-of-image marker (trailing zero padding aside); one without it was cut short. */
export function jpegIsComplete(data: Uint8Array): boolean {
  let end = data.byteLength;
  while (end > 2 && data[end - 1] === 0) end -= 1;
  return data[end - 2] === 0xff && data[end - 1] === 0xd9;
}

/** Width and height from a JPEG's first start-of-frame segment; undefined when there is none. */
export function jpegSize(data: Uint8Array): { width: number; height: number } | undefined {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  let offset = 2;
  while (offset + 9 <= data.byteLength) {
    if (data[offset] !== 0xff) return undefined;
    const marker = data[offset + 1]!;
    // Fill bytes and markers without a length (RSTn, TEM) carry no segment.
    if (marker === 0xff) {
      offset += 1;
      continue;
    }
    if ((marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) {
      offset += 2;
      continue;
    }
    // SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC) hold the frame size.
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      return { height: view.getUint16(offset + 5), width: view.getUint16(offset + 7) };
    }
    if (marker === 0xd9 || marker === 0xda) return undefined;
    offset += 2 + view.getUint16(offset + 2);
  }
  return undefined;
}

/** Width and height from the IHDR chunk, which the PNG format puts first. */
export function pngSize(data: Uint8Array): { width: number; height: number } {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  return { width: view.getUint32(16), height: view.getUint32(20) };
}

function encodePng(rgba: Uint8Array, width: number, height: number): Uint8Array {
  const png = new PNG({ width, height });
  png.data = Buffer.from(rgba.buffer, rgba.byteOffset, rgba.byteLength);
  let opaque = true;
  for (let index = 3; index < rgba.length && opaque; index += 4) opaque = rgba[index] === 255;
  // A figure without transparency is stored as RGB: a quarter smaller before compression.
  return new Uint8Array(PNG.sync.write(png, { colorType: opaque ? 2 : 6, deflateLevel: 6 }));
}

/**
 * Downscales RGBA pixels by area averaging: every output pixel is the coverage-weighted mean of
 * the source pixels under it, so thin lines fade rather than vanish. Colours are averaged with
 * premultiplied alpha, so transparent pixels do not darken the edges of what they surround.
 */
export function resizeRgba(
  source: Uint8Array,
  width: number,
  height: number,
  targetWidth: number,
  targetHeight: number,
): Uint8Array {
  const horizontal = coverage(width, targetWidth);
  const vertical = coverage(height, targetHeight);

  // Pass 1: rows to targetWidth, premultiplied, in floats.
  const rows = new Float32Array(targetWidth * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < targetWidth; x++) {
      const { start, weights } = horizontal[x]!;
      let red = 0;
      let green = 0;
      let blue = 0;
      let alpha = 0;
      for (let offset = 0; offset < weights.length; offset++) {
        const index = (y * width + start + offset) * 4;
        const weight = weights[offset]!;
        const pixelAlpha = source[index + 3]! * weight;
        red += source[index]! * pixelAlpha;
        green += source[index + 1]! * pixelAlpha;
        blue += source[index + 2]! * pixelAlpha;
        alpha += pixelAlpha;
      }
      const target = (y * targetWidth + x) * 4;
      rows[target] = red;
      rows[target + 1] = green;
      rows[target + 2] = blue;
      rows[target + 3] = alpha;
    }
  }

  // Pass 2: columns to targetHeight, then back from premultiplied to straight alpha.
  const output = new Uint8Array(targetWidth * targetHeight * 4);
  for (let y = 0; y < targetHeight; y++) {
    const { start, weights } = vertical[y]!;
    for (let x = 0; x < targetWidth; x++) {
      let red = 0;
      let green = 0;
      let blue = 0;
      let alpha = 0;
      for (let offset = 0; offset < weights.length; offset++) {
        const index = ((start + offset) * targetWidth + x) * 4;
        const weight = weights[offset]!;
        red += rows[index]! * weight;
        green += rows[index + 1]! * weight;
        blue += rows[index + 2]! * weight;
        alpha += rows[index + 3]! * weight;
      }
      const target = (y * targetWidth + x) * 4;
      output[target + 3] = Math.round(alpha);
      if (alpha > 0) {
        output[target] = Math.round(red / alpha);
        output[target + 1] = Math.round(green / alpha);
        output[target + 2] = Math.round(blue / alpha);
      }
    }
  }
  return output;
}

/** For each target index, the source indices it covers and the share of each (the shares sum to 1). */
function coverage(sourceLength: number, targetLength: number): { start: number; weights: number[] }[] {
  const step = sourceLength / targetLength;
  const spans: { start: number; weights: number[] }[] = [];
  for (let target = 0; target < targetLength; target++) {
    const from = target * step;
    const to = Math.min(sourceLength, from + step);
    const start = Math.floor(from);
    const weights: number[] = [];
    for (let index = start; index < to; index++) {
      const overlap = Math.min(index + 1, to) - Math.max(index, from);
      if (overlap > 0) weights.push(overlap / step);
    }
    spans.push({ start, weights });
  }
  return spans;
}
