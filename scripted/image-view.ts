import { PNG } from 'pngjs';
import { imageFormatOf } from './wire-checks.ts';

/** What the scripted endpoint sees of an image it was sent: its pixel size, once the PNG decodes whole. */
export interface ImageView {
  width: number;
  height: number;
}

/**
 * Decodes a PNG the way a vision model's input pipeline would, so a reply conditioned on the image
 * (`whenImage` in script.ts) is chosen from the pixels sent, not from anything the request claims.
 * Undefined for another format or bytes that do not decode.
 */
export function viewImage(bytes: Uint8Array): ImageView | undefined {
  if (imageFormatOf(bytes) !== 'png') return undefined;
  try {
    const decoded = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    return { width: decoded.width, height: decoded.height };
  } catch {
    return undefined;
  }
}
