import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createDrawDiagramImage, type DrawDiagramImageInput } from '../../activities/draw.ts';
import type { ModelCallSettings } from '../../activities/model-call.ts';
import { loadPrompts } from '../../activities/prompts.ts';
import { DEFAULT_IMAGE_MODELS, DEFAULT_PRICES } from '../../config/schema.ts';
import type { ProviderFailureDetails } from '../../providers/errors.ts';
import { createGeminiProvider } from '../../providers/gemini.ts';
import { createOpenAiProvider } from '../../providers/openai.ts';
import type { ImageRequest, ModelProvider } from '../../providers/provider.ts';
import { withRateLimitCooldown } from '../../providers/rate-limit-cooldown.ts';
import { startScriptedEndpoint, type ScriptedEndpoint } from '../../scripted/server.ts';
import type { Script } from '../../scripted/script.ts';
import type { ArtifactStore } from '../../storage/artifact-store.ts';
import { stagedProblemKey } from '../../storage/build-layout.ts';
import { createFileStore } from '../../storage/file-store.ts';
import { loadSampleScript } from '../helpers/samples.ts';

// The pixel paradigm below the workflow: each provider's real SDK draws through the scripted
// endpoint, which checks the request the way the real image API does and answers as it does.

const KEY = 'sk-test-pixel-PLANTED';
const GEMINI_TEXT = 'Here is the incline.';

const script: Script = {
  problems: {
    drawn: { image: { image: { width: 320, height: 200 }, text: GEMINI_TEXT } },
    'words-only': { image: 'I would rather describe it: a block on a slope.' },
    '*': { image: { image: {} } },
  },
};

let endpoint: ScriptedEndpoint;
let directory: string;
let store: ArtifactStore;

beforeAll(async () => {
  endpoint = await startScriptedEndpoint({ script, recordBodies: true });
  directory = await mkdtemp(join(tmpdir(), 'scigen-pixel-'));
  store = createFileStore(directory);
});

afterAll(async () => {
  await endpoint.close();
  await rm(directory, { recursive: true, force: true });
});

beforeEach(() => endpoint.setScript(script));

interface ProviderCase {
  name: 'openai' | 'gemini';
  model: string;
  create(timeoutMs?: number): ModelProvider;
  /** Output tokens the endpoint bills for one picture of the default (square) request. */
  imageTokens: number;
}

const providerCases: ProviderCase[] = [
  {
    name: 'openai',
    model: DEFAULT_IMAGE_MODELS.openai,
    create: (timeoutMs = 10_000) => createOpenAiProvider({ apiKey: KEY, baseURL: endpoint.openAiBaseUrl, timeoutMs }),
    // gpt-image-1 at 1024x1024, quality auto (billed as medium).
    imageTokens: 1056,
  },
  {
    name: 'gemini',
    model: DEFAULT_IMAGE_MODELS.gemini,
    create: (timeoutMs = 10_000) => createGeminiProvider({ apiKey: KEY, baseUrl: endpoint.geminiBaseUrl, timeoutMs }),
    imageTokens: 1290,
  },
];

const PROMPT = 'A block of mass 5 kg rests on a 30 degree incline.';

function imageRequest(model: string, overrides: Partial<ImageRequest> = {}): ImageRequest {
  return { step: 'image', problemId: 'drawn', model, prompt: PROMPT, ...overrides };
}

function settings(provider: ModelProvider): ModelCallSettings {
  const unused = { classify: 'm', plan: 'm', code: 'm', repair: 'm', judge: 'm', quiz: 'm', answer: 'm' };
  const zero = { classify: 0, plan: 0, code: 0, repair: 0, judge: 0, quiz: 0, answer: 0 };
  return { provider, models: unused, temperatures: zero, prices: DEFAULT_PRICES };
}

/** The draw step reads the problem from where the problem workflow stages it. */
async function drawInput(problemId: string, model: string, generator: string): Promise<DrawDiagramImageInput> {
  const problem = { buildId: 'pixel-test', problemKey: problemId };
  await store.put(
    stagedProblemKey(problem),
    JSON.stringify({ id: problemId, question: PROMPT, answer: 'it slides', extra: {} }),
  );
  return {
    ...problem,
    problemId,
    subject: 'Physics',
    imageType: 'Mechanics',
    generator,
    model,
  };
}

async function failureOf(promise: Promise<unknown>): Promise<ApplicationFailure> {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(ApplicationFailure);
  return error as ApplicationFailure;
}

describe.each(providerCases)('$name image generation through the real SDK', ({ name, model, create, imageTokens }) => {
  it('returns the scripted PNG with usage split into image and text tokens, sending a valid request with the scigen headers', async () => {
    const response = await create().generateImage(imageRequest(model));
    expect(response.image?.mimeType).toBe('image/png');
    const decoded = PNG.sync.read(Buffer.from(response.image!.data));
    expect([decoded.width, decoded.height]).toEqual([320, 200]);
    const textTokens = name === 'gemini' ? Math.ceil(GEMINI_TEXT.length / 4) : 0;
    expect(response.usage).toEqual({
      inputTokens: Math.ceil(PROMPT.length / 4),
      outputTokens: imageTokens + textTokens,
      cachedInputTokens: 0,
      imageOutputTokens: imageTokens,
    });
    expect(response.text).toBe(name === 'gemini' ? GEMINI_TEXT : '');
    expect(response.finishReason).toBe(name === 'gemini' ? 'STOP' : 'stop');

    const entry = endpoint.requests.at(-1)!;
    expect(entry).toMatchObject({ protocol: name, step: 'image', problem: 'drawn', model, status: 200 });
    expect(entry.headers).toMatchObject({ 'x-scigen-step': 'image', 'x-scigen-problem': 'drawn' });
    if (name === 'openai') {
      expect(entry.body).toEqual({ model, prompt: PROMPT, n: 1, size: '1024x1024', output_format: 'png' });
    } else {
      expect(entry.body).toMatchObject({
        contents: [{ role: 'user', parts: [{ text: PROMPT }] }],
        generationConfig: { responseModalities: ['TEXT', 'IMAGE'], imageConfig: { aspectRatio: '1:1' } },
      });
    }
  });

  it('maps each aspect to a size the API accepts, and the placeholder follows it', async () => {
    for (const aspect of ['landscape', 'portrait'] as const) {
      const response = await create().generateImage(imageRequest(model, { problemId: 'any', aspect }));
      const decoded = PNG.sync.read(Buffer.from(response.image!.data));
      expect(decoded.width > decoded.height).toBe(aspect === 'landscape');
      expect(endpoint.requests.at(-1)!.status).toBe(200);
    }
  });

  it('drawDiagramImage stores the PNG and the request record, priced with the image output rate', async () => {
    const drawDiagramImage = createDrawDiagramImage({ model: settings(create()), prompts: loadPrompts(), store });
    const outcome = await drawDiagramImage(await drawInput('drawn', model, `${name}-pixel`));
    expect(outcome.ok).toBe(true);
    const imageKey = outcome.ok ? outcome.value.imageKey : '';
    expect(imageKey).toBe(`builds/pixel-test/problems/drawn/${name}-pixel/image.png`);
    const stored = await store.get(imageKey);
    expect(PNG.sync.read(Buffer.from(stored)).width).toBe(320);

    const sentPrompt = endpoint.requests.at(-1)!.body as Record<string, unknown>;
    const promptText = name === 'openai' ? String(sentPrompt['prompt']) : JSON.stringify(sentPrompt['contents']);
    expect(promptText).toContain('30 degree incline');
    expect(promptText).toContain('Mechanics');
    // The problem's answer never reaches the image model.
    expect(promptText).not.toContain('it slides');

    const inputTokens = Math.ceil(
      loadPrompts().render('image.user', { question: PROMPT, subject: 'Physics', image_type: 'Mechanics' }).length / 4,
    );
    const textTokens = name === 'gemini' ? Math.ceil(GEMINI_TEXT.length / 4) : 0;
    const price = DEFAULT_PRICES[model]!;
    const cost = (inputTokens * price.input + textTokens * price.output + imageTokens * price.imageOutput!) / 1_000_000;
    expect(outcome.usage.input_tokens).toBe(inputTokens);
    expect(outcome.usage.output_tokens).toBe(imageTokens + textTokens);
    expect(outcome.usage.cost_usd).toBeCloseTo(cost, 12);

    const record = JSON.parse(
      await store.getText(`builds/pixel-test/problems/drawn/${name}-pixel/image-request.json`),
    ) as Record<string, unknown>;
    expect(record).toMatchObject({
      model,
      answer: { text: name === 'gemini' ? GEMINI_TEXT : '', image: { mimeType: 'image/png' } },
      checks: { mimeType: 'image/png', width: 320, height: 200 },
      usage: outcome.usage,
    });
    expect(String(record['prompt'])).toContain(PROMPT);
  });

  it('an answer in words only is an unusable outcome with the reason, paid for, nothing stored as an image', async () => {
    const drawDiagramImage = createDrawDiagramImage({ model: settings(create()), prompts: loadPrompts(), store });
    const outcome = await drawDiagramImage(await drawInput('words-only', model, `${name}-words`));
    expect(outcome.ok).toBe(false);
    const reason = outcome.ok ? '' : outcome.reason;
    if (name === 'gemini') {
      expect(reason).toBe(
        'the image model sent no image (finish reason NO_IMAGE): "I would rather describe it: a block on a slope."',
      );
    } else {
      expect(reason).toBe('the image model sent no image (no answer candidates)');
    }
    expect(outcome.usage.input_tokens).toBeGreaterThan(0);
    expect(await store.exists(`builds/pixel-test/problems/words-only/${name}-words/image.png`)).toBe(false);
    expect(await store.exists(`builds/pixel-test/problems/words-only/${name}-words/image-request.json`)).toBe(true);
  });

  it('an empty answer comes back without an image, not as a crash', async () => {
    endpoint.addFaults({ problem: `${name}-empty`, step: 'image' }, { kind: 'empty' });
    const response = await create().generateImage(imageRequest(model, { problemId: `${name}-empty` }));
    expect(response.image).toBeNull();
  });

  it.each([
    { fault: { status: 429, retryAfterSeconds: 4 }, type: 'ProviderRateLimited', retryable: true },
    { fault: { status: 500 }, type: 'ProviderUnavailable', retryable: true },
    { fault: { status: 503 }, type: 'ProviderUnavailable', retryable: true },
    { fault: { kind: 'reset' as const }, type: 'ProviderConnectionError', retryable: true },
    { fault: { status: 401 }, type: 'ProviderAuthError', retryable: false },
    { fault: { kind: 'safety' as const }, type: 'ProviderRefused', retryable: false },
    { fault: { kind: 'refusal' as const }, type: 'ProviderRefused', retryable: false },
  ])('sorts $fault into $type, in one request', async ({ fault, type, retryable }) => {
    const problemId = `${name}-fault-${JSON.stringify(fault)}`;
    endpoint.addFaults({ problem: problemId, step: 'image' }, fault);
    const failure = await failureOf(create().generateImage(imageRequest(model, { problemId })));
    expect(failure.type).toBe(type);
    expect(failure.nonRetryable).toBe(!retryable);
    expect((failure.details?.[0] as ProviderFailureDetails).step).toBe('image');
    if ('status' in fault && fault.status === 429) expect(failure.nextRetryDelay).toBe(4000);
    expect(endpoint.count({ problem: problemId })).toBe(1);
    expect(JSON.stringify({ message: failure.message, details: failure.details })).not.toContain('PLANTED');
  });

  it('names the blocked picture in the refusal', async () => {
    const problemId = `${name}-safety-words`;
    endpoint.addFaults({ problem: problemId, step: 'image' }, { kind: 'safety' });
    const failure = await failureOf(create().generateImage(imageRequest(model, { problemId })));
    expect(failure.message).toBe(
      name === 'openai'
        ? 'model refused: safety (openai moderation_blocked)'
        : 'model refused: safety (gemini IMAGE_SAFETY)',
    );
  });

  it('sorts a hang into a retryable ProviderTimeout and a cut body into a retryable failure', async () => {
    endpoint.addFaults({ problem: `${name}-hang`, step: 'image' }, { kind: 'hang' });
    const timeout = await failureOf(create(300).generateImage(imageRequest(model, { problemId: `${name}-hang` })));
    expect(timeout.type).toBe('ProviderTimeout');
    endpoint.addFaults({ problem: `${name}-cut`, step: 'image' }, { kind: 'cut-body' });
    const cut = await failureOf(create().generateImage(imageRequest(model, { problemId: `${name}-cut` })));
    expect(cut.nonRetryable).toBe(false);
  });

  it('passes cancellation through as the abort reason, also behind the 429 cooldown', async () => {
    const problemId = `${name}-cancelled`;
    endpoint.addFaults({ problem: problemId, step: 'image' }, { kind: 'hang' });
    const controller = new AbortController();
    const reason = new Error('activity cancelled');
    const answer = withRateLimitCooldown(create()).generateImage(
      imageRequest(model, { problemId, signal: controller.signal }),
    );
    await expect.poll(() => endpoint.count({ problem: problemId })).toBe(1);
    controller.abort(reason);
    await expect(answer).rejects.toBe(reason);
  });
});

describe('the scripted endpoint refuses image requests the real APIs refuse', () => {
  async function post(
    path: string,
    body: unknown,
    headers: Record<string, string> = {},
  ): Promise<{ status: number; error: Record<string, unknown> }> {
    const response = await fetch(`${endpoint.url}${path}`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-scigen-step': 'image',
        'x-scigen-problem': 'drawn',
        ...headers,
      },
      body: JSON.stringify(body),
    });
    const json = (await response.json()) as { error: Record<string, unknown> };
    return { status: response.status, error: json.error };
  }
  const openAiImages = (body: unknown) => post('/v1/images/generations', body, { authorization: `Bearer ${KEY}` });
  const geminiGenerate = (model: string, body: unknown) =>
    post(`/v1beta/models/${model}:generateContent`, body, { 'x-goog-api-key': KEY });
  const valid = { model: 'gpt-image-1', prompt: 'a triangle', n: 1, size: '1024x1024', output_format: 'png' };

  it('accepts the request the provider sends, and the documented alternatives', async () => {
    expect((await openAiImages(valid)).status).toBe(200);
    expect(
      (
        await openAiImages({
          ...valid,
          size: 'auto',
          quality: 'high',
          output_format: 'webp',
          background: 'opaque',
          moderation: 'low',
        })
      ).status,
    ).toBe(200);
  });

  it.each([
    [{ prompt: 'a triangle' }, 'model'],
    [{ model: 'gpt-image-1' }, 'prompt'],
    [{ ...valid, prompt: '  ' }, 'prompt'],
    [{ ...valid, response_format: 'b64_json' }, 'response_format'],
    [{ ...valid, style: 'vivid' }, 'style'],
    [{ ...valid, size: '512x512' }, 'size'],
    [{ ...valid, quality: 'hd' }, 'quality'],
    [{ ...valid, output_format: 'gif' }, 'output_format'],
    [{ ...valid, n: 11 }, 'n'],
    [{ ...valid, n: 0 }, 'n'],
    [{ ...valid, output_format: 'jpeg', background: 'transparent' }, 'background'],
  ])('OpenAI images: 400 for %j, naming %s', async (body, param) => {
    const { status, error } = await openAiImages(body);
    expect(status).toBe(400);
    expect(error['param']).toBe(param);
  });

  it('OpenAI images: 400 for an unknown field', async () => {
    const { status, error } = await openAiImages({ ...valid, seed: 3 });
    expect(status).toBe(400);
    expect(error['message']).toBe('Unrecognized request argument supplied: seed');
  });

  const contents = [{ role: 'user', parts: [{ text: 'a triangle' }] }];
  it.each([
    [
      'gemini-2.5-flash',
      { responseModalities: ['TEXT', 'IMAGE'] },
      'does not support the requested response modalities',
    ],
    ['gemini-2.5-flash-image', { responseModalities: ['TEXT', 'PICTURE'] }, 'response_modalities'],
    ['gemini-2.5-flash-image', { responseModalities: ['IMAGE'], imageConfig: { aspectRatio: '7:5' } }, 'aspect ratio'],
    [
      'gemini-2.5-flash-image',
      { responseModalities: ['IMAGE'], imageConfig: { outputMimeType: 'image/png' } },
      'Unknown name "outputMimeType"',
    ],
  ])('Gemini: 400 for %s with %j', async (model, generationConfig, words) => {
    const { status, error } = await geminiGenerate(model, { contents, generationConfig });
    expect(status).toBe(400);
    expect(String(error['message'])).toContain(words);
  });
});

describe('the demo script', () => {
  it('draws a picture for any sample problem through both protocols', async () => {
    const demo = await startScriptedEndpoint({ script: await loadSampleScript() });
    try {
      for (const provider of [
        createOpenAiProvider({ apiKey: 'demo', baseURL: demo.openAiBaseUrl, timeoutMs: 10_000 }),
        createGeminiProvider({ apiKey: 'demo', baseUrl: demo.geminiBaseUrl, timeoutMs: 10_000 }),
      ]) {
        const model = DEFAULT_IMAGE_MODELS[provider.name];
        const response = await provider.generateImage({
          step: 'image',
          problemId: 'phys-incline-block',
          model,
          prompt: PROMPT,
        });
        expect(response.image?.mimeType).toBe('image/png');
        expect(PNG.sync.read(Buffer.from(response.image!.data)).width).toBe(1024);
      }
    } finally {
      await demo.close();
    }
  });
});
