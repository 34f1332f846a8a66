import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApiError as GeminiApiError, GenerateContentResponse } from '@google/genai';
import { ApplicationFailure } from '@temporalio/common';
import { APIConnectionError, APIConnectionTimeoutError, APIError, BadRequestError } from 'openai';
import type { ChatCompletion } from 'openai/resources/chat/completions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readEnvironment } from '../../config/environment.ts';
import { loadConfig } from '../../config/load.ts';
import { createProvider } from '../../providers/create-provider.ts';
import {
  NON_RETRYABLE_PROVIDER_ERROR_TYPES,
  RETRYABLE_PROVIDER_ERROR_TYPES,
  retryDelayFromHeaders,
  sortGeminiError,
  sortOpenAiError,
} from '../../providers/errors.ts';
import type { ProviderErrorContext, ProviderFailureDetails } from '../../providers/errors.ts';
import { createGeminiProvider, readGeminiResponse } from '../../providers/gemini.ts';
import { createOpenAiProvider, readOpenAiCompletion } from '../../providers/openai.ts';
import type { ModelProvider, ModelRequest } from '../../providers/provider.ts';
import { startScriptedEndpoint } from '../../scripted/server.ts';
import type { ScriptedEndpoint } from '../../scripted/server.ts';
import type { Script, ScriptedFault } from '../../scripted/script.ts';
import { makePng } from '../helpers/png.ts';

const PLANTED_KEY = 'sk-test-PLANTED-SECRET';
/** A real PNG: the endpoint checks that image bytes are the type they claim, as both APIs do. */
const IMAGE_BYTES = makePng(4, 3);

const script: Script = {
  problems: {
    shape: {
      plan: 'PLAN-ANSWER',
      judge: [{ when: 'pendulum', text: 'JUDGE-PENDULUM' }, { text: 'JUDGE-OTHER' }],
    },
    '*': { quiz: 'QUIZ-SHARED' },
  },
};

let endpoint: ScriptedEndpoint;

beforeAll(async () => {
  endpoint = await startScriptedEndpoint({ script, port: 0, recordBodies: true });
});

afterAll(async () => {
  await endpoint.close();
});

interface ProviderCase {
  name: 'openai' | 'gemini';
  create(options?: { timeoutMs?: number; baseUrl?: string }): ModelProvider;
}

const providerCases: ProviderCase[] = [
  {
    name: 'openai',
    create: (options = {}) =>
      createOpenAiProvider({
        apiKey: PLANTED_KEY,
        baseURL: options.baseUrl ?? endpoint.openAiBaseUrl,
        timeoutMs: options.timeoutMs ?? 10_000,
      }),
  },
  {
    name: 'gemini',
    create: (options = {}) =>
      createGeminiProvider({
        apiKey: PLANTED_KEY,
        baseUrl: options.baseUrl ?? endpoint.geminiBaseUrl,
        timeoutMs: options.timeoutMs ?? 10_000,
      }),
  },
];

function request(overrides: Partial<ModelRequest> & Pick<ModelRequest, 'problemId'>): ModelRequest {
  return { step: 'plan', model: 'model-test', parts: [{ type: 'text', text: 'Draw the setup.' }], ...overrides };
}

async function failureOf(promise: Promise<unknown>): Promise<ApplicationFailure> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(ApplicationFailure);
    return error as ApplicationFailure;
  }
  throw new Error('expected the call to fail');
}

function detailsOf(failure: ApplicationFailure): ProviderFailureDetails {
  return failure.details?.[0] as ProviderFailureDetails;
}

function expectNoSecret(failure: ApplicationFailure): void {
  const visible = JSON.stringify({
    message: failure.message,
    type: failure.type,
    details: failure.details,
    stack: failure.stack,
    cause: String(failure.cause),
  });
  expect(visible).not.toContain('PLANTED-SECRET');
}

describe.each(providerCases)('$name provider against the scripted endpoint', ({ name, create }) => {
  const problem = (label: string): string => `${name}-${label}`;

  /** A plan request for a problem of its own whose answer is `fault`, and the failure it ends in. */
  async function planFailure(
    label: string,
    fault: ScriptedFault,
    options?: Parameters<ProviderCase['create']>[0],
  ): Promise<{ problemId: string; failure: ApplicationFailure }> {
    const problemId = problem(label);
    endpoint.addFaults({ problem: problemId, step: 'plan' }, fault);
    return { problemId, failure: await failureOf(create(options).generate(request({ problemId }))) };
  }

  it('sends system and user text plus an image part, with the scigen headers, and maps usage', async () => {
    const provider = create();
    expect(provider.name).toBe(name);
    const response = await provider.generate(
      request({
        problemId: 'shape',
        step: 'judge',
        system: 'abcd',
        parts: [
          { type: 'text', text: 'a pendulum' },
          { type: 'image', mimeType: 'image/png', data: IMAGE_BYTES },
        ],
        temperature: 0.2,
      }),
    );
    // The endpoint only answers well-formed requests whose text contains the `when` substring.
    expect(response.text).toBe('JUDGE-PENDULUM');
    expect(response.model).toBe('model-test');
    // "abcd\na pendulum" is 15 characters -> 4 tokens, plus the endpoint's fixed charge per image.
    expect(response.usage).toEqual({
      inputTokens: 4 + 258,
      outputTokens: Math.ceil('JUDGE-PENDULUM'.length / 4),
      cachedInputTokens: 0,
    });
    expect(response).toMatchObject({ truncated: false, finishReason: name === 'openai' ? 'stop' : 'STOP' });
    expect(endpoint.requests.at(-1)).toMatchObject({
      protocol: name,
      step: 'judge',
      problem: 'shape',
      model: 'model-test',
      status: 200,
    });
  });

  it('sends a text-only request and picks the reply by `when`', async () => {
    const response = await create().generate(
      request({ problemId: 'shape', step: 'judge', parts: [{ type: 'text', text: 'a spring' }] }),
    );
    expect(response.text).toBe('JUDGE-OTHER');
    expect(response.usage.inputTokens).toBe(Math.ceil('a spring'.length / 4));
  });

  it('fails with a non-retryable ProviderNotFound for an unscripted problem, in one request', async () => {
    const failure = await failureOf(create().generate(request({ problemId: problem('unscripted') })));
    expect(failure.type).toBe('ProviderNotFound');
    expect(failure.nonRetryable).toBe(true);
    expect(failure.message).toMatch(
      new RegExp(
        `^${name} has no model "model-test" or no such endpoint \\(404\\): The scripted endpoint has no reply`,
      ),
    );
    expect(detailsOf(failure)).toMatchObject({
      provider: name,
      step: 'plan',
      problemId: problem('unscripted'),
      status: 404,
    });
    expect(endpoint.count({ problem: problem('unscripted') })).toBe(1);
    expectNoSecret(failure);
  });

  it('sorts 429 with Retry-After: 3 into a retryable ProviderRateLimited with nextRetryDelay 3s', async () => {
    const { problemId, failure } = await planFailure('rate-limited', { status: 429, retryAfterSeconds: 3 });
    expect(failure.type).toBe('ProviderRateLimited');
    expect(failure.nonRetryable).toBe(false);
    expect(failure.nextRetryDelay).toBe(3000);
    expect(failure.message).toBe(
      `rate limited by ${name} (429), retry after 3s: Rate limit reached for requests. Please try again later.`,
    );
    expect(endpoint.count({ problem: problemId })).toBe(1);
    expectNoSecret(failure);
  });

  it.each([500, 503])('sorts %i into a retryable ProviderUnavailable, in one request', async (status) => {
    const { problemId, failure } = await planFailure(`unavailable-${status}`, { status });
    expect(failure.type).toBe('ProviderUnavailable');
    expect(failure.nonRetryable).toBe(false);
    expect(failure.nextRetryDelay).toBeUndefined();
    expect(failure.message).toContain(`unavailable (${status})`);
    expect(endpoint.count({ problem: problemId })).toBe(1);
  });

  it("keeps a 5xx's own explanation in the reason, on one line, without the key", async () => {
    const { failure } = await planFailure('unavailable-explained', {
      status: 503,
      message: `  Loading model\n  (key ${PLANTED_KEY}), try again shortly  `,
    });
    expect(failure.nonRetryable).toBe(false);
    expect(failure.message).toBe(`${name} unavailable (503): Loading model (key [redacted]), try again shortly`);
    expectNoSecret(failure);
  });

  // The servers' own words: a 500 that no number of retries can turn into an answer.
  it.each([
    [
      "llama.cpp's llama-server without a vision projector",
      'image input is not supported - hint: if this is unexpected, you may need to provide the mmproj',
    ],
    [
      "llama-cpp-python's server (0.3.36), asked for response_format json_schema",
      "1 validation error:\n  {'type': 'literal_error', 'loc': ('body', 'response_format', 'type'), " +
        `'msg': "Input should be 'text' or 'json_object'", 'input': 'json_schema', ` +
        `'ctx': {'expected': "'text' or 'json_object'"}}`,
    ],
    [
      "pydantic's own wording of a validation error",
      '1 validation error for CreateChatCompletionRequest\nresponse_format.type\n  Field required [type=missing]',
    ],
    [
      'a chat template that refuses the messages',
      'Conversation roles must alternate user/assistant/user/assistant/...',
    ],
    ['a chat template that does not render', "Error in Jinja chat template: 'dict object' has no attribute 'content'"],
  ])('fails a 500 from %s at once, non-retryable, with the server words', async (_server, words) => {
    const { problemId, failure } = await planFailure(`unservable-${words.length}`, {
      status: 500,
      message: words,
    });
    expect(failure.type).toBe('ProviderBadRequest');
    expect(failure.nonRetryable).toBe(true);
    expect(failure.message).toBe(`${name} cannot serve the request (500): ${words.replace(/\s+/g, ' ')}`);
    expect(detailsOf(failure)).toMatchObject({ status: 500, providerMessage: words });
    expect(endpoint.count({ problem: problemId })).toBe(1);
  });

  it('sorts 401 into a non-retryable ProviderAuthError, even when the body echoes the key', async () => {
    const { problemId, failure } = await planFailure('unauthorized', {
      status: 401,
      message: `Incorrect API key provided: ${PLANTED_KEY}.`,
    });
    expect(failure.type).toBe('ProviderAuthError');
    expect(failure.nonRetryable).toBe(true);
    expect(failure.message).toBe(`invalid API key for ${name} (401)`);
    expect(endpoint.count({ problem: problemId })).toBe(1);
    expectNoSecret(failure);
  });

  it('sorts 400 into a non-retryable ProviderBadRequest that keeps the reason, without the key', async () => {
    const { problemId, failure } = await planFailure('bad-request', {
      status: 400,
      message: `temperature too high (key ${PLANTED_KEY})`,
    });
    expect(failure.type).toBe('ProviderBadRequest');
    expect(failure.nonRetryable).toBe(true);
    expect(failure.message).toContain('temperature too high');
    expect(endpoint.count({ problem: problemId })).toBe(1);
    expectNoSecret(failure);
  });

  it("keeps the SDK's own error as the cause, its message there without the key", async () => {
    const { failure } = await planFailure('cause', {
      status: 400,
      message: `temperature too high (key ${PLANTED_KEY})`,
    });
    expect(failure.cause).toBeInstanceOf(name === 'openai' ? BadRequestError : GeminiApiError);
    expect(failure.cause?.message).toContain('temperature too high (key [redacted])');
    expect(failure.cause?.stack).not.toContain('PLANTED-SECRET');
    expectNoSecret(failure);
  });

  it('sorts a reset connection into a retryable ProviderConnectionError, in one request', async () => {
    const { problemId, failure } = await planFailure('reset', { kind: 'reset' });
    expect(failure.type).toBe('ProviderConnectionError');
    expect(failure.nonRetryable).toBe(false);
    expect(failure.message).toBe(`connection to ${name} was reset`);
    // openai wraps fetch's failure in its APIConnectionError; genai lets fetch's TypeError through.
    expect(failure.cause).toBeInstanceOf(name === 'openai' ? APIConnectionError : TypeError);
    expect(endpoint.count({ problem: problemId })).toBe(1);
    expectNoSecret(failure);
  });

  it('sorts a hanging answer into a retryable ProviderTimeout after timeoutMs, in one request', async () => {
    const started = Date.now();
    const { problemId, failure } = await planFailure('hang', { kind: 'hang' }, { timeoutMs: 300 });
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(failure.type).toBe('ProviderTimeout');
    expect(failure.nonRetryable).toBe(false);
    expect(failure.message).toBe(`${name} did not answer within 0.3s`);
    if (name === 'openai') expect(failure.cause).toBeInstanceOf(APIConnectionTimeoutError);
    else expect(failure.cause?.name).toBe('AbortError');
    expect(endpoint.count({ problem: problemId })).toBe(1);
    expectNoSecret(failure);
  });

  it('sorts a refused connection into a retryable ProviderConnectionError', async () => {
    const closedUrl = await closedPortUrl();
    const failure = await failureOf(
      create({ baseUrl: name === 'openai' ? `${closedUrl}/v1` : closedUrl }).generate(
        request({ problemId: problem('refused') }),
      ),
    );
    expect(failure.type).toBe('ProviderConnectionError');
    expect(failure.nonRetryable).toBe(false);
    expect(failure.message).toContain('connection refused');
    expect(failure.cause).toBeInstanceOf(name === 'openai' ? APIConnectionError : TypeError);
  });

  it('passes cancellation through as the abort reason, not as a provider failure', async () => {
    const problemId = problem('cancelled');
    endpoint.addFaults({ problem: problemId, step: 'plan' }, { kind: 'hang' });
    const controller = new AbortController();
    const reason = new Error('activity cancelled');
    const answer = create().generate(request({ problemId, signal: controller.signal }));
    await expect.poll(() => endpoint.count({ problem: problemId })).toBe(1);
    controller.abort(reason);
    await expect(answer).rejects.toBe(reason);
  });
});

describe.each(providerCases)(
  '$name provider: answers that hold no usable text, from the scripted endpoint',
  ({ name, create }) => {
    const problem = (label: string): string => `${name}-answer-${label}`;
    const planProblem = (
      label: string,
      text = '{"content": ["a line"], "layout": [], "labels": [], "constraints": []}',
    ) => {
      endpoint.setScript({ problems: { ...script.problems, [problem(label)]: { plan: text } } });
      return problem(label);
    };

    it('returns a cut-off answer marked truncated, with its usage, for the step parser to judge', async () => {
      const problemId = planProblem('truncated');
      endpoint.addFaults({ problem: problemId, step: 'plan' }, { kind: 'truncated' });
      const response = await create().generate(request({ problemId }));
      expect(response.truncated).toBe(true);
      expect(response.finishReason).toBe(name === 'openai' ? 'length' : 'MAX_TOKENS');
      const whole = '{"content": ["a line"], "layout": [], "labels": [], "constraints": []}';
      expect(response.text).toBe(whole.slice(0, Math.floor(whole.length / 2)));
      expect(response.usage.outputTokens).toBe(Math.ceil(response.text.length / 4));
    });

    it('returns an empty answer with no finish reason when there is no choice / candidate at all', async () => {
      const problemId = planProblem('empty');
      endpoint.addFaults({ problem: problemId, step: 'plan' }, { kind: 'empty' });
      const response = await create().generate(request({ problemId }));
      expect(response).toMatchObject({ text: '', finishReason: null, truncated: false });
      expect(response.usage.inputTokens).toBeGreaterThan(0);
    });

    it('fails a safety block as a non-retryable ProviderRefused "model refused: safety", with the billed tokens', async () => {
      const problemId = planProblem('safety');
      endpoint.addFaults({ problem: problemId, step: 'plan' }, { kind: 'safety' });
      const failure = await failureOf(create().generate(request({ problemId })));
      expect(failure.type).toBe('ProviderRefused');
      expect(failure.nonRetryable).toBe(true);
      expect(failure.message).toBe(
        name === 'openai' ? 'model refused: safety (openai)' : 'model refused: safety (gemini SAFETY)',
      );
      expect(detailsOf(failure).usage).toEqual({
        input_tokens: Math.ceil('Draw the setup.'.length / 4),
        output_tokens: 0,
        cost_usd: 0,
      });
    });

    it('fails a refusal as a non-retryable ProviderRefused in words a user understands', async () => {
      const problemId = planProblem('refusal');
      endpoint.addFaults({ problem: problemId, step: 'plan' }, { kind: 'refusal', message: 'I cannot draw that.' });
      const failure = await failureOf(create().generate(request({ problemId })));
      expect(failure.type).toBe('ProviderRefused');
      expect(failure.nonRetryable).toBe(true);
      expect(failure.message).toBe(
        name === 'openai'
          ? 'model refused: I cannot draw that. (openai)'
          : 'model refused: prohibited content (gemini PROHIBITED_CONTENT)',
      );
    });

    it('sorts a body cut off mid-answer into a retryable failure, in one request', async () => {
      const problemId = planProblem('cut-body');
      endpoint.addFaults({ problem: problemId, step: 'plan' }, { kind: 'cut-body' });
      const failure = await failureOf(create().generate(request({ problemId })));
      expect(failure.nonRetryable).toBe(false);
      expect(['ProviderConnectionError', 'ProviderUnexpectedError']).toContain(failure.type);
      expect(endpoint.count({ problem: problemId })).toBe(1);
    });

    it('honours retry-after-ms (OpenAI) and RetryInfo (Gemini) for nextRetryDelay', async () => {
      const problemId = planProblem('retry-after-ms');
      endpoint.addFaults(
        { problem: problemId, step: 'plan' },
        { status: 429, retryAfterMs: 1500, retryAfterSeconds: 2 },
      );
      const failure = await failureOf(create().generate(request({ problemId })));
      // Gemini's client sees no headers, only the body's RetryInfo, which carries the seconds.
      expect(failure.nextRetryDelay).toBe(name === 'openai' ? 1500 : 2000);
    });
  },
);

describe('openai answers read without the endpoint', () => {
  const context: ProviderErrorContext = { step: 'judge', problemId: 'p1' };
  const completion = (choice: unknown, usage?: unknown): ChatCompletion =>
    ({
      id: 'c',
      object: 'chat.completion',
      created: 0,
      model: 'gpt-test',
      choices: choice ? [choice] : [],
      ...(usage ? { usage } : {}),
    }) as ChatCompletion;

  it('sorts a refusal into a non-retryable ProviderRefused, through the real SDK', async () => {
    const refusingFetch = async (): Promise<Response> =>
      Response.json(
        completion({
          index: 0,
          message: { role: 'assistant', content: null, refusal: "I can't help with that." },
          finish_reason: 'stop',
        }),
      );
    const provider = createOpenAiProvider({
      apiKey: PLANTED_KEY,
      baseURL: 'http://127.0.0.1:9/v1',
      timeoutMs: 1000,
      fetch: refusingFetch,
    });
    const failure = await failureOf(provider.generate(request({ problemId: 'p1' })));
    expect(failure.type).toBe('ProviderRefused');
    expect(failure.nonRetryable).toBe(true);
    expect(failure.message).toBe("model refused: I can't help with that. (openai)");
  });

  it('reads cached prompt tokens', () => {
    const answer = readOpenAiCompletion(
      completion(
        { index: 0, message: { role: 'assistant', content: 'ok', refusal: null }, finish_reason: 'stop' },
        { prompt_tokens: 100, completion_tokens: 7, total_tokens: 107, prompt_tokens_details: { cached_tokens: 64 } },
      ),
      'gpt-test',
      context,
    );
    expect(answer.usage).toEqual({ inputTokens: 100, outputTokens: 7, cachedInputTokens: 64 });
  });

  it('returns null content as an empty answer with its finish reason', () => {
    const answer = readOpenAiCompletion(
      completion({ index: 0, message: { role: 'assistant', content: null, refusal: null }, finish_reason: 'length' }),
      'gpt-test',
      context,
    );
    expect(answer).toMatchObject({ text: '', finishReason: 'length', truncated: true });
  });
});

describe('gemini answers read without the endpoint', () => {
  const context: ProviderErrorContext = { step: 'judge', problemId: 'p1' };
  const response = (fields: Partial<GenerateContentResponse>): GenerateContentResponse =>
    Object.assign(new GenerateContentResponse(), fields);

  it('sorts a blocked prompt or a SAFETY / RECITATION / PROHIBITED_CONTENT finish into ProviderRefused', () => {
    const blocked = catchFailure(() =>
      readGeminiResponse(response({ promptFeedback: { blockReason: 'SAFETY' as never } }), 'gemini-test', context),
    );
    expect(blocked.type).toBe('ProviderRefused');
    expect(blocked.nonRetryable).toBe(true);
    expect(blocked.message).toContain('model refused: safety');
    for (const [finishReason, words] of [
      ['SAFETY', 'safety'],
      ['RECITATION', 'recitation'],
      ['PROHIBITED_CONTENT', 'prohibited content'],
    ]) {
      const refused = catchFailure(() =>
        readGeminiResponse(
          response({
            candidates: [{ content: { role: 'model', parts: [] }, finishReason: finishReason as never, index: 0 }],
          }),
          'gemini-test',
          context,
        ),
      );
      expect(refused.type).toBe('ProviderRefused');
      expect(refused.message).toBe(`model refused: ${words} (gemini ${finishReason})`);
    }
  });

  it('returns an empty answer for no candidates or no parts, with the finish reason', () => {
    expect(readGeminiResponse(response({ candidates: [] }), 'gemini-test', context)).toMatchObject({
      text: '',
      finishReason: null,
    });
    const noParts = readGeminiResponse(
      response({
        candidates: [{ content: { role: 'model', parts: [] }, finishReason: 'MAX_TOKENS' as never, index: 0 }],
      }),
      'gemini-test',
      context,
    );
    expect(noParts).toMatchObject({ text: '', finishReason: 'MAX_TOKENS', truncated: true });
  });

  it('counts thinking tokens as output and reads cached prompt tokens', () => {
    const answer = readGeminiResponse(
      response({
        candidates: [{ content: { role: 'model', parts: [{ text: 'ok' }] }, finishReason: 'STOP' as never, index: 0 }],
        usageMetadata: {
          promptTokenCount: 10,
          candidatesTokenCount: 2,
          thoughtsTokenCount: 5,
          cachedContentTokenCount: 4,
        },
        modelVersion: 'gemini-2.5-flash-001',
      }),
      'gemini-test',
      context,
    );
    expect(answer).toEqual({
      text: 'ok',
      usage: { inputTokens: 10, outputTokens: 7, cachedInputTokens: 4 },
      model: 'gemini-2.5-flash-001',
      finishReason: 'STOP',
      truncated: false,
    });
  });
});

describe("openai's x-should-retry header, through the real SDK", () => {
  let server: http.Server;
  let baseUrl: string;
  /** What the next answer is: a status, an OpenAI error body, and the x-should-retry header if any. */
  let answer: { status: number; shouldRetry?: string };

  beforeAll(async () => {
    server = http.createServer((incoming, response) => {
      incoming.resume();
      incoming.on('end', () => {
        response.writeHead(answer.status, {
          'content-type': 'application/json',
          ...(answer.shouldRetry === undefined ? {} : { 'x-should-retry': answer.shouldRetry }),
        });
        response.end(JSON.stringify({ error: { message: `scripted ${answer.status}`, type: 'test', code: null } }));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  const call = () =>
    failureOf(
      createOpenAiProvider({ apiKey: PLANTED_KEY, baseURL: baseUrl, timeoutMs: 5000 }).generate(
        request({ problemId: 'should-retry' }),
      ),
    );

  it('"true" makes a 400 retryable; its type still says what happened', async () => {
    answer = { status: 400, shouldRetry: 'true' };
    const failure = await call();
    expect(failure.type).toBe('ProviderBadRequest');
    expect(failure.nonRetryable).toBe(false);
    expect(detailsOf(failure).serverSaysRetry).toBe(true);
    expect(failure.cause).toBeInstanceOf(BadRequestError);
    expect(failure.cause?.message).toBe('400 scripted 400');
  });

  it('"false" makes a 503 non-retryable', async () => {
    answer = { status: 503, shouldRetry: 'false' };
    const failure = await call();
    expect(failure.type).toBe('ProviderUnavailable');
    expect(failure.nonRetryable).toBe(true);
    expect(detailsOf(failure).serverSaysRetry).toBe(false);
  });

  it('without the header, the status decides', async () => {
    answer = { status: 503 };
    const unavailable = await call();
    expect(unavailable.nonRetryable).toBe(false);
    expect(detailsOf(unavailable).serverSaysRetry).toBeUndefined();
    answer = { status: 400, shouldRetry: 'maybe' };
    expect((await call()).nonRetryable).toBe(true);
  });
});

describe('error sorting details', () => {
  const context: ProviderErrorContext = { step: 'code', problemId: 'p1', secrets: [PLANTED_KEY] };

  it('reads retry-after-ms, Retry-After seconds and Retry-After dates', () => {
    expect(retryDelayFromHeaders(new Headers({ 'retry-after-ms': '1500', 'retry-after': '9' }))).toBe(1500);
    expect(retryDelayFromHeaders(new Headers({ 'retry-after': '2' }))).toBe(2000);
    const inTenSeconds = new Date(Date.now() + 10_000).toUTCString();
    const fromDate = retryDelayFromHeaders(new Headers({ 'retry-after': inTenSeconds }));
    expect(fromDate).toBeGreaterThan(8_000);
    expect(fromDate).toBeLessThanOrEqual(10_000);
    expect(retryDelayFromHeaders(new Headers({ 'retry-after': 'soon' }))).toBeUndefined();
    expect(retryDelayFromHeaders(new Headers())).toBeUndefined();
  });

  it("reads OpenAI's x-ratelimit-reset-* for an exhausted limit when no Retry-After came", () => {
    const exhausted = new Headers({
      'x-ratelimit-remaining-requests': '0',
      'x-ratelimit-reset-requests': '1m2.5s',
      'x-ratelimit-remaining-tokens': '5000',
      'x-ratelimit-reset-tokens': '6m0s',
    });
    expect(retryDelayFromHeaders(exhausted)).toBe(62_500);
    expect(
      retryDelayFromHeaders(new Headers({ 'x-ratelimit-remaining-tokens': '0', 'x-ratelimit-reset-tokens': '20ms' })),
    ).toBe(20);
    expect(
      retryDelayFromHeaders(new Headers({ 'x-ratelimit-remaining-requests': '3', 'x-ratelimit-reset-requests': '1s' })),
    ).toBeUndefined();
  });

  it('treats the Gemini API answer to a bad key (400 API_KEY_INVALID) as ProviderAuthError', () => {
    const error = new GeminiApiError({
      status: 400,
      message: JSON.stringify({
        error: {
          code: 400,
          message: 'API key not valid. Please pass a valid API key.',
          status: 'INVALID_ARGUMENT',
          details: [{ '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'API_KEY_INVALID' }],
        },
      }),
    });
    const failure = sortGeminiError(error, context);
    expect(failure.type).toBe('ProviderAuthError');
    expect(failure.nonRetryable).toBe(true);
  });

  it('sorts 408 and 409 as retryable, 403 and 422 as not', () => {
    // The SDK's own factory picks the class for a status, as it does for a response.
    const openAiError = (status: number) => APIError.generate(status, { error: {} }, undefined, new Headers());
    expect(sortOpenAiError(openAiError(408), context)).toMatchObject({ type: 'ProviderTimeout', nonRetryable: false });
    expect(sortOpenAiError(openAiError(409), context)).toMatchObject({
      type: 'ProviderUnavailable',
      nonRetryable: false,
    });
    expect(sortOpenAiError(openAiError(403), context)).toMatchObject({ type: 'ProviderAuthError', nonRetryable: true });
    expect(sortOpenAiError(openAiError(422), context)).toMatchObject({
      type: 'ProviderBadRequest',
      nonRetryable: true,
    });
  });

  it("reads an error body whose code is a number, as llama.cpp's llama-server sends it", () => {
    const words = 'image input is not supported - hint: if this is unexpected, you may need to provide the mmproj';
    const error = APIError.generate(
      500,
      { error: { code: 500, message: words, type: 'server_error' } },
      undefined,
      new Headers(),
    );
    const failure = sortOpenAiError(error, context);
    expect(failure).toMatchObject({ type: 'ProviderBadRequest', nonRetryable: true });
    expect(failure.message).toBe(`openai cannot serve the request (500): ${words}`);
    expect(failure.details?.[0]).toMatchObject({ providerCode: '500', providerMessage: words });
  });

  it('does not take an error that only looks like an SDK error for one', () => {
    const lookalike = Object.assign(new Error('429'), { name: 'ApiError', status: 429, headers: new Headers() });
    expect(sortOpenAiError(lookalike, context).type).toBe('ProviderUnexpectedError');
    expect(sortGeminiError(lookalike, context).type).toBe('ProviderUnexpectedError');
  });

  it('keeps the secret out of messages for errors it does not recognise', () => {
    const failure = sortOpenAiError(new Error(`surprise with ${PLANTED_KEY} and Bearer abc.def`), context);
    expect(failure.type).toBe('ProviderUnexpectedError');
    expect(failure.message).not.toContain('PLANTED-SECRET');
    expect(failure.message).not.toContain('abc.def');
  });

  it('lists every type once, retryable or not', () => {
    const all = [...RETRYABLE_PROVIDER_ERROR_TYPES, ...NON_RETRYABLE_PROVIDER_ERROR_TYPES];
    expect(new Set(all).size).toBe(all.length);
    expect(NON_RETRYABLE_PROVIDER_ERROR_TYPES).toEqual(
      expect.arrayContaining(['ProviderAuthError', 'ProviderBadRequest', 'ProviderNotFound', 'ProviderRefused']),
    );
  });
});

describe('createProvider', () => {
  it('takes the key from the credentials and names the missing variable', () => {
    expect(() => createProvider({ provider: 'openai', timeoutMs: 1000, credentials: {} })).toThrow(
      /^OPENAI_API_KEY is not set; /,
    );
    expect(() => createProvider({ provider: 'gemini', timeoutMs: 1000, credentials: {} })).toThrow(
      /^GEMINI_API_KEY is not set/,
    );
    const credentials = readEnvironment({ GOOGLE_API_KEY: PLANTED_KEY }).credentials;
    expect(createProvider({ provider: 'gemini', timeoutMs: 1000, credentials }).name).toBe('gemini');
  });

  it('talks to the base URL it is given', async () => {
    const gemini = createProvider({
      provider: 'gemini',
      timeoutMs: 5000,
      credentials: { geminiApiKey: PLANTED_KEY },
      baseUrl: endpoint.geminiBaseUrl,
    });
    expect((await gemini.generate(request({ problemId: 'shape' }))).text).toBe('PLAN-ANSWER');
    const openAi = createProvider({
      provider: 'openai',
      timeoutMs: 5000,
      credentials: { openAiApiKey: PLANTED_KEY },
      baseUrl: endpoint.openAiBaseUrl,
    });
    expect((await openAi.generate(request({ problemId: 'shape' }))).text).toBe('PLAN-ANSWER');
  });

  it('reads no variable itself: OPENAI_BASE_URL and SCIGEN_GEMINI_BASE_URL reach it only through the config', async () => {
    const config = loadConfig({
      environment: readEnvironment({
        OPENAI_BASE_URL: endpoint.openAiBaseUrl,
        SCIGEN_GEMINI_BASE_URL: endpoint.geminiBaseUrl,
        OPENAI_API_KEY: PLANTED_KEY,
      }),
    });
    expect(config.openai.baseUrl).toBe(endpoint.openAiBaseUrl);
    expect(config.gemini.baseUrl).toBe(endpoint.geminiBaseUrl);
    const fromConfig = createProvider({
      provider: 'openai',
      timeoutMs: 5000,
      credentials: config.credentials,
      ...(config.openai.baseUrl ? { baseUrl: config.openai.baseUrl } : {}),
    });
    expect((await fromConfig.generate(request({ problemId: 'shape', step: 'quiz' }))).text).toBe('QUIZ-SHARED');

    const saved = process.env['OPENAI_BASE_URL'];
    process.env['OPENAI_BASE_URL'] = await closedPortUrl();
    try {
      const explicit = createOpenAiProvider({ apiKey: PLANTED_KEY, baseURL: endpoint.openAiBaseUrl, timeoutMs: 5000 });
      expect((await explicit.generate(request({ problemId: 'shape' }))).text).toBe('PLAN-ANSWER');
    } finally {
      if (saved === undefined) delete process.env['OPENAI_BASE_URL'];
      else process.env['OPENAI_BASE_URL'] = saved;
    }
  });
});

function catchFailure(action: () => unknown): ApplicationFailure {
  try {
    action();
  } catch (error) {
    expect(error).toBeInstanceOf(ApplicationFailure);
    return error as ApplicationFailure;
  }
  throw new Error('expected a failure');
}

/** A URL on which nothing listens: a port the OS handed out and that was closed again. */
async function closedPortUrl(): Promise<string> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}
