import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { callModel, type ModelCall, type ModelCallSettings } from '../../activities/model-call.ts';
import { DOCTOR_PROBLEM_ID } from '../../doctor/canary.ts';
import { ModelCapabilities } from '../../doctor/model-capabilities.ts';
import { createOpenAiProvider } from '../../providers/openai.ts';
import { startScriptedEndpoint, type ScriptedEndpoint, type ScriptedEndpointOptions } from '../../scripted/server.ts';
import { makePng } from '../helpers/png.ts';

const MODELS = { classify: 'm', plan: 'm', code: 'm', repair: 'm', judge: 'v', quiz: 'm', answer: 'v' };
const ZERO = { classify: 0, plan: 0, code: 0, repair: 0, judge: 0, quiz: 0, answer: 0 };
const ANSWER = '{"verdict": "drawable"}';
const schema = { name: 'verdict', schema: z.object({ verdict: z.string() }) };

let endpoint: ScriptedEndpoint | undefined;
afterEach(async () => {
  await endpoint?.close();
  endpoint = undefined;
  vi.restoreAllMocks();
});

async function settingsFor(
  endpointOptions: Partial<ScriptedEndpointOptions>,
  extra: Partial<ModelCallSettings> = {},
  timeoutMs = 5000,
): Promise<ModelCallSettings> {
  endpoint = await startScriptedEndpoint({
    script: { problems: { p: { classify: ANSWER, judge: 'scores', answer: 'B' } } },
    recordBodies: true,
    ...endpointOptions,
  });
  return {
    provider: createOpenAiProvider({ apiKey: 'sk-test-modes', baseURL: endpoint.openAiBaseUrl, timeoutMs }),
    models: MODELS,
    temperatures: ZERO,
    prices: { m: { input: 0, output: 0 }, v: { input: 0, output: 0 } },
    ...extra,
  };
}

const classifyCall: ModelCall = {
  step: 'classify',
  problemId: 'p',
  system: 'Answer in JSON.',
  parts: [{ type: 'text', text: 'Is it drawable?' }],
  responseSchema: schema,
};

/** The step-down lines logged (outside an activity, to the console); other warnings (unpriced models) left out. */
const stepDowns = (warn: { mock: { calls: unknown[][] } }): string[] =>
  warn.mock.calls.map((call) => String(call[0])).filter((line) => line.startsWith('structured output:'));

const formatsSent = () =>
  endpoint!.requests
    .filter((request) => request.problem === 'p')
    .map((request) => {
      const format = (request.body as { response_format?: { type: string; schema?: unknown } }).response_format;
      return [format ? `${format.type}${format.schema ? '+schema' : ''}` : 'none', request.status];
    });

describe('structured output at run time', () => {
  it('auto steps down once from json_schema to json_object with the schema on llama-cpp-python, and stays there', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    const settings = await settingsFor({ responseFormats: 'llama-cpp-python' }, { structuredOutput: 'auto' });
    expect((await callModel(settings, classifyCall)).text).toBe(ANSWER);
    expect((await callModel(settings, classifyCall)).text).toBe(ANSWER);
    expect(formatsSent()).toEqual([
      ['json_schema', 500],
      ['json_object+schema', 200],
      ['json_object+schema', 200],
    ]);
    expect(stepDowns(warn)).toEqual([
      'structured output: the server refused json_schema for model m; using json_object_schema from now on',
    ]);
  });

  it('auto falls to prompt on a server without JSON modes; concurrent calls step down together, each step logged once', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    const settings = await settingsFor({ responseFormats: 'text-only' }, { structuredOutput: 'auto' });
    const answers = await Promise.all([1, 2, 3].map(() => callModel(settings, classifyCall)));
    expect(answers.map((answer) => answer.text)).toEqual([ANSWER, ANSWER, ANSWER]);
    const sent = formatsSent();
    expect(sent.filter(([, status]) => status === 200)).toEqual([
      ['none', 200],
      ['none', 200],
      ['none', 200],
    ]);
    expect(stepDowns(warn).map((line) => line.replace(/.*refused (\S+) .*using (\S+).*/, '$1 -> $2'))).toEqual([
      'json_schema -> json_object_schema',
      'json_object_schema -> json_object',
      'json_object -> prompt',
    ]);
    // The next call goes straight to what works.
    await callModel(settings, classifyCall);
    expect(formatsSent().at(-1)).toEqual(['none', 200]);
  });

  it('a fixed json_schema does not step down: the refusal fails the step for good, in the server words', async () => {
    const settings = await settingsFor({ responseFormats: 'llama-cpp-python' }, { structuredOutput: 'json_schema' });
    const failure = await callModel(settings, classifyCall).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(ApplicationFailure);
    expect((failure as ApplicationFailure).nonRetryable).toBe(true);
    expect((failure as ApplicationFailure).message).toMatch(
      /^openai cannot serve the request \(500\): 1 validation error/,
    );
    expect(formatsSent()).toEqual([['json_schema', 500]]);
  });

  it('the booleans of older configs still mean json_schema and prompt', async () => {
    const on = await settingsFor({}, { structuredOutput: true });
    await callModel(on, classifyCall);
    expect(formatsSent()).toEqual([['json_schema', 200]]);
    await endpoint!.close();
    const off = await settingsFor({}, { structuredOutput: false });
    await callModel(off, classifyCall);
    expect(formatsSent()).toEqual([['none', 200]]);
  });
});

describe('the vision canary before image steps', () => {
  const judgeCall: ModelCall = {
    step: 'judge',
    problemId: 'p',
    parts: [
      { type: 'image', mimeType: 'image/png', data: makePng(64, 48) },
      { type: 'text', text: 'Score it.' },
    ],
  };

  it('refuses a blind model for good, naming what it answered, before the step is asked', async () => {
    const settings = await settingsFor({ vision: 'blind' }, { visionCanary: true });
    const failure = await callModel(settings, judgeCall).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(ApplicationFailure);
    expect(failure).toMatchObject({
      type: 'ModelDoesNotSee',
      nonRetryable: true,
      message:
        'model v does not see images (answered "It looks like a blue circle." to a canary it cannot answer blind)',
    });
    expect(endpoint!.count({ problem: 'p' })).toBe(0);
    // Remembered: the next image call is refused without another canary.
    await expect(callModel(settings, { ...judgeCall, step: 'answer' })).rejects.toThrow(/does not see images/);
    expect(endpoint!.count({ doctor: true })).toBe(1);
  });

  it('lets a seeing model through after one canary, shared by concurrent calls and later ones', async () => {
    const capabilities = new ModelCapabilities();
    const settings = await settingsFor({}, { visionCanary: true, capabilities });
    const answers = await Promise.all([callModel(settings, judgeCall), callModel(settings, judgeCall)]);
    expect(answers.map((answer) => answer.text)).toEqual(['scores', 'scores']);
    await callModel(settings, { ...judgeCall, step: 'answer' });
    expect(endpoint!.count({ doctor: true })).toBe(1);
    expect(endpoint!.requests.find((request) => request.problem === DOCTOR_PROBLEM_ID)).toMatchObject({
      step: 'judge',
      model: 'v',
      status: 200,
    });
    // Text-only steps never show the canary.
    await callModel(settings, classifyCall);
    expect(endpoint!.count({ doctor: true })).toBe(1);
  });
});

describe('request deadlines', () => {
  it('a server that sends headers and then stalls the body fails at the client timeout, as a retryable timeout', async () => {
    const settings = await settingsFor({}, {}, 400);
    endpoint!.addFaults({ problem: 'p', step: 'classify' }, { kind: 'stall-body' });
    const started = Date.now();
    const failure = await callModel(settings, classifyCall).catch((error: unknown) => error);
    expect(Date.now() - started).toBeLessThan(4000);
    expect(failure).toMatchObject({ type: 'ProviderTimeout', nonRetryable: false });
    expect((failure as Error).message).toBe('openai did not answer within 0.4s');
  });

  it('inside an activity, a request is given no more than the activity start-to-close timeout less a margin', async () => {
    // The client would wait 60 s; the activity has 12 s, so the request gets 2 s (12 s less the 10 s margin).
    const settings = await settingsFor({}, {}, 60_000);
    endpoint!.addFaults({ problem: 'p', step: 'classify' }, { kind: 'hang' });
    const activity = new MockActivityEnvironment({ startToCloseTimeoutMs: 12_000 });
    const started = Date.now();
    const failure = await activity.run(() => callModel(settings, classifyCall)).catch((error: unknown) => error);
    expect(Date.now() - started).toBeLessThan(8000);
    expect(failure).toMatchObject({ type: 'ProviderTimeout', message: 'openai did not answer within 2s' });
  });
});
