import { readFile } from 'node:fs/promises';
import { pathToFileURL } from 'node:url';
import { ArtifactNotFoundError, type ArtifactStore } from './artifact-store.ts';
import { createS3Store } from './s3-store.ts';

/** The file names an external generator's folder is searched for, in this order: `<id>.png`, then the others. */
export const EXTERNAL_IMAGE_EXTENSIONS = ['png', 'jpg', 'jpeg', 'webp'] as const;

/** Where an external generator's image for one problem was found, and its bytes. */
export interface ExternalImage {
  /** `file:///…` or `s3://bucket/key`, for the record. */
  uri: string;
  data: Uint8Array;
}

/**
 * The places an external generator's image for `id` may be, in the order they are tried. `images`
 * is an absolute folder path or `s3://bucket/prefix` (searched for `<id>.png|jpg|jpeg|webp`), or a
 * template holding `{id}`, used as written with every `{id}` replaced by the problem's id.
 */
export function externalImageCandidates(images: string, id: string | number): string[] {
  const name = String(id);
  if (images.includes('{id}')) return [images.replaceAll('{id}', name)];
  const folder = images.replace(/\/+$/, '');
  return EXTERNAL_IMAGE_EXTENSIONS.map((extension) => `${folder}/${name}.${extension}`);
}

/**
 * Reads an external generator's image for one problem: the first candidate that exists (local
 * files, or S3 objects through the AWS SDK's default credentials), or null when none does.
 */
export async function readExternalImage(
  images: string,
  id: string | number,
  options: { s3PathStyle?: boolean } = {},
): Promise<ExternalImage | null> {
  const buckets = new Map<string, ArtifactStore>();
  for (const candidate of externalImageCandidates(images, id)) {
    const object = /^s3:\/\/([^/]+)\/(.+)$/i.exec(candidate);
    if (object) {
      const bucket = object[1]!;
      let store = buckets.get(bucket);
      if (!store) {
        store = createS3Store(`s3://${bucket}`, { pathStyle: options.s3PathStyle ?? false });
        buckets.set(bucket, store);
      }
      try {
        return { uri: candidate, data: await store.get(object[2]!) };
      } catch (error) {
        if (error instanceof ArtifactNotFoundError) continue;
        throw error;
      }
    }
    try {
      return { uri: pathToFileURL(candidate).href, data: new Uint8Array(await readFile(candidate)) };
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') continue;
      throw error;
    }
  }
  return null;
}
