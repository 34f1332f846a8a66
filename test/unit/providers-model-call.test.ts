import { ApplicationFailure } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import {
  callImageModel,
  callModel,
  parseAnswer,
  type ModelAnswer,
  type ModelCallSettings,
} from '../../activities/model-call.ts';
import { DEFAULT_PRICES } from '../../config/schema.ts';
import { ANSWER_SCHEMAS, parseClassification, parsePlan } from '../../domain/parse-model-output.ts';
import { createProviderFailure, type ProviderFailureDetails } from '../../providers/errors.ts';
import { pngSize } from '../../providers/image.ts';
import type { ModelProvider, ModelRequest, ModelResponse } from '../../providers/provider.ts';
import { withRateLimitCooldown } from '../../providers/rate-limit-cooldown.ts';
import { makePng } from '../helpers/png.ts';

const STEPS = {
  classify: 'small',
  plan: 'big',
  code: 'big',
  repair: 'big',
  judge: 'small',
  quiz: 'small',
  answer: 'small',
};
const ZERO = { classify: 0, plan: 0, code: 0, repair: 0, judge: 0, quiz: 0, answer: 0 };

/** For text-only fakes: the image call is not what these tests exercise. */
const NO_IMAGES: Pick<ModelProvider, 'generateImage'> = {
  async generateImage() {
    throw new Error('this fake provider draws no images');
  },
};

function fakeProvider(
  answer: (request: ModelRequest) => Partial<ModelResponse>,
): ModelProvider & { requests: ModelRequest[] } {
  const requests: ModelRequest[] = [];
  return {
    name: 'openai',
    ...NO_IMAGES,
    requests,
    async generate(request) {
      requests.push(request);
      return {
        text: 'ok',
        usage: { inputTokens: 1000, outputTokens: 100, cachedInputTokens: 0 },
        model: request.model,
        finishReason: 'stop',
        truncated: false,
        ...answer(request),
      };
    },
  };
}

function settings(provider: ModelProvider, extra: Partial<ModelCallSettings> = {}): ModelCallSettings {
  return {
    provider,
    models: STEPS,
    temperatures: { ...ZERO, plan: 0.4 },
    prices: { big: { input: 2, output: 8, cachedInput: 0.5 }, small: { input: 0.4, output: 1.6 } },
    ...extra,
  };
}

describe('callModel', () => {
  it("uses the step's model and temperature and prices tokens per million", async () => {
    const provider = fakeProvider(() => ({}));
    const answer = await callModel(settings(provider), {
      step: 'plan',
      problemId: 7,
      parts: [{ type: 'text', text: 'x' }],
    });
    expect(provider.requests[0]).toMatchObject({ step: 'plan', problemId: '7', model: 'big', temperature: 0.4 });
    expect(answer.usage).toEqual({ input_tokens: 1000, output_tokens: 100, cost_usd: (1000 * 2 + 100 * 8) / 1e6 });
  });

  it('prices cached input tokens at the cached rate', async () => {
    const provider = fakeProvider(() => ({ usage: { inputTokens: 1000, outputTokens: 100, cachedInputTokens: 800 } }));
    const answer = await callModel(settings(provider), {
      step: 'code',
      problemId: 'p',
      parts: [{ type: 'text', text: 'x' }],
    });
    expect(answer.usage.cost_usd).toBeCloseTo((200 * 2 + 800 * 0.5 + 100 * 8) / 1e6, 15);
  });

  it('counts an unpriced model as $0 rather than failing the call', async () => {
    const provider = fakeProvider(() => ({}));
    const answer = await callModel(settings(provider, { prices: {} }), {
      step: 'plan',
      problemId: 'p',
      parts: [{ type: 'text', text: 'x' }],
    });
    expect(answer.usage).toEqual({ input_tokens: 1000, output_tokens: 100, cost_usd: 0 });
  });

  it('sends the answer schema only when structured output is on', async () => {
    const provider = fakeProvider(() => ({}));
    const call = {
      step: 'classify' as const,
      problemId: 'p',
      parts: [{ type: 'text' as const, text: 'x' }],
      responseSchema: { name: 'c', schema: ANSWER_SCHEMAS.classify },
    };
    await callModel(settings(provider), call);
    await callModel(settings(provider, { structuredOutput: true }), call);
    expect(provider.requests.map((request) => request.responseSchema?.name)).toEqual([undefined, 'c']);
  });

  it('shrinks images to the model limits before sending', async () => {
    const provider = fakeProvider(() => ({}));
    await callModel(settings(provider), {
      step: 'judge',
      problemId: 'p',
      parts: [{ type: 'image', mimeType: 'image/png', data: makePng(2000, 1000) }],
    });
    const sent = provider.requests[0]!.parts[0]!;
    expect(sent.type === 'image' && pngSize(sent.data)).toEqual({ width: 1024, height: 512 });
  });

  it("adds the cost of a billed refusal to the failure's details", async () => {
    const provider: ModelProvider = {
      name: 'openai',
      ...NO_IMAGES,
      async generate() {
        throw createProviderFailure({
          provider: 'openai',
          type: 'ProviderRefused',
          message: 'model refused: safety (openai)',
          context: { step: 'plan', problemId: 'p' },
          usage: { input_tokens: 1000, output_tokens: 0, cost_usd: 0 },
        });
      },
    };
    const failure = await callModel(settings(provider), {
      step: 'plan',
      problemId: 'p',
      parts: [{ type: 'text', text: 'x' }],
    }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(ApplicationFailure);
    expect(((failure as ApplicationFailure).details?.[0] as ProviderFailureDetails).usage).toEqual({
      input_tokens: 1000,
      output_tokens: 0,
      cost_usd: 0.002,
    });
  });
});

describe('parseAnswer', () => {
  const answer = (fields: Partial<ModelAnswer>): ModelAnswer => ({
    text: '',
    usage: { input_tokens: 0, output_tokens: 0, cost_usd: 0 },
    finishReason: 'stop',
    truncated: false,
    ...fields,
  });

  it('names an empty answer and why, as a parse failure of the step', () => {
    expect(parseAnswer('plan', answer({ finishReason: null }), parsePlan)).toEqual({
      ok: false,
      reason: 'plan answer is empty (no answer candidates)',
    });
    expect(parseAnswer('classify', answer({ text: '  ', finishReason: 'MAX_TOKENS' }), parseClassification)).toEqual({
      ok: false,
      reason: 'classify answer is empty (finish reason MAX_TOKENS)',
    });
  });

  it('adds that the answer was cut off when a truncated answer does not parse', () => {
    expect(
      parseAnswer('plan', answer({ text: '{"content": ["a"', truncated: true, finishReason: 'length' }), parsePlan),
    ).toEqual({
      ok: false,
      reason: "plan answer has no JSON object (the answer was cut off at the model's output limit)",
    });
  });

  it('accepts a truncated answer that still parses', () => {
    const text = '{"content": ["a"], "layout": [], "labels": [], "constraints": []}';
    expect(parseAnswer('plan', answer({ text, truncated: true }), parsePlan).ok).toBe(true);
  });
});

describe('withRateLimitCooldown', () => {
  const rateLimited = (retryAfterMs?: number) =>
    createProviderFailure({
      provider: 'gemini',
      type: 'ProviderRateLimited',
      message: 'rate limited by gemini (429)',
      context: { step: 'plan', problemId: 'p' },
      ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
    });
  const request = (model = 'm'): ModelRequest => ({
    step: 'plan',
    problemId: 'p',
    model,
    parts: [{ type: 'text', text: 'x' }],
  });

  it('after a 429, holds later calls for that model until Retry-After has passed, then spaces them', async () => {
    const sentAt: number[] = [];
    const sentModels: string[] = [];
    let first = true;
    const provider = withRateLimitCooldown(
      {
        name: 'gemini',
        ...NO_IMAGES,
        async generate(request) {
          sentModels.push(request.model);
          if (request.model !== 'other-model') sentAt.push(Date.now());
          if (first) {
            first = false;
            throw rateLimited(300);
          }
          return {
            text: 'ok',
            usage: { inputTokens: 0, outputTokens: 0, cachedInputTokens: 0 },
            model: request.model,
            finishReason: 'STOP',
            truncated: false,
          };
        },
      },
      { releaseSpacingMs: 100 },
    );
    const failure = await provider.generate(request()).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(ApplicationFailure);
    const started = Date.now();
    const held = Promise.all([
      provider.generate(request()),
      provider.generate(request()),
      provider.generate(request()),
    ]);
    // Another model is not held back: its call goes out while the held ones still wait.
    await provider.generate(request('other-model'));
    await held;
    expect(sentModels.indexOf('other-model')).toBe(1);
    const waits = sentAt.slice(1).map((time) => time - started);
    expect(waits[0]).toBeGreaterThanOrEqual(250);
    expect(waits[1]! - waits[0]!).toBeGreaterThanOrEqual(90);
    expect(waits[2]! - waits[1]!).toBeGreaterThanOrEqual(90);
  });

  it('hands a call back to Temporal instead of waiting longer than maxWaitMs', async () => {
    let calls = 0;
    const provider = withRateLimitCooldown(
      {
        name: 'gemini',
        ...NO_IMAGES,
        async generate() {
          calls += 1;
          throw rateLimited(60_000);
        },
      },
      { maxWaitMs: 1000 },
    );
    await provider.generate(request()).catch(() => undefined);
    const failure = (await provider.generate(request()).catch((error: unknown) => error)) as ApplicationFailure;
    expect(calls).toBe(1);
    expect(failure.type).toBe('ProviderRateLimited');
    expect(failure.nonRetryable).toBe(false);
    expect(failure.nextRetryDelay).toBeGreaterThan(58_000);
  });

  it('ends a wait at once when the activity is cancelled', async () => {
    const provider = withRateLimitCooldown({
      name: 'gemini',
      ...NO_IMAGES,
      async generate() {
        throw rateLimited(10_000);
      },
    });
    await provider.generate(request()).catch(() => undefined);
    const controller = new AbortController();
    const reason = new Error('cancelled');
    const waiting = provider.generate({ ...request(), signal: controller.signal });
    controller.abort(reason);
    await expect(waiting).rejects.toBe(reason);
  });
});

describe('default prices', () => {
  it('price every default model of both providers', async () => {
    const { configSchema } = await import('../../config/schema.ts');
    const config = configSchema.parse({});
    for (const model of [...Object.values(config.openai.models), ...Object.values(config.gemini.models)]) {
      expect(DEFAULT_PRICES[model], model).toBeDefined();
    }
    // A config entry is merged over the defaults, not instead of them.
    const overridden = configSchema.parse({ prices: { 'my-model': { input: 1, output: 1 } } });
    expect(overridden.prices['my-model']).toEqual({ input: 1, output: 1 });
    expect(overridden.prices['gpt-4.1']).toEqual(DEFAULT_PRICES['gpt-4.1']);
  });
});

describe('callImageModel: a pixel generator on its own server', () => {
  /** A provider that draws, telling which one it is through the model it reports. */
  function drawingProvider(label: string): ModelProvider {
    return {
      name: 'openai',
      async generate() {
        throw new Error('draws only');
      },
      async generateImage(request) {
        return {
          image: { mimeType: 'image/png', data: makePng(80, 80) },
          text: '',
          usage: { inputTokens: 10, outputTokens: 0, cachedInputTokens: 0 },
          model: `${label}:${request.model}`,
          finishReason: null,
        };
      },
    };
  }

  it("asks the generator's server when it names one, the build's provider otherwise", async () => {
    const asked: string[] = [];
    const model = settings(drawingProvider('build'), {
      imageProviderFor: (baseUrl) => {
        asked.push(baseUrl);
        return drawingProvider(baseUrl);
      },
    });
    const own = await callImageModel(model, {
      problemId: 1,
      model: 'sd',
      prompt: 'draw',
      baseUrl: 'http://127.0.0.1:7860/v1',
    });
    expect(own.model).toBe('http://127.0.0.1:7860/v1:sd');
    expect(asked).toEqual(['http://127.0.0.1:7860/v1']);
    expect((await callImageModel(model, { problemId: 1, model: 'gpt-image-1', prompt: 'draw' })).model).toBe(
      'build:gpt-image-1',
    );
  });

  it('a worker without a client for such servers fails the step for good, naming the URL', async () => {
    const call = callImageModel(settings(drawingProvider('build')), {
      problemId: 1,
      model: 'sd',
      prompt: 'draw',
      baseUrl: 'http://127.0.0.1:7860/v1',
    });
    await expect(call).rejects.toMatchObject({
      nonRetryable: true,
      message: 'this llm worker has no client for the image server http://127.0.0.1:7860/v1',
    });
  });
});
