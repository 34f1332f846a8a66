import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createImportExternalImage } from '../../activities/import-image.ts';
import { createFileStore } from '../../storage/file-store.ts';
import { externalImageCandidates } from '../../storage/external-images.ts';
import { makePng, SAMPLE_IMAGES } from '../helpers/png.ts';
import { useTemporaryDirectory } from '../helpers/temporary-directory.ts';

describe('where an external generator looks for a problem’s image', () => {
  it('a folder: <id>.png, .jpg, .jpeg, .webp, in that order', () => {
    expect(externalImageCandidates('/data/flux-run/', 17)).toEqual([
      '/data/flux-run/17.png',
      '/data/flux-run/17.jpg',
      '/data/flux-run/17.jpeg',
      '/data/flux-run/17.webp',
    ]);
    expect(externalImageCandidates('s3://bucket/runs/flux', 'phys-1')[3]).toBe('s3://bucket/runs/flux/phys-1.webp');
  });

  it('a template: used as written, every {id} replaced', () => {
    expect(externalImageCandidates('s3://bucket/run7/{id}.png', 3)).toEqual(['s3://bucket/run7/3.png']);
    expect(externalImageCandidates('/data/{id}/final-{id}.jpg', 'a')).toEqual(['/data/a/final-a.jpg']);
  });
});

describe('importExternalImage', () => {
  const directory = useTemporaryDirectory('external-images');

  async function setUp() {
    const folder = join(directory.path, 'flux-run');
    await mkdir(folder, { recursive: true });
    await writeFile(join(folder, '1.png'), makePng(200, 120));
    await writeFile(join(folder, '2.jpg'), SAMPLE_IMAGES.jpeg);
    await writeFile(join(folder, '3.webp'), SAMPLE_IMAGES.webpLossy);
    await writeFile(join(folder, '4.png'), '<html>502 Bad Gateway</html>');
    const store = createFileStore(join(directory.path, 'artifacts'));
    const importExternalImage = createImportExternalImage({ store });
    const run = (problemId: string | number, images = folder) =>
      importExternalImage({ buildId: 'b', problemKey: String(problemId), problemId, generator: 'flux', images });
    return { folder, store, run };
  }

  it('copies each format into the build under its own extension and records where it came from', async () => {
    const { folder, store, run } = await setUp();
    expect(await run(1)).toEqual({ ok: true, imageKey: 'builds/b/problems/1/flux/image.png' });
    expect(await run(2)).toEqual({ ok: true, imageKey: 'builds/b/problems/2/flux/image.jpg' });
    expect(await run(3)).toEqual({ ok: true, imageKey: 'builds/b/problems/3/flux/image.webp' });
    expect(await store.get('builds/b/problems/3/flux/image.webp')).toEqual(SAMPLE_IMAGES.webpLossy);
    const source = JSON.parse(await store.getText('builds/b/problems/2/flux/image-source.json')) as unknown;
    expect(source).toEqual({
      source: pathToFileURL(join(folder, '2.jpg')).href,
      sha256: createHash('sha256').update(SAMPLE_IMAGES.jpeg).digest('hex'),
      bytes: SAMPLE_IMAGES.jpeg.byteLength,
      mimeType: 'image/jpeg',
      width: 96,
      height: 64,
    });
  });

  it('no file for the id is "no image for <id>"; bytes that are no image say which file and why', async () => {
    const { folder, store, run } = await setUp();
    expect(await run(5)).toEqual({ ok: false, reason: 'no image for 5' });
    expect(await run(4)).toEqual({
      ok: false,
      reason: `the image ${pathToFileURL(join(folder, '4.png')).href} is unusable: 28 bytes labelled without a type that are neither PNG, JPEG nor WebP`,
    });
    expect(await store.exists('builds/b/problems/4/flux/image.png')).toBe(false);
  });

  it('a template names the one file to take', async () => {
    const { folder, run } = await setUp();
    expect(await run(2, join(folder, '{id}.webp'))).toEqual({ ok: false, reason: 'no image for 2' });
    expect(await run(3, join(folder, '{id}.webp'))).toMatchObject({ ok: true });
  });
});
