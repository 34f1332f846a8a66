import { ApplicationFailure } from '@temporalio/common';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { BatchClient, BatchLine, BatchResult, BatchState } from '../../providers/batch.ts';
import { batchLineBytes } from '../../providers/batch.ts';
import { batchCustomId, parseBatchCustomId } from '../../domain/batch.ts';
import { createGeminiBatchClient } from '../../providers/gemini-batch.ts';
import { createGeminiProvider } from '../../providers/gemini.ts';
import { createOpenAiBatchClient } from '../../providers/openai-batch.ts';
import { createOpenAiProvider } from '../../providers/openai.ts';
import type { ModelProvider } from '../../providers/provider.ts';
import { startScriptedEndpoint, type ScriptedEndpoint } from '../../scripted/server.ts';
import type { Script } from '../../scripted/script.ts';

// Batch mode below the workflows: each provider's batch client, through its real SDK, against the
// scripted endpoint's Batch API / batch mode, which answers every batched request from the same
// script real time answers from.

const KEY = 'sk-test-batch-PLANTED';

const script: Script = {
  problems: {
    p1: { plan: 'PLAN-P1', quiz: 'QUIZ-P1' },
    p2: { plan: 'PLAN-P2' },
    'rate-limited': { plan: { fault: { status: 429, message: 'Too many requests in the batch.', times: 10 } } },
    broken: { plan: { fault: { status: 400, message: 'The prompt is not acceptable.', times: 10 } } },
    refused: { plan: { fault: { kind: 'refusal', times: 10 } } },
    '*': { plan: 'PLAN-ANY', image: { image: { width: 64, height: 48 } } },
  },
};

let endpoint: ScriptedEndpoint;

beforeAll(async () => {
  endpoint = await startScriptedEndpoint({ script, batchDurationMs: 300 });
});

afterAll(async () => {
  await endpoint.close();
});

beforeEach(() => {
  endpoint.setScript(script);
  endpoint.reset();
  endpoint.setBatchDuration(300);
});

interface ProviderCase {
  name: 'openai' | 'gemini';
  model: string;
  imageModel: string;
  batchClient(): BatchClient;
  realTime(): ModelProvider;
}

const cases: ProviderCase[] = [
  {
    name: 'openai',
    model: 'gpt-test',
    imageModel: 'gpt-image-1',
    batchClient: () => createOpenAiBatchClient({ apiKey: KEY, baseUrl: endpoint.openAiBaseUrl }),
    realTime: () => createOpenAiProvider({ apiKey: KEY, baseURL: endpoint.openAiBaseUrl, timeoutMs: 5_000 }),
  },
  {
    name: 'gemini',
    model: 'gemini-test',
    imageModel: 'gemini-2.5-flash-image',
    batchClient: () => createGeminiBatchClient({ apiKey: KEY, baseUrl: endpoint.geminiBaseUrl }),
    realTime: () => createGeminiProvider({ apiKey: KEY, baseUrl: endpoint.geminiBaseUrl, timeoutMs: 5_000 }),
  },
];

type TextLine = Extract<BatchLine, { kind: 'text' }>;

function textLine(problemId: string, model: string, step: 'plan' | 'quiz' = 'plan', attempt = 1): TextLine {
  return {
    customId: batchCustomId({ step, problemId, attempt }),
    kind: 'text',
    request: {
      step,
      problemId,
      model,
      system: 'You plan diagrams.',
      parts: [{ type: 'text', text: `Plan ${problemId}` }],
    },
  };
}

/** Polls until the batch has ended; the fake's batches end within their duration. */
async function waitForEnd(client: BatchClient, id: string): Promise<BatchState> {
  for (;;) {
    const state = await client.get(id);
    if (state.ended) return state;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function byCustomId(results: BatchResult[]): Map<string, BatchResult> {
  return new Map(results.map((result) => [result.customId, result]));
}

describe.each(cases)('$name batch client against the scripted endpoint', (provider) => {
  it('submits, polls to completion, and reads what real time answers for the same requests', async () => {
    const client = provider.batchClient();
    const lines = [
      textLine('p1', provider.model),
      textLine('p2', provider.model),
      textLine('p1', provider.model, 'quiz'),
    ];
    const { id } = await client.submit(lines, { submissionKey: `complete-${provider.name}` });
    const first = await client.get(id);
    expect(first.ended).toBe(false);
    const state = await waitForEnd(client, id);
    expect(state.status).toBe('completed');
    expect(state.counts).toEqual({ total: 3, completed: 3, failed: 0 });

    const results = byCustomId(await client.results(id));
    const realTime = provider.realTime();
    for (const line of lines) {
      const result = results.get(line.customId);
      expect(result?.ok, line.customId).toBe(true);
      const live = await realTime.generate(line.request);
      if (result?.ok && result.kind === 'text') {
        expect(result.response.text).toBe(live.text);
        expect(result.response.usage).toEqual(live.usage);
        expect(result.response.finishReason).toBe(live.finishReason);
      }
    }
    const batch = endpoint.batches()[0]!;
    expect(batch).toMatchObject({ provider: provider.name, lineCount: 3, status: 'completed' });
    expect(batch.customIds).toEqual(lines.map((line) => line.customId));
    expect(endpoint.count({ batch: true, step: 'plan' })).toBe(2);
  });

  it('submits once per submission key', async () => {
    const client = provider.batchClient();
    const lines = [textLine('p1', provider.model)];
    const first = await client.submit(lines, { submissionKey: `once-${provider.name}` });
    const second = await client.submit(lines, { submissionKey: `once-${provider.name}` });
    expect(second.id).toBe(first.id);
    expect(await client.find(`once-${provider.name}`)).toEqual(first);
    expect(await client.find('never-submitted')).toBeNull();
    expect(endpoint.batches()).toHaveLength(1);
  });

  it('sorts per-request errors as real time does: 429 retryable, 400 and refusals not', async () => {
    const client = provider.batchClient();
    const lines = [
      textLine('rate-limited', provider.model),
      textLine('broken', provider.model),
      textLine('refused', provider.model),
      textLine('p1', provider.model),
    ];
    const { id } = await client.submit(lines, { submissionKey: `errors-${provider.name}` });
    const state = await waitForEnd(client, id);
    expect(state.status).toBe('completed');
    const results = byCustomId(await client.results(id));
    expect(results.size).toBe(4);
    const failureOf = (problem: string) => {
      const result = results.get(batchCustomId({ step: 'plan', problemId: problem, attempt: 1 }));
      return result && !result.ok ? result.failure : undefined;
    };
    expect(failureOf('rate-limited')).toMatchObject({ type: 'ProviderRateLimited', nonRetryable: false });
    expect(failureOf('rate-limited')?.message).toContain('Too many requests in the batch.');
    expect(failureOf('broken')).toMatchObject({ type: 'ProviderBadRequest', nonRetryable: true });
    expect(failureOf('broken')?.message).toContain('The prompt is not acceptable.');
    expect(failureOf('refused')).toMatchObject({ type: 'ProviderRefused', nonRetryable: true });
    expect(results.get(lines[3]!.customId)?.ok).toBe(true);

    // The same requests in real time fail with the same types.
    const live = provider.realTime();
    for (const problem of ['rate-limited', 'broken', 'refused']) {
      const error = await live.generate(textLine(problem, provider.model).request).catch((e) => e);
      expect(error).toBeInstanceOf(ApplicationFailure);
      expect((error as ApplicationFailure).type).toBe(failureOf(problem)?.type);
    }
  });

  it('an expired batch keeps the part it finished; the rest has no result', async () => {
    endpoint.expireBatches({ step: 'plan', answered: 1 });
    const client = provider.batchClient();
    const lines = [textLine('p1', provider.model), textLine('p2', provider.model), textLine('x3', provider.model)];
    const { id } = await client.submit(lines, { submissionKey: `expire-${provider.name}` });
    const state = await waitForEnd(client, id);
    expect(state.status).toBe('expired');
    const results = await client.results(id);
    // OpenAI returns the finished part (the rest is `batch_expired` in the error file); an expired
    // Gemini batch keeps no results at all.
    if (provider.name === 'openai') {
      expect(results).toHaveLength(1);
      expect(results[0]).toMatchObject({ customId: lines[0]!.customId, ok: true });
    } else expect(results).toEqual([]);
  });

  it('cancels a running batch; unfinished requests are not answered', async () => {
    // Validating takes the first tenth of a batch's duration on the fake, cancelling another tenth.
    endpoint.setBatchDuration(2_000);
    const client = provider.batchClient();
    const lines = [textLine('p1', provider.model), textLine('p2', provider.model)];
    const { id } = await client.submit(lines, { submissionKey: `cancel-${provider.name}` });
    await client.cancel(id);
    const cancelling = await client.get(id);
    // Gemini's batch states have no cancelling: its batch is cancelled at once.
    expect(cancelling).toMatchObject(
      provider.name === 'openai' ? { status: 'cancelling', ended: false } : { status: 'cancelled', ended: true },
    );
    expect((await waitForEnd(client, id)).status).toBe('cancelled');
    expect(await client.results(id)).toEqual([]);
    expect(endpoint.batches()[0]).toMatchObject({ status: 'cancelled', answered: 0 });
    expect(endpoint.count({ batch: true, step: 'plan' })).toBe(0);
  });

  it('refuses a batch of two models with the service words', async () => {
    const client = provider.batchClient();
    const lines = [textLine('p1', provider.model), textLine('p2', `${provider.model}-other`)];
    if (provider.name === 'openai') {
      const { id } = await client.submit(lines, { submissionKey: 'two-models' });
      const state = await waitForEnd(client, id);
      expect(state.status).toBe('failed');
      expect(state.errors.join('\n')).toMatch(/line 2: The provided model 'gpt-test-other' does not match/);
    } else {
      const error = await client.submit(lines, { submissionKey: 'two-models' }).catch((e) => e);
      expect(error).toBeInstanceOf(ApplicationFailure);
      expect(error).toMatchObject({ type: 'ProviderBadRequest', nonRetryable: true });
      expect((error as Error).message).toContain("every request of a batch must use the batch's model");
    }
  });

  it('draws image lines through the batch', async () => {
    const client = provider.batchClient();
    const line: BatchLine = {
      customId: batchCustomId({ step: 'image', problemId: 'drawn', attempt: 1 }),
      kind: 'image',
      request: { step: 'image', problemId: 'drawn', model: provider.imageModel, prompt: 'A block on an incline.' },
    };
    const { id } = await client.submit([line], { submissionKey: `image-${provider.name}` });
    expect((await waitForEnd(client, id)).status).toBe('completed');
    const [result] = await client.results(id);
    expect(result).toMatchObject({ customId: line.customId, ok: true, kind: 'image' });
    if (result?.ok && result.kind === 'image') {
      expect(result.response.image?.mimeType).toBe('image/png');
      expect(result.response.image?.data.byteLength).toBeGreaterThan(0);
    }
  });
});

describe('OpenAI batch validation', () => {
  it('fails a batch whose line does not pass the real-time checks, in the service words', async () => {
    const client = createOpenAiBatchClient({ apiKey: KEY, baseUrl: endpoint.openAiBaseUrl });
    const good = textLine('p1', 'gpt-test');
    const bad: TextLine = { ...good, request: { ...good.request, temperature: 7 } };
    const { id } = await client.submit([textLine('p2', 'gpt-test'), bad], { submissionKey: 'bad-line' });
    const state = await waitForEnd(client, id);
    expect(state).toMatchObject({ status: 'failed', ended: true });
    expect(state.errors).toEqual([
      "line 2: Invalid 'temperature': number above maximum value. Expected a value <= 2, but got 7 instead.",
    ]);
  });

  it('throws failures of the batch calls themselves sorted as real time sorts them', async () => {
    const client = createOpenAiBatchClient({ apiKey: KEY, baseUrl: endpoint.openAiBaseUrl });
    const error = await client.get('batch_missing').catch((e) => e);
    expect(error).toBeInstanceOf(ApplicationFailure);
    expect(error).toMatchObject({ type: 'ProviderNotFound', nonRetryable: true });
    expect((error as Error).message).toContain("No batch found with id 'batch_missing'");
  });
});

describe('batch lines', () => {
  it('batchLineBytes is the size of the line in each upload', () => {
    const line = textLine('p1', 'gpt-test');
    const openAi = batchLineBytes('openai', line);
    const gemini = batchLineBytes('gemini', line);
    expect(openAi).toBeGreaterThan(100);
    expect(gemini).toBeGreaterThan(100);
    const longer = {
      ...line,
      request: { ...line.request, parts: [{ type: 'text' as const, text: 'x'.repeat(1000) }] },
    };
    expect(batchLineBytes('openai', longer) - openAi).toBeGreaterThanOrEqual(1000 - 'Plan p1'.length);
    expect(batchLineBytes('gemini', longer) - gemini).toBeGreaterThanOrEqual(1000 - 'Plan p1'.length);
  });

  it('custom ids round-trip, problem ids with colons included', () => {
    expect(parseBatchCustomId(batchCustomId({ step: 'plan', problemId: 'a:b', attempt: 3 }))).toEqual({
      step: 'plan',
      problemId: 'a:b',
      attempt: 3,
    });
    expect(parseBatchCustomId('other:plan:x:1')).toBeUndefined();
  });
});
