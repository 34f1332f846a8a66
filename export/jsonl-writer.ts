import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { once } from 'node:events';
import { join } from 'node:path';
import { itemRecord, partialPath, type ExportWriter } from './item-record.ts';

/** `<out>/items.jsonl`: one object per item, images named by URI. */
export async function createJsonlWriter(outDirectory: string): Promise<ExportWriter> {
  await mkdir(outDirectory, { recursive: true });
  const target = join(outDirectory, 'items.jsonl');
  const partial = partialPath(target);
  const stream = createWriteStream(partial);
  const closed = once(stream, 'close');
  closed.catch(() => {});
  return {
    needsImageBytes: false,
    async add(item) {
      if (!stream.write(`${JSON.stringify(itemRecord(item))}\n`)) await once(stream, 'drain');
    },
    async finish() {
      stream.end();
      await closed;
      await rename(partial, target);
      return [target];
    },
    async abort() {
      stream.destroy();
      await rm(partial, { force: true });
    },
  };
}
