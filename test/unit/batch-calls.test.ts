import { ApplicationFailure } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import {
  readStoredAnswer,
  requestOfStored,
  runBatchable,
  type StoredBatchRequest,
} from '../../activities/batch-calls.ts';
import { callModel, type ModelCallSettings } from '../../activities/model-call.ts';
import { isDeferred } from '../../domain/batch.ts';
import { ANSWER_SCHEMAS } from '../../domain/parse-model-output.ts';
import { addUsage, realtimeCostOf } from '../../domain/types.ts';
import type { ModelProvider, ModelRequest } from '../../providers/provider.ts';
import { createFileStore } from '../../storage/file-store.ts';
import { batchAnswerKey } from '../../storage/build-layout.ts';
import { useTemporaryDirectory } from '../helpers/temporary-directory.ts';

const MODELS = {
  classify: 'small',
  plan: 'small',
  code: 'small',
  repair: 'small',
  judge: 'small',
  quiz: 'small',
  answer: 'small',
};
const ZERO = { classify: 0, plan: 0, code: 0, repair: 0, judge: 0, quiz: 0, answer: 0 };

function countingProvider(): ModelProvider & { requests: ModelRequest[] } {
  const requests: ModelRequest[] = [];
  return {
    name: 'openai',
    requests,
    async generate(request) {
      requests.push(request);
      return {
        text: 'real time',
        usage: { inputTokens: 1000, outputTokens: 100, cachedInputTokens: 0 },
        model: request.model,
        finishReason: 'stop',
        truncated: false,
      };
    },
    async generateImage() {
      throw new Error('no images here');
    },
  };
}

function settings(provider: ModelProvider, prices: ModelCallSettings['prices']): ModelCallSettings {
  return { provider, models: MODELS, temperatures: ZERO, prices };
}

const PROBLEM = { buildId: 'b', problemKey: 'p1' };

describe('model calls in batch mode', () => {
  const directory = useTemporaryDirectory('batch-calls');

  /** A step that asks two questions at once, as the quiz answers do, and returns both answers. */
  function twoQuestions(model: ModelCallSettings) {
    return () =>
      Promise.all(
        ['first', 'second'].map((text) =>
          callModel(model, {
            step: 'classify',
            problemId: 'p1',
            parts: [{ type: 'text', text }],
            responseSchema: { name: 'classification', schema: ANSWER_SCHEMAS.classify },
          }),
        ),
      );
  }

  it('defers every call of a step, then answers them from the stored batch answers at batch prices', async () => {
    const store = createFileStore(`file://${directory.path}/a`);
    const provider = countingProvider();
    const model = settings(provider, { small: { input: 2, output: 8 } });
    model.structuredOutput = 'json_schema';

    const first = await runBatchable(store, PROBLEM, { seq: 1 }, twoQuestions(model));
    expect(isDeferred(first)).toBe(true);
    if (!isDeferred(first)) return;
    expect(first.deferred).toHaveLength(2);
    expect(provider.requests).toHaveLength(0);
    expect(first.deferred.map((call) => call.requestKey)).toEqual([
      expect.stringMatching(/^builds\/b\/problems\/p1\/batch\/1-classify-[0-9a-f]{16}\.request\.json$/),
      expect.stringMatching(/^builds\/b\/problems\/p1\/batch\/1-classify-[0-9a-f]{16}\.request\.json$/),
    ]);

    // The stored request comes back as the provider takes it, its schema the step's own.
    const stored = JSON.parse(await store.getText(first.deferred[0]!.requestKey)) as StoredBatchRequest;
    const restored = requestOfStored(stored);
    expect(restored.kind).toBe('text');
    if (restored.kind === 'text') expect(restored.request.responseSchema?.schema).toBe(ANSWER_SCHEMAS.classify);

    for (const [index, call] of first.deferred.entries())
      await store.put(
        batchAnswerKey(call.requestKey),
        JSON.stringify({
          customId: `scigen:classify:p1:${index + 1}`,
          ok: true,
          kind: 'text',
          response: {
            text: `batch ${index}`,
            usage: { inputTokens: 1000, outputTokens: 100, cachedInputTokens: 0 },
            model: 'small',
            finishReason: 'stop',
            truncated: false,
          },
        }),
      );
    const second = await runBatchable(store, PROBLEM, { seq: 1 }, twoQuestions(model));
    expect(isDeferred(second)).toBe(false);
    if (isDeferred(second)) return;
    expect(provider.requests).toHaveLength(0);
    const realtime = (1000 * 2 + 100 * 8) / 1e6;
    for (const answer of second) {
      expect(answer.usage.cost_usd).toBeCloseTo(realtime / 2, 12);
      expect(answer.usage.realtime_cost_usd).toBeCloseTo(realtime, 12);
      expect(answer.usage.batch_calls).toBe(1);
    }
    expect(second.map((answer) => answer.text).sort()).toEqual(['batch 0', 'batch 1']);
  });

  it("uses a price entry's own batch rates", async () => {
    const store = createFileStore(`file://${directory.path}/rates`);
    const model = settings(countingProvider(), {
      small: { input: 2, output: 8, batch: { input: 1.5, output: 3 } },
    });
    const step = () => callModel(model, { step: 'plan', problemId: 'p1', parts: [{ type: 'text', text: 'x' }] });
    const deferred = await runBatchable(store, PROBLEM, { seq: 3 }, step);
    if (!isDeferred(deferred)) throw new Error('expected the call deferred');
    await store.put(
      batchAnswerKey(deferred.deferred[0]!.requestKey),
      JSON.stringify({
        customId: 'scigen:plan:p1:1',
        ok: true,
        kind: 'text',
        response: {
          text: 'plan',
          usage: { inputTokens: 1000, outputTokens: 100, cachedInputTokens: 0 },
          model: 'small',
          finishReason: 'stop',
          truncated: false,
        },
      }),
    );
    const answer = await runBatchable(store, PROBLEM, { seq: 3 }, step);
    if (isDeferred(answer)) throw new Error('expected the stored answer');
    expect(answer.usage.cost_usd).toBeCloseTo((1000 * 1.5 + 100 * 3) / 1e6, 12);
  });

  it('throws a stored non-retryable failure as the real-time call would', async () => {
    const store = createFileStore(`file://${directory.path}/failure`);
    const model = settings(countingProvider(), {});
    const step = () => callModel(model, { step: 'plan', problemId: 'p1', parts: [{ type: 'text', text: 'x' }] });
    const deferred = await runBatchable(store, PROBLEM, { seq: 2 }, step);
    if (!isDeferred(deferred)) throw new Error('expected the call deferred');
    const key = batchAnswerKey(deferred.deferred[0]!.requestKey);
    await store.put(
      key,
      JSON.stringify({
        customId: 'scigen:plan:p1:1',
        ok: false,
        failure: { type: 'ProviderBadRequest', message: 'openai 400: model not found', nonRetryable: true },
      }),
    );
    expect(await readStoredAnswer(store, key)).toMatchObject({ ok: false });
    const failure = await runBatchable(store, PROBLEM, { seq: 2 }, step).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(ApplicationFailure);
    expect(failure).toMatchObject({
      type: 'ProviderBadRequest',
      nonRetryable: true,
      message: 'openai 400: model not found',
    });
  });

  it('asks in real time what the batch left unanswered, once told to', async () => {
    const store = createFileStore(`file://${directory.path}/realtime`);
    const provider = countingProvider();
    const model = settings(provider, { small: { input: 2, output: 8 } });
    const step = () => callModel(model, { step: 'plan', problemId: 'p1', parts: [{ type: 'text', text: 'x' }] });
    expect(isDeferred(await runBatchable(store, PROBLEM, { seq: 4 }, step))).toBe(true);
    const answer = await runBatchable(store, PROBLEM, { seq: 4, realtime: true }, step);
    if (isDeferred(answer)) throw new Error('expected a real-time answer');
    expect(provider.requests).toHaveLength(1);
    expect(answer.text).toBe('real time');
    expect(answer.usage).toEqual({ input_tokens: 1000, output_tokens: 100, cost_usd: (1000 * 2 + 100 * 8) / 1e6 });
  });

  it('is real time, untouched, without batch options', async () => {
    const store = createFileStore(`file://${directory.path}/none`);
    const provider = countingProvider();
    const answer = await runBatchable(store, PROBLEM, undefined, () =>
      callModel(settings(provider, {}), { step: 'plan', problemId: 'p1', parts: [{ type: 'text', text: 'x' }] }),
    );
    expect(isDeferred(answer)).toBe(false);
    expect(provider.requests).toHaveLength(1);
    expect(await store.list('builds/b/problems/p1/batch')).toEqual([]);
  });
});

describe('usage with batch calls', () => {
  it("adds up what was paid and what real time would have cost, keeping real-time calls' cost as their own", () => {
    const batch = { input_tokens: 10, output_tokens: 1, cost_usd: 0.5, realtime_cost_usd: 1, batch_calls: 1 };
    const realtime = { input_tokens: 5, output_tokens: 1, cost_usd: 0.25 };
    const sum = addUsage(batch, realtime);
    expect(sum).toEqual({
      input_tokens: 15,
      output_tokens: 2,
      cost_usd: 0.75,
      realtime_cost_usd: 1.25,
      batch_calls: 1,
    });
    expect(realtimeCostOf(sum)).toBe(1.25);
    expect(addUsage(realtime, realtime)).toEqual({ input_tokens: 10, output_tokens: 2, cost_usd: 0.5 });
    expect(realtimeCostOf(realtime)).toBe(0.25);
  });
});
