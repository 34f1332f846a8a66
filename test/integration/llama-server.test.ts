import { ApplicationFailure } from '@temporalio/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLlmActivities } from '../../activities/index.ts';
import { loadPrompts } from '../../activities/prompts.ts';
import { readEnvironment } from '../../config/environment.ts';
import type { Config } from '../../config/schema.ts';
import { doctorForConfig } from '../../doctor/doctor.ts';
import { loadConfig } from '../../config/load.ts';
import { chooseProvider } from '../../config/provider.ts';
import type { Problem } from '../../domain/types.ts';
import { providerFailureDetails } from '../../providers/errors.ts';
import type { ModelProvider, ModelRequest } from '../../providers/provider.ts';
import {
  classificationKey,
  codeVersionFiles,
  codeVersionFolder,
  stagedProblemKey,
} from '../../storage/build-layout.ts';
import type { ArtifactStore } from '../../storage/artifact-store.ts';
import { createModelRuntime, createStore } from '../../workers/runtime.ts';
import {
  BLIND_JUDGE_REPLY,
  TINY_MODEL_REPLY,
  llamaServerTestsOptedOut,
  startImageDroppingModelServer,
  startLlamaCppPythonServer,
  startLlamaServer,
  writeTinyModel,
  type ModelServer,
} from '../helpers/llama-server.ts';
import { makePng } from '../helpers/png.ts';
import { useTemporaryDirectory } from '../helpers/temporary-directory.ts';

// scigen's own model-call path against real OpenAI-compatible servers: the config as a user writes
// it (OPENAI_BASE_URL, structuredOutput), the llm worker's runtime, the step activities and the
// real openai SDK. The servers are llama.cpp's, built by `npm test`'s setup; the models are tiny
// GGUF files written here, whose free-text answer is fixed (test/helpers/write-tiny-model.py).

const PROBLEM: Problem = {
  id: 'incline',
  question: 'A 5.0 kg block rests on a frictionless incline of 30 degrees. Find its acceleration.',
  extra: {},
};
const FIGURE = makePng(64, 48);
const prompts = loadPrompts();

interface StepRunner {
  config: Config;
  activities: ReturnType<typeof createLlmActivities>;
  provider: ModelProvider;
  store: ArtifactStore;
}

/** The llm worker's model runtime and activities for a server, as `scigen worker --queue llm` builds them. */
async function stepsAgainst(
  server: ModelServer,
  directory: string,
  options: { model?: string; structuredOutput: boolean | 'auto' },
): Promise<StepRunner> {
  const model = options.model ?? server.model;
  const config = loadConfig({
    environment: readEnvironment({ OPENAI_API_KEY: 'local-server-needs-no-key', OPENAI_BASE_URL: server.baseUrl }),
    explicit: {
      stateDirectory: directory,
      openai: {
        structuredOutput: options.structuredOutput,
        models: { classify: model, plan: model, code: model, repair: model, judge: model, quiz: model, answer: model },
      },
      prices: { [model]: { input: 0, output: 0 } },
    },
  });
  const runtime = await createModelRuntime(config, chooseProvider(config, { allowScripted: false }));
  const store = createStore(config);
  return {
    config,
    activities: createLlmActivities({ model: runtime.model, store }),
    provider: runtime.model.provider,
    store,
  };
}

let stagedProblems = 0;
/** Stages PROBLEM under a fresh key (and its figure, for the image steps) and returns the references. */
async function stage(store: ArtifactStore) {
  const location = { buildId: 'real-servers', problemKey: `incline-${++stagedProblems}`, generator: 'imgcoder' };
  await store.put(stagedProblemKey(location), JSON.stringify(PROBLEM), 'application/json');
  const imageKey = codeVersionFiles(codeVersionFolder(location, { attempt: 1 })).figure(0);
  await store.put(imageKey, FIGURE, 'image/png');
  return { ...location, problemId: PROBLEM.id, imageKey, round: 0 };
}

/** The failure a step threw: provider failures reach the activity's caller as ApplicationFailures. */
async function failureOf(work: Promise<unknown>): Promise<ApplicationFailure> {
  const outcome = await work.then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  );
  if (!('error' in outcome)) throw new Error(`expected a failure, got ${JSON.stringify(outcome.value)}`);
  expect(outcome.error).toBeInstanceOf(ApplicationFailure);
  return outcome.error as ApplicationFailure;
}

/** The texts of the judge request with the figure left out: what a server that drops images reads. */
function judgeRequestWithoutFigure(model: string): ModelRequest {
  return {
    step: 'judge',
    problemId: String(PROBLEM.id),
    model,
    system: prompts.render('judge.system'),
    parts: [{ type: 'text', text: prompts.render('judge.user', { question: PROBLEM.question }) }],
    temperature: 0.1,
  };
}

describe.skipIf(llamaServerTestsOptedOut)("llama-cpp-python's server", () => {
  const directory = useTemporaryDirectory('llama-cpp-python');
  let server: ModelServer;
  let blindServer: ModelServer;

  beforeAll(async () => {
    const [plain, listAware] = await Promise.all([
      writeTinyModel(directory.path, { template: 'plain' }),
      writeTinyModel(directory.path, { template: 'list-aware', reply: 'The second model answers.' }),
    ]);
    [server, blindServer] = await Promise.all([
      startLlamaCppPythonServer({
        directory: directory.path,
        models: [
          { alias: 'tiny-plain', model: plain },
          { alias: 'tiny-list-aware', model: listAware },
        ],
      }),
      startImageDroppingModelServer(directory.path),
    ]);
  });
  afterAll(async () => {
    await Promise.all([server?.stop(), blindServer?.stop()]);
  });

  it('answers a free-text step with 200; scigen reads the reply as any other and fails the step for its lack of JSON', async () => {
    const { activities, store } = await stepsAgainst(server, directory.path, { structuredOutput: false });
    const problem = await stage(store);
    const outcome = await activities.classifyProblem(problem);
    expect(outcome).toMatchObject({ ok: false, reason: 'classify answer has no JSON object' });
    expect(outcome.usage).toMatchObject({ output_tokens: 4, cost_usd: 0 });
    expect(outcome.usage.input_tokens).toBeGreaterThan(400);
    const stored = JSON.parse(await store.getText(classificationKey(problem))) as { answer: string };
    expect(stored.answer).toBe(TINY_MODEL_REPLY);
  });

  it('refuses response_format json_schema with a 500 validation error, which scigen fails at once with the server words', async () => {
    const { activities, store } = await stepsAgainst(server, directory.path, { structuredOutput: true });
    const failure = await failureOf(activities.classifyProblem(await stage(store)));
    expect(failure.type).toBe('ProviderBadRequest');
    expect(failure.nonRetryable).toBe(true);
    expect(failure.message).toMatch(
      /^openai cannot serve the request \(500\): 1 validation error: \{'type': 'literal_error', 'loc': \('body', 'response_format', 'type'\), 'msg': "Input should be 'text' or 'json_object'", 'input': 'json_schema'/,
    );
    expect(providerFailureDetails(failure)).toMatchObject({ provider: 'openai', step: 'classify', status: 500 });
  });

  it('structuredOutput auto: the 500 on json_schema steps scigen down to json_object with the schema, whose JSON the step parses', async () => {
    const { activities, store } = await stepsAgainst(server, directory.path, { structuredOutput: 'auto' });
    const outcome = await activities.classifyProblem(await stage(store));
    expect(outcome).toMatchObject({ ok: true, value: { visualizable: false, reason: '' } });
  });

  it('scigen doctor finds the mode that works, and refuses the image steps of a model that fails the vision canary', async () => {
    const { config } = await stepsAgainst(server, directory.path, { structuredOutput: 'auto' });
    const report = await doctorForConfig(config, 'openai');
    expect(report.ok).toBe(false);
    const row = (step: string) => report.rows.find((candidate) => candidate.step === step)!;
    expect(row('classify')).toMatchObject({
      reachable: true,
      modelExists: true,
      structuredOutput: 'json_object_schema',
      problem: null,
    });
    for (const step of ['judge', 'answer']) {
      expect(row(step), step).toMatchObject({ reachable: true, vision: 'blind' });
      expect(row(step).problem, step).toMatch(
        /^model tiny-plain does not see images \(answered ".*" to a canary it cannot answer blind\)$/,
      );
    }
  });

  it('serves a model name it does not know with its first model, and scigen cannot tell', async () => {
    const unknown = 'no-such-model';
    const runner = await stepsAgainst(server, directory.path, { model: unknown, structuredOutput: false });
    const response = await runner.provider.generate({
      step: 'classify',
      problemId: String(PROBLEM.id),
      model: unknown,
      parts: [{ type: 'text', text: 'Which model answers?' }],
    });
    // The first model's reply, under the name asked for: no error, no other name to notice.
    expect(response).toMatchObject({ text: TINY_MODEL_REPLY, model: unknown, finishReason: 'stop' });
    const outcome = await runner.activities.classifyProblem(await stage(runner.store));
    expect(outcome).toMatchObject({ ok: false, reason: 'classify answer has no JSON object' });
  });

  it('answers an image request to a text-only model with 200 and the image dropped; the vision canary refuses it before it judges', async () => {
    // What the server does: 200, full marks, and a prompt exactly as long as the one without the figure.
    const runner = await stepsAgainst(blindServer, directory.path, { structuredOutput: false });
    const withFigure = await runner.provider.generate({
      ...judgeRequestWithoutFigure(blindServer.model),
      parts: [
        ...judgeRequestWithoutFigure(blindServer.model).parts,
        { type: 'image', data: FIGURE, mimeType: 'image/png' },
      ],
    });
    const textOnly = await runner.provider.generate(judgeRequestWithoutFigure(blindServer.model));
    expect(withFigure.text).toBe(BLIND_JUDGE_REPLY);
    expect(withFigure.usage.inputTokens).toBe(textOnly.usage.inputTokens);
    // What scigen does: the judge step asks the canary first, and the model fails it.
    const failure = await failureOf(runner.activities.judgeImage(await stage(runner.store)));
    expect(failure.type).toBe('ModelDoesNotSee');
    expect(failure.nonRetryable).toBe(true);
    expect(failure.message).toMatch(
      new RegExp(
        `^model ${blindServer.model} does not see images \\(answered ".*" to a canary it cannot answer blind\\)$`,
      ),
    );
  });
});

describe.skipIf(llamaServerTestsOptedOut)("llama.cpp's llama-server", () => {
  const directory = useTemporaryDirectory('llama-server');
  let server: ModelServer;

  beforeAll(async () => {
    const model = await writeTinyModel(directory.path, { template: 'list-aware' });
    server = await startLlamaServer({ directory: directory.path, alias: 'tiny-list-aware', model });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('answers a free-text step with 200; scigen fails the step for its lack of JSON', async () => {
    const { activities, store } = await stepsAgainst(server, directory.path, { structuredOutput: false });
    const problem = await stage(store);
    const outcome = await activities.classifyProblem(problem);
    expect(outcome).toMatchObject({ ok: false, reason: 'classify answer has no JSON object' });
    const stored = JSON.parse(await store.getText(classificationKey(problem))) as { answer: string };
    expect(stored.answer).toBe(TINY_MODEL_REPLY);
  });

  it("takes response_format json_schema and answers JSON that scigen's classify step accepts", async () => {
    const { activities, store } = await stepsAgainst(server, directory.path, { structuredOutput: true });
    const outcome = await activities.classifyProblem(await stage(store));
    expect(outcome).toMatchObject({ ok: true, value: { visualizable: false, reason: '' } });
  });

  it('refuses an image without a vision projector with a 500, which scigen fails at once with the server words', async () => {
    const { activities, store } = await stepsAgainst(server, directory.path, { structuredOutput: false });
    const failure = await failureOf(activities.judgeImage(await stage(store)));
    expect(failure.type).toBe('ProviderBadRequest');
    expect(failure.nonRetryable).toBe(true);
    expect(failure.message).toBe(
      'openai cannot serve the request (500): image input is not supported - hint: if this is unexpected, you may need to provide the mmproj',
    );
    expect(providerFailureDetails(failure)).toMatchObject({ provider: 'openai', step: 'judge', status: 500 });
  });

  it('serves a model name it does not know with its one model, under its own name', async () => {
    const runner = await stepsAgainst(server, directory.path, { model: 'no-such-model', structuredOutput: false });
    const response = await runner.provider.generate({
      step: 'classify',
      problemId: String(PROBLEM.id),
      model: 'no-such-model',
      parts: [{ type: 'text', text: 'Which model answers?' }],
    });
    // No error: the reply names the model that did answer, which is the one place a client could notice.
    expect(response).toMatchObject({ text: TINY_MODEL_REPLY, model: server.model, finishReason: 'stop' });
    const outcome = await runner.activities.classifyProblem(await stage(runner.store));
    expect(outcome).toMatchObject({ ok: false, reason: 'classify answer has no JSON object' });
  });
});
