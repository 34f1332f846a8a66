import { createHash } from 'node:crypto';
import { drawnImageKey, imageSourceKey } from '../storage/build-layout.ts';
import type { ArtifactStore } from '../storage/artifact-store.ts';
import { readExternalImage } from '../storage/external-images.ts';
import { checkImage, IMAGE_EXTENSIONS } from './draw.ts';
import type { GeneratorRef } from './types.ts';

export interface ImportExternalImageInput extends GeneratorRef {
  /** The external generator's `images`: a folder (path or s3:// URI) or a template with `{id}`. */
  images: string;
}

/** The build's own copy of the image, or why there is none (a business outcome: the generator's `failed`). */
export type ImportExternalImageOutput = { ok: true; imageKey: string } | { ok: false; reason: string };

/**
 * The external paradigm: an image made elsewhere for the problem (any text-to-image model) is
 * found by the problem's id, checked like a pixel generator's picture (PNG, JPEG or WebP, whole,
 * of a sane size; a PNG decoded and not one flat colour) and copied into the build at
 * `<problem>/<generator>/image.<ext>`, with where it came from in `image-source.json`, so the
 * manifest points at the build's own copy. Light storage work: registered on the `workflows` queue.
 */
export function createImportExternalImage(dependencies: { store: ArtifactStore; s3PathStyle?: boolean }) {
  return async function importExternalImage(input: ImportExternalImageInput): Promise<ImportExternalImageOutput> {
    const found = await readExternalImage(input.images, input.problemId, {
      s3PathStyle: dependencies.s3PathStyle ?? false,
    });
    if (found === null) return { ok: false, reason: `no image for ${input.problemId}` };
    const checked = checkImage({ mimeType: '', data: found.data }, `the image ${found.uri}`);
    if (!checked.ok) return { ok: false, reason: checked.reason };
    const { mimeType, width, height, data } = checked.value;
    const imageKey = drawnImageKey(input, IMAGE_EXTENSIONS[mimeType]);
    await dependencies.store.put(imageKey, data, mimeType);
    const source = {
      source: found.uri,
      sha256: createHash('sha256').update(data).digest('hex'),
      bytes: data.byteLength,
      mimeType,
      width,
      height,
    };
    await dependencies.store.put(imageSourceKey(input), `${JSON.stringify(source, null, 2)}\n`, 'application/json');
    return { ok: true, imageKey };
  };
}
