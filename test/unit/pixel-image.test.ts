import { APIError } from 'openai';
import { GenerateContentResponse } from '@google/genai';
import { ApplicationFailure } from '@temporalio/common';
import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { checkImage } from '../../activities/draw.ts';
import { callImageModel, type ModelCallSettings } from '../../activities/model-call.ts';
import { DEFAULT_PRICES } from '../../config/schema.ts';
import { createProviderFailure, sortOpenAiError, type ProviderFailureDetails } from '../../providers/errors.ts';
import { readGeminiImageResponse } from '../../providers/gemini.ts';
import { jpegSize, storedImagePart } from '../../providers/image.ts';
import { readOpenAiImages } from '../../providers/openai.ts';
import type { ImageResponse, ModelProvider } from '../../providers/provider.ts';
import { makePng, SAMPLE_IMAGES } from '../helpers/png.ts';

function flatPng(width: number, height: number): Uint8Array {
  const png = new PNG({ width, height });
  png.data.fill(255);
  return new Uint8Array(PNG.sync.write(png));
}

/** The header of a baseline JPEG: SOI, an APP0 segment, then SOF0 with the frame size. */
function jpegHeader(width: number, height: number, withFrame = true): Uint8Array {
  const app0 = [
    0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, 0x01, 0x01, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00,
  ];
  const sof0 = [
    0xff,
    0xc0,
    0x00,
    0x11,
    0x08,
    height >> 8,
    height & 0xff,
    width >> 8,
    width & 0xff,
    0x03,
    1,
    0x22,
    0,
    2,
    0x11,
    1,
    3,
    0x11,
    1,
  ];
  return new Uint8Array([0xff, 0xd8, ...app0, ...(withFrame ? sof0 : []), 0xff, 0xd9]);
}

describe('checkImage: what a pixel generator may store', () => {
  it('accepts a drawn PNG and reports its size', () => {
    const checked = checkImage({ mimeType: 'image/png', data: makePng(300, 200) });
    expect(
      checked.ok && { mimeType: checked.value.mimeType, width: checked.value.width, height: checked.value.height },
    ).toEqual({
      mimeType: 'image/png',
      width: 300,
      height: 200,
    });
  });

  it('goes by the bytes, not the label: a JPEG labelled PNG is a JPEG', () => {
    const checked = checkImage({ mimeType: 'image/png', data: jpegHeader(800, 600) });
    expect(checked.ok && checked.value.mimeType).toBe('image/jpeg');
    expect(checked.ok && checked.value.width).toBe(800);
  });

  it.each([
    [
      'bytes that are no image',
      { mimeType: 'image/png', data: new TextEncoder().encode('<html>Service Unavailable</html>') },
      'neither PNG, JPEG nor WebP',
    ],
    [
      'a WebP header without a picture',
      {
        mimeType: 'image/webp',
        data: new Uint8Array([0x52, 0x49, 0x46, 0x46, 8, 0, 0, 0, 0x57, 0x45, 0x42, 0x50, 0x56, 0x50, 0x38, 0x20]),
      },
      'an image/webp without a readable size',
    ],
    [
      'a WebP cut short',
      { mimeType: 'image/webp', data: SAMPLE_IMAGES.webpLossy.subarray(0, 300) },
      'a WebP cut short',
    ],
    ['a JPEG cut short', { mimeType: 'image/jpeg', data: SAMPLE_IMAGES.jpeg.subarray(0, 900) }, 'a JPEG cut short'],
    ['a thumbnail', { mimeType: 'image/png', data: makePng(40, 30) }, '40x30 pixels, outside 64-8192'],
    ['a flat white canvas', { mimeType: 'image/png', data: flatPng(128, 128) }, 'one flat colour'],
    [
      'a PNG cut short',
      { mimeType: 'image/png', data: makePng(300, 200, { noisy: true }).subarray(0, 400) },
      'does not decode',
    ],
    [
      'a JPEG without a frame header',
      { mimeType: 'image/jpeg', data: jpegHeader(800, 600, false) },
      'without a readable size',
    ],
  ])('refuses %s with a reason', (_, image, words) => {
    const checked = checkImage(image);
    expect(checked.ok).toBe(false);
    expect(checked.ok ? '' : checked.reason).toContain(words);
    expect(checked.ok ? '' : checked.reason).toMatch(/^the image model's picture is unusable: /);
  });

  it.each([
    ['a lossless WebP', SAMPLE_IMAGES.webpLossless, 'image/webp'],
    ['a lossy WebP', SAMPLE_IMAGES.webpLossy, 'image/webp'],
    ['a JPEG', SAMPLE_IMAGES.jpeg, 'image/jpeg'],
  ])('accepts %s, reads its size from the header and sends it to judges with its own type', (_, data, mimeType) => {
    const checked = checkImage({ mimeType: '', data });
    expect(checked.ok && { mimeType: checked.value.mimeType, width: checked.value.width }).toEqual({
      mimeType,
      width: 96,
    });
    expect(checked.ok && checked.value.height).toBe(64);
    expect(storedImagePart(data).mimeType).toBe(mimeType);
  });

  it('names what it checked in the reason', () => {
    const checked = checkImage({ mimeType: 'image/png', data: makePng(40, 30) }, 'the image file:///run7/3.png');
    expect(checked.ok ? '' : checked.reason).toBe(
      'the image file:///run7/3.png is unusable: 40x30 pixels, outside 64-8192 per side',
    );
  });

  it('reads JPEG frame sizes and sends stored JPEGs to judges as JPEG', () => {
    expect(jpegSize(jpegHeader(1536, 1024))).toEqual({ width: 1536, height: 1024 });
    expect(storedImagePart(jpegHeader(10, 10)).mimeType).toBe('image/jpeg');
    expect(storedImagePart(makePng(10, 10)).mimeType).toBe('image/png');
  });
});

describe('reading image answers', () => {
  it('Gemini: the last picture that is not a thought, and IMAGE tokens apart from text', () => {
    const draft = Buffer.from(makePng(70, 70)).toString('base64');
    const final = Buffer.from(makePng(90, 80)).toString('base64');
    const response = Object.assign(new GenerateContentResponse(), {
      candidates: [
        {
          index: 0,
          finishReason: 'STOP',
          content: {
            role: 'model',
            parts: [
              { text: 'thinking', thought: true },
              { inlineData: { mimeType: 'image/png', data: draft }, thought: true },
              { text: 'Done.' },
              { inlineData: { mimeType: 'image/png', data: final } },
            ],
          },
        },
      ],
      usageMetadata: {
        promptTokenCount: 20,
        candidatesTokenCount: 1292,
        thoughtsTokenCount: 10,
        candidatesTokensDetails: [
          { modality: 'TEXT', tokenCount: 2 },
          { modality: 'IMAGE', tokenCount: 1290 },
        ],
      },
    }) as GenerateContentResponse;
    const answer = readGeminiImageResponse(response, 'gemini-image', { step: 'image', problemId: 'p' });
    expect(Buffer.from(answer.image!.data).toString('base64')).toBe(final);
    expect(answer.text).toBe('Done.');
    expect(answer.usage).toEqual({
      inputTokens: 20,
      outputTokens: 1302,
      cachedInputTokens: 0,
      imageOutputTokens: 1290,
    });
  });

  it('OpenAI: a URL instead of bytes (a DALL·E model) is an answer without a picture', () => {
    const answer = readOpenAiImages({ created: 0, data: [{ url: 'https://example.invalid/x.png' }] }, 'dall-e-3');
    expect(answer).toMatchObject({ image: null, finishReason: 'url-only' });
  });

  it('OpenAI: a 400 moderation_blocked is a refusal, not a bad request', () => {
    // What the openai SDK throws for that answer: the error body's `error` object, as the API sends it.
    const error = APIError.generate(
      400,
      {
        error: {
          message: 'Your request was rejected as a result of our safety system.',
          code: 'moderation_blocked',
          type: 'image_generation_user_error',
        },
      },
      undefined,
      new Headers(),
    );
    const failure = sortOpenAiError(error, { step: 'image', problemId: 'p' });
    expect(failure.type).toBe('ProviderRefused');
    expect(failure.nonRetryable).toBe(true);
  });
});

describe('callImageModel', () => {
  const unused = { classify: 'm', plan: 'm', code: 'm', repair: 'm', judge: 'm', quiz: 'm', answer: 'm' };
  const zero = { classify: 0, plan: 0, code: 0, repair: 0, judge: 0, quiz: 0, answer: 0 };
  const settings = (generateImage: ModelProvider['generateImage']): ModelCallSettings => ({
    provider: {
      name: 'gemini',
      generateImage,
      async generate() {
        throw new Error('not used');
      },
    },
    models: unused,
    temperatures: zero,
    prices: DEFAULT_PRICES,
  });

  it('prices image output tokens at the image rate and the rest at the text rates', async () => {
    const answer: ImageResponse = {
      image: { mimeType: 'image/png', data: makePng(100, 100) },
      text: 'ok',
      usage: { inputTokens: 1000, outputTokens: 1300, cachedInputTokens: 0, imageOutputTokens: 1290 },
      model: 'gemini-2.5-flash-image',
      finishReason: 'STOP',
    };
    const result = await callImageModel(
      settings(async (request) => {
        expect(request).toMatchObject({
          step: 'image',
          problemId: '7',
          model: 'gemini-2.5-flash-image',
          prompt: 'draw',
        });
        return answer;
      }),
      { problemId: 7, model: 'gemini-2.5-flash-image', prompt: 'draw' },
    );
    // 1000 x $0.30 + 10 x $2.50 + 1290 x $30, per million.
    expect(result.usage).toEqual({
      input_tokens: 1000,
      output_tokens: 1300,
      cost_usd: (300 + 25 + 38_700) / 1_000_000,
    });
  });

  it("adds the cost of a billed refusal to the failure's details", async () => {
    const refused = createProviderFailure({
      provider: 'gemini',
      type: 'ProviderRefused',
      message: 'model refused: safety (gemini IMAGE_SAFETY)',
      context: { step: 'image', problemId: 'p' },
      usage: { input_tokens: 1_000_000, output_tokens: 0, cost_usd: 0 },
    });
    const failure = await callImageModel(
      settings(async () => {
        throw refused;
      }),
      { problemId: 'p', model: 'gpt-image-1', prompt: 'draw' },
    ).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(ApplicationFailure);
    expect(((failure as ApplicationFailure).details?.[0] as ProviderFailureDetails).usage?.cost_usd).toBe(5);
  });
});
