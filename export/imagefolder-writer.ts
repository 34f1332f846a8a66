import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { once } from 'node:events';
import { join } from 'node:path';
import { itemRecord, partialPath, type ExportWriter } from './item-record.ts';

/** The image's file extension from its URI; PNG, what the renderer writes, when it has none. */
function extensionOf(uri: string): string {
  return /\.([A-Za-z0-9]{1,5})$/.exec(uri)?.[1]?.toLowerCase() ?? 'png';
}

/**
 * A Hugging Face imagefolder: `<out>/train/<id>.<ext>` plus `<out>/train/metadata.jsonl`, whose
 * `file_name` names each image. `datasets` infers one schema over all rows, so `extra` (free-form
 * per problem) goes as a JSON string, and the image URI as `image_uri` (`image` is the loaded column).
 */
export async function createImagefolderWriter(outDirectory: string): Promise<ExportWriter> {
  const target = join(outDirectory, 'train');
  const partial = partialPath(target);
  await rm(partial, { recursive: true, force: true });
  await mkdir(partial, { recursive: true });
  const metadata = createWriteStream(join(partial, 'metadata.jsonl'));
  const closed = once(metadata, 'close');
  closed.catch(() => {});
  return {
    needsImageBytes: true,
    async add(item, image) {
      if (image === null) throw new Error(`no image bytes for ${item.id}`);
      const fileName = `${item.id}.${extensionOf(item.image)}`;
      await writeFile(join(partial, fileName), image);
      const { image: imageUri, extra, ...fields } = itemRecord(item);
      const line = { file_name: fileName, ...fields, image_uri: imageUri, extra: JSON.stringify(extra) };
      if (!metadata.write(`${JSON.stringify(line)}\n`)) await once(metadata, 'drain');
    },
    async finish() {
      metadata.end();
      await closed;
      await rm(target, { recursive: true, force: true });
      await rename(partial, target);
      return [target];
    },
    async abort() {
      metadata.destroy();
      await rm(partial, { recursive: true, force: true });
    },
  };
}
