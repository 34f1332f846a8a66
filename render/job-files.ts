import { constants as fileConstants } from 'node:fs';
import type { Stats } from 'node:fs';
import { lstat, open } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { crc32 } from 'node:zlib';
import type { RenderErrorKind } from './renderer.ts';

export type Failure = { ok: false; kind: RenderErrorKind; message: string };

export type JobFile = { ok: true; bytes: Buffer; stats: Stats } | (Failure & { missing: boolean });

export interface VerifiedPng {
  ok: true;
  bytes: Uint8Array;
  width: number;
  height: number;
}

export interface PngLimits {
  maxBytes: number;
  maxSide: number;
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
/** Signature (8) + IHDR length (4) + type (4) + width (4) + height (4). */
const PNG_HEADER_BYTES = 24;

export function failure(kind: RenderErrorKind, message: string): Failure {
  return { ok: false, kind, message };
}

/**
 * Reads a file the script could have planted: it must be a regular file directly in the job
 * directory, not a symlink, FIFO or hard link to something elsewhere, and no larger than `maxBytes`.
 * `readHeader` sees the first bytes before the rest is read, so a bad header costs nothing more.
 */
export async function readJobFile(
  jobDirectory: string,
  fileName: string,
  maxBytes: number,
  readHeader?: (header: Buffer) => Failure | undefined,
): Promise<JobFile> {
  const path = join(jobDirectory, fileName);
  if (dirname(path) !== jobDirectory) {
    return { ...failure('invalid-output', `${fileName} is outside the job directory`), missing: false };
  }
  let linkStats: Stats;
  try {
    linkStats = await lstat(path);
  } catch {
    return { ...failure('invalid-output', `${fileName} is missing`), missing: true };
  }
  if (!linkStats.isFile()) {
    return { ...failure('invalid-output', `${fileName} is not a regular file`), missing: false };
  }

  let handle;
  try {
    // O_NOFOLLOW and the inode comparison below close the gap between lstat and open; O_NONBLOCK
    // keeps a FIFO swapped in meanwhile from blocking the open.
    handle = await open(path, fileConstants.O_RDONLY | fileConstants.O_NOFOLLOW | fileConstants.O_NONBLOCK);
  } catch (error) {
    return { ...failure('invalid-output', `${fileName} cannot be opened safely: ${String(error)}`), missing: false };
  }
  try {
    const stats = await handle.stat();
    if (!stats.isFile() || stats.ino !== linkStats.ino || stats.dev !== linkStats.dev || stats.nlink !== 1) {
      return { ...failure('invalid-output', `${fileName} changed or is linked elsewhere`), missing: false };
    }
    if (stats.size > maxBytes) {
      return {
        ...failure('limit', `${fileName} is ${stats.size} bytes, over the ${maxBytes} byte limit`),
        missing: false,
      };
    }
    if (readHeader !== undefined) {
      const header = Buffer.alloc(Math.min(PNG_HEADER_BYTES, stats.size));
      await handle.read(header, 0, header.length, 0);
      const problem = readHeader(header);
      if (problem !== undefined) return { ...problem, missing: false };
    }
    const bytes = Buffer.alloc(stats.size);
    let offset = 0;
    while (offset < bytes.length) {
      const { bytesRead } = await handle.read(bytes, offset, bytes.length - offset, offset);
      if (bytesRead === 0) break;
      offset += bytesRead;
    }
    if (offset !== bytes.length) {
      return { ...failure('invalid-output', `${fileName} shrank while being read`), missing: false };
    }
    return { ok: true, bytes, stats };
  } finally {
    await handle.close();
  }
}

function checkPngHeader(fileName: string, header: Buffer, maxSide: number): Failure | undefined {
  if (header.length < PNG_HEADER_BYTES || !header.subarray(0, 8).equals(PNG_SIGNATURE)) {
    return failure('invalid-output', `${fileName} does not start with the PNG signature`);
  }
  if (header.readUInt32BE(8) !== 13 || header.toString('latin1', 12, 16) !== 'IHDR') {
    return failure('invalid-output', `${fileName} does not start with an IHDR chunk`);
  }
  const width = header.readUInt32BE(16);
  const height = header.readUInt32BE(20);
  if (width === 0 || height === 0) return failure('invalid-output', `${fileName} is ${width}x${height} pixels`);
  if (width > maxSide || height > maxSide) {
    return failure('limit', `${fileName} is ${width}x${height} pixels, over ${maxSide}x${maxSide}`);
  }
  return undefined;
}

/**
 * The header is checked before the rest is read; then every chunk's CRC and the IEND terminator.
 * Deliberately no decode: inflating costs ~100 ms of event loop per megapixel, and the script could
 * forge a well-formed PNG anyway — what the walk catches is a truncated or corrupted file.
 */
export async function readVerifiedPng(
  jobDirectory: string,
  fileName: string,
  limits: PngLimits,
): Promise<VerifiedPng | Failure> {
  const file = await readJobFile(jobDirectory, fileName, limits.maxBytes, (header) =>
    checkPngHeader(fileName, header, limits.maxSide),
  );
  if (!file.ok) return failure(file.kind, file.message);
  const problem = findChunkProblem(file.bytes);
  if (problem !== undefined) return failure('invalid-output', `${fileName} ${problem}`);
  return { ok: true, bytes: file.bytes, width: file.bytes.readUInt32BE(16), height: file.bytes.readUInt32BE(20) };
}

/** Walks the chunk list after the signature; returns what is wrong, or undefined. */
function findChunkProblem(bytes: Buffer): string | undefined {
  let offset = PNG_SIGNATURE.length;
  let sawImageData = false;
  while (offset + 12 <= bytes.length) {
    const length = bytes.readUInt32BE(offset);
    const end = offset + 12 + length;
    if (end > bytes.length) return 'is truncated';
    const type = bytes.toString('latin1', offset + 4, offset + 8);
    const storedCrc = bytes.readUInt32BE(end - 4);
    if (crc32(bytes.subarray(offset + 4, end - 4)) !== storedCrc) return `has a bad CRC in its ${type} chunk`;
    if (type === 'IDAT') sawImageData = true;
    if (type === 'IEND') {
      if (!sawImageData) return 'has no image data';
      return end === bytes.length ? undefined : 'has bytes after IEND';
    }
    offset = end;
  }
  return 'ends without an IEND chunk';
}
