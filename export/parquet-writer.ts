import { once } from 'node:events';
import { mkdir, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { partialPath, type ExportWriter } from './item-record.ts';
import type { ExportItem } from './items.ts';

const writerScript = fileURLToPath(new URL('./write-parquet.py', import.meta.url));

/** The placeholder verl's multimodal datasets expect where the image goes in the prompt. */
export const IMAGE_PLACEHOLDER = '<image>';

/** verl's data_source names the dataset (and picks a reward function); ours is one name for all builds. */
export const DATA_SOURCE = 'scigen';

/** One Parquet row, without the image bytes (write-parquet.py adds them to `image` and `images`). */
export function parquetRow(item: ExportItem) {
  const problemId = String(item.problemId);
  return {
    id: item.id,
    problem_id: problemId,
    generator: item.generator,
    question: item.question,
    answer: item.answer,
    data_source: DATA_SOURCE,
    prompt: [{ role: 'user', content: `${IMAGE_PLACEHOLDER}${item.question ?? ''}` }],
    images: [{ path: item.image }],
    ability: item.subject?.toLowerCase() ?? 'science',
    // A rule-based reward compares the model's answer with the problem's; no answer, no ground truth.
    reward_model: { style: 'rule', ground_truth: item.answer ?? '' },
    extra_info: {
      id: item.id,
      problem_id: problemId,
      generator: item.generator,
      verdict: item.verdict,
      subject: item.subject,
      image_type: item.imageType,
      image_uri: item.image,
      r_inv: item.rInv,
      judge: item.judge,
      psnr: item.reference?.psnr ?? null,
      ssim: item.reference?.ssim ?? null,
    },
  };
}

export interface ParquetWriterOptions {
  /** Python with pyarrow (the project venv). */
  python: string;
  /** @default 256 */
  rowsPerGroup?: number;
}

/**
 * `<out>/train.parquet`, written by pyarrow in a child process that receives items as JSON lines
 * and writes a row group every `rowsPerGroup` rows, so neither side holds the dataset.
 */
export async function createParquetWriter(outDirectory: string, options: ParquetWriterOptions): Promise<ExportWriter> {
  await mkdir(outDirectory, { recursive: true });
  const target = join(outDirectory, 'train.parquet');
  const partial = partialPath(target);
  const writer = execa(options.python, [writerScript, partial, String(options.rowsPerGroup ?? 256)], {
    extendEnv: false,
    env: { PATH: '/usr/local/bin:/usr/bin:/bin', HOME: tmpdir() },
    stdin: 'pipe',
    reject: false,
    maxBuffer: 1024 * 1024,
  });
  const stdin = writer.stdin!;
  // A writer that died shows up as a failed write here and as its stderr in finish().
  let broken: Error | undefined;
  stdin.on('error', (error) => {
    broken = error;
  });

  async function failure(): Promise<Error> {
    const result = await writer;
    const detail = String(result.stderr).trim().split('\n').slice(-5).join('\n');
    return new Error(
      `writing ${target} with ${options.python} failed (exit ${result.exitCode ?? result.signal}): ${detail || result.shortMessage}`,
    );
  }

  return {
    needsImageBytes: true,
    async add(item, image) {
      if (image === null) throw new Error(`no image bytes for ${item.id}`);
      if (broken !== undefined) throw await failure();
      const line = `${JSON.stringify({ row: parquetRow(item), image_base64: Buffer.from(image).toString('base64') })}\n`;
      if (!stdin.write(line)) await Promise.race([once(stdin, 'drain'), writer]);
    },
    async finish() {
      stdin.end();
      const result = await writer;
      if (result.exitCode !== 0) throw await failure();
      await rename(partial, target);
      return [target];
    },
    async abort() {
      writer.kill('SIGKILL');
      await writer;
      await rm(partial, { force: true });
    },
  };
}
