import { PNG } from 'pngjs';
import { imageMimeTypeOf, jpegIsComplete, jpegSize, pngSize, webpIsComplete, webpSize } from '../providers/image.ts';
import type { GeneratedImage } from '../providers/provider.ts';
import { callImageModel, type ImageAnswer } from './model-call.ts';
import { drawnImageKey, imageRequestKey } from '../storage/build-layout.ts';
import { readStagedProblem, type GeneratorRef, type StepOutcome, type ModelStepDependencies } from './types.ts';

export interface DrawDiagramImageInput extends GeneratorRef {
  /** From the classify step; named in the prompt. */
  subject: string;
  imageType: string;
  /** The image model, e.g. `gpt-image-1` or `gemini-2.5-flash-image`. */
  model: string;
  /** The generator's own OpenAI-images-compatible server; absent: the build's provider. */
  baseUrl?: string;
}

type ImageMimeType = 'image/png' | 'image/jpeg' | 'image/webp';
/** What is kept of a picture: the formats every judge and answer model takes, as sent. */
export const IMAGE_EXTENSIONS: Record<ImageMimeType, string> = {
  'image/png': 'png',
  'image/jpeg': 'jpg',
  'image/webp': 'webp',
};
/** Bounds of a usable picture; the image APIs answer 1024-2048 px, so anything far outside is broken. */
export const IMAGE_CHECKS = { minSidePixels: 64, maxSidePixels: 8192, maxBytes: 20 * 1024 * 1024 } as const;

export interface CheckedImage {
  mimeType: ImageMimeType;
  width: number;
  height: number;
  data: Uint8Array;
}

/**
 * Draws the problem's diagram with an image model (the pixel paradigm) and stores it at
 * `<problem>/<generator>/image.png` (`image.jpg` / `image.webp` when the model sent a JPEG or WebP), with the prompt, the
 * model's words and the checks in `image-request.json`. A picture that is missing, not PNG/JPEG/WebP,
 * corrupt, absurdly sized or one flat colour is an unusable answer ({ ok: false }), not a fault.
 */
export function createDrawDiagramImage(dependencies: ModelStepDependencies) {
  return async function drawDiagramImage(input: DrawDiagramImageInput): Promise<StepOutcome<{ imageKey: string }>> {
    const problem = await readStagedProblem(dependencies.store, input);
    const prompt = dependencies.prompts.render('image.user', {
      question: problem.question,
      subject: input.subject,
      image_type: input.imageType,
    });
    const answer = await callImageModel(dependencies.model, {
      problemId: input.problemId,
      model: input.model,
      prompt,
      ...(input.baseUrl === undefined ? {} : { baseUrl: input.baseUrl }),
    });
    const checked = answer.image ? checkImage(answer.image) : { ok: false as const, reason: noImageReason(answer) };
    await dependencies.store.put(
      imageRequestKey(input),
      JSON.stringify(
        {
          model: input.model,
          ...(input.baseUrl === undefined ? {} : { server: input.baseUrl }),
          prompt,
          answer: {
            model: answer.model,
            finishReason: answer.finishReason,
            text: answer.text,
            image: answer.image ? { mimeType: answer.image.mimeType, bytes: answer.image.data.byteLength } : null,
          },
          checks: checked.ok
            ? { mimeType: checked.value.mimeType, width: checked.value.width, height: checked.value.height }
            : { problem: checked.reason },
          usage: answer.usage,
        },
        null,
        2,
      ),
      'application/json',
    );
    if (!checked.ok) return { ok: false, reason: checked.reason, usage: answer.usage };
    const imageKey = drawnImageKey(input, IMAGE_EXTENSIONS[checked.value.mimeType]);
    await dependencies.store.put(imageKey, checked.value.data, checked.value.mimeType);
    return { ok: true, value: { imageKey }, usage: answer.usage };
  };
}

function noImageReason(answer: ImageAnswer): string {
  const why = answer.finishReason === null ? 'no answer candidates' : `finish reason ${answer.finishReason}`;
  const words = answer.text.trim().replace(/\s+/g, ' ');
  return `the image model sent no image (${why})${words ? `: "${words.length > 200 ? `${words.slice(0, 199)}…` : words}"` : ''}`;
}

/**
 * Signature, size and dimensions from the header, then a full decode of a PNG (corrupt or blank
 * pictures are refused) and, for JPEG and WebP, which scigen does not decode, a check that the
 * bytes are whole (the end marker, the RIFF size). `subject` starts the reason.
 */
export function checkImage(
  image: GeneratedImage,
  subject = "the image model's picture",
): { ok: true; value: CheckedImage } | { ok: false; reason: string } {
  const { data } = image;
  const fail = (reason: string) => ({ ok: false as const, reason: `${subject} is unusable: ${reason}` });
  const mimeType = imageMimeTypeOf(data);
  if (!mimeType)
    return fail(
      `${data.byteLength} bytes labelled ${image.mimeType || 'without a type'} that are neither PNG, JPEG nor WebP`,
    );
  if (data.byteLength > IMAGE_CHECKS.maxBytes)
    return fail(`${data.byteLength} bytes, over the ${IMAGE_CHECKS.maxBytes}-byte limit`);
  if (mimeType === 'image/webp' && !webpIsComplete(data))
    return fail('a WebP cut short (shorter than its RIFF header says)');
  const size =
    mimeType === 'image/png' ? pngHeaderSize(data) : mimeType === 'image/jpeg' ? jpegSize(data) : webpSize(data);
  if (!size) return fail(`an ${mimeType} without a readable size in its header`);
  const { width, height } = size;
  if (Math.min(width, height) < IMAGE_CHECKS.minSidePixels || Math.max(width, height) > IMAGE_CHECKS.maxSidePixels) {
    return fail(
      `${width}x${height} pixels, outside ${IMAGE_CHECKS.minSidePixels}-${IMAGE_CHECKS.maxSidePixels} per side`,
    );
  }
  if (mimeType === 'image/jpeg' && !jpegIsComplete(data)) return fail('a JPEG cut short (no end-of-image marker)');
  if (mimeType === 'image/png') {
    let pixels: Buffer;
    try {
      pixels = PNG.sync.read(Buffer.from(data.buffer, data.byteOffset, data.byteLength)).data;
    } catch (error) {
      return fail(`the PNG does not decode (${error instanceof Error ? error.message : String(error)})`);
    }
    if (isOneColour(pixels)) return fail(`a ${width}x${height} PNG of one flat colour`);
  }
  return { ok: true, value: { mimeType, width, height, data } };
}

function pngHeaderSize(data: Uint8Array): { width: number; height: number } | undefined {
  // The IHDR chunk comes first: length 13, then its type.
  const type = String.fromCharCode(...data.subarray(12, 16));
  return type === 'IHDR' ? pngSize(data) : undefined;
}

function isOneColour(rgba: Uint8Array): boolean {
  const view = new DataView(rgba.buffer, rgba.byteOffset, rgba.byteLength);
  const first = view.getUint32(0);
  for (let offset = 4; offset + 4 <= rgba.byteLength; offset += 4) {
    if (view.getUint32(offset) !== first) return false;
  }
  return true;
}
