import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DOCTOR_PROBLEM_ID } from '../../doctor/canary.ts';
import type { ManifestRecord } from '../../domain/manifest.ts';
import { startScriptedEndpoint, type ScriptedEndpoint } from '../../scripted/server.ts';
import { createCliSandbox, readJsonLines, writeProblemsFile } from '../helpers/cli.ts';
import {
  llamaServerTestsOptedOut,
  startLlamaCppPythonServer,
  startLlamaServer,
  writeTinyModel,
  type ModelServer,
} from '../helpers/llama-server.ts';
import { loadSampleScript, samplesDirectory } from '../helpers/samples.ts';
import { useTemporaryDirectory } from '../helpers/temporary-directory.ts';

// A sample build end to end through the real CLI with the text steps served by a real llama.cpp
// server: one tiny model per text step (test/helpers/write-tiny-model.py), whose one fixed reply is
// that step's valid answer, with structured output on. The image steps (judge, answer and the
// doctor's vision canary for them) cannot run on a tiny text-only model: a small proxy sends them,
// by their `x-scigen-step` header, to the scripted endpoint, which answers the canary from the
// decoded picture and judges and answers from samples/scripted-responses.json.

/** Two sample problems that bring their own quizzes (no quiz step), both accepted by the sample script. */
const PROBLEM_IDS = ['math-cuboid-diagonal', 'univ-depot-network'];
const IMAGE_STEPS = new Set(['image', 'judge', 'answer', 'visual-answer']);
const JUDGE_MODEL = 'scripted-judge';

/** Each step's whole answer, in the key order of its schema and without whitespace in the JSON: what a grammar admits. */
const CLASSIFY_REPLY =
  '{"visualizable":true,"reason":"A labelled figure helps.","subject":"Math","image_type":"Math - Solid Geometric"}';
const PLAN_REPLY =
  '{"content":["the figure the question describes"],"layout":["centred"],' +
  '"labels":["every given length"],"constraints":["no computed answer"]}';
const SCRIPT = [
  'import matplotlib.pyplot as plt',
  'fig, ax = plt.subplots()',
  'ax.plot([0, 4, 4, 0], [0, 0, 3, 0])',
  'ax.set_title("Drawn by a tiny model")',
  '',
].join('\n');
const CODE_REPLY = '```python\n' + SCRIPT + '```';

interface ForwardedRequest {
  step: string | null;
  problem: string | null;
  model: string | null;
  /** `response_format.type`, and whether a schema came with it. */
  responseFormat: string | null;
  schema: boolean;
  target: 'llama' | 'scripted';
  status: number;
}

interface StepProxy {
  baseUrl: string;
  requests: ForwardedRequest[];
  close(): Promise<void>;
}

/**
 * Forwards each request by its `x-scigen-step` header: image steps to the scripted endpoint, the
 * rest to the llama.cpp server of the model asked for. The body is buffered (to read the model and
 * response format for the log) and sent on unchanged; the answer is piped back as it comes.
 */
async function startStepProxy(routes: {
  scripted: string;
  llama: (model: string | null) => string;
}): Promise<StepProxy> {
  const requests: ForwardedRequest[] = [];
  const server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = Buffer.concat(chunks);
      const step = header(request.headers['x-scigen-step']);
      let parsed: { model?: string; response_format?: { type?: string; schema?: unknown } } = {};
      try {
        parsed = JSON.parse(body.toString('utf8')) as typeof parsed;
      } catch {
        // Not JSON (a GET): forwarded all the same.
      }
      const model = parsed.model ?? null;
      const target = step !== null && IMAGE_STEPS.has(step) ? 'scripted' : 'llama';
      const origin = new URL(target === 'scripted' ? routes.scripted : routes.llama(model));
      const { host: _host, ...headers } = request.headers;
      const upstream = http.request(
        { host: origin.hostname, port: origin.port, method: request.method, path: request.url, headers },
        (answer) => {
          requests.push({
            step,
            problem: header(request.headers['x-scigen-problem']),
            model,
            responseFormat: parsed.response_format?.type ?? null,
            schema: parsed.response_format?.schema !== undefined,
            target,
            status: answer.statusCode ?? 0,
          });
          response.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(response);
        },
      );
      upstream.on('error', () => response.destroy());
      upstream.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function header(value: string | string[] | undefined): string | null {
  return typeof value === 'string' ? value : null;
}

async function sampleProblems(): Promise<unknown[]> {
  const lines = readJsonLines<{ id: string }>(await readFile(join(samplesDirectory, 'problems.jsonl'), 'utf8'));
  return PROBLEM_IDS.map((id) => lines.find((problem) => problem.id === id)!);
}

interface BuildOutcome {
  exitCode: number | undefined;
  output: string;
  stateDirectory: string;
  manifest: ManifestRecord[];
  requests: ForwardedRequest[];
}

/** `scigen build` of the two problems, the text steps on the tiny models of `models`, behind the step proxy. */
async function buildAgainst(options: {
  name: string;
  scripted: ScriptedEndpoint;
  llama: (model: string | null) => string;
  models: { classify: string; plan: string; code: string };
  structuredOutput: 'auto' | true;
}): Promise<BuildOutcome> {
  const proxy = await startStepProxy({ scripted: options.scripted.url, llama: options.llama });
  try {
    const sandbox = await createCliSandbox(options.name, {
      OPENAI_API_KEY: 'local-server-needs-no-key',
      OPENAI_BASE_URL: proxy.baseUrl,
    });
    const { classify, plan, code } = options.models;
    const models = {
      classify,
      plan,
      code,
      repair: code,
      refine: code,
      quiz: classify,
      judge: JUDGE_MODEL,
      answer: JUDGE_MODEL,
    };
    const configFile = join(sandbox.stateDirectory, 'llama-build.json');
    const prices = Object.fromEntries(Object.values(models).map((model) => [model, { input: 0, output: 0 }]));
    await writeFile(
      configFile,
      JSON.stringify({ openai: { structuredOutput: options.structuredOutput, models }, prices }),
    );
    const inputFile = await writeProblemsFile(`${options.name}-input`, await sampleProblems());
    const result = await sandbox.run([
      'build',
      inputFile,
      '--build-id',
      options.name,
      '--no-progress',
      '--config',
      configFile,
    ]);
    const manifestPath = join(sandbox.stateDirectory, 'artifacts', 'builds', options.name, 'manifest.jsonl');
    const manifest = readJsonLines<ManifestRecord>(await readFile(manifestPath, 'utf8').catch(() => ''));
    return {
      exitCode: result.exitCode,
      output: result.all ?? '',
      stateDirectory: sandbox.stateDirectory,
      manifest,
      requests: [...proxy.requests],
    };
  } finally {
    await proxy.close();
  }
}

/** What every such build must show: the preflight passed, both problems accepted, the tiny models' answers in the artifacts. */
async function expectTinyModelBuild(outcome: BuildOutcome, models: { classify: string; plan: string; code: string }) {
  expect(outcome.exitCode, outcome.output).toBe(0);
  expect(outcome.output).toMatch(/^preflight: every step's model answers \(openai /m);
  expect(outcome.manifest.map((record) => record.id).sort()).toEqual([...PROBLEM_IDS].sort());
  const byId = new Map(outcome.manifest.map((record) => [String(record.id), record]));
  // The scripted judge gives full marks to both; the cuboid's three answers are right, the depot
  // network's three of four (R_inv 0.75, exactly at the bar).
  const fullMarks = {
    correctness_fidelity: 2,
    layout_precision: 2,
    readability_occlusion: 2,
    scientific_plausibility: 2,
    expressiveness_richness: 2,
  };
  expect(byId.get('math-cuboid-diagonal')).toMatchObject({ verdict: 'accepted', r_inv: 1, judge: fullMarks });
  expect(byId.get('univ-depot-network')).toMatchObject({ verdict: 'accepted', r_inv: 0.75, judge: fullMarks });

  for (const record of outcome.manifest) {
    const id = String(record.id);
    expect(record, id).toMatchObject({
      render_attempts: 1,
      classified: { subject: 'Math', image_type: 'Math - Solid Geometric' },
    });
    // The classify, plan and code artifacts hold the tiny models' fixed replies, as the server sent them.
    const problemFolder = join(fileURLToPath(record.plan!), '..');
    const classification = JSON.parse(await readFile(join(problemFolder, 'classification.json'), 'utf8')) as {
      answer: string;
    };
    expect(classification.answer, id).toBe(CLASSIFY_REPLY);
    expect(JSON.parse(await readFile(fileURLToPath(record.plan!), 'utf8')), id).toMatchObject(JSON.parse(PLAN_REPLY));
    expect(await readFile(fileURLToPath(record.code!), 'utf8'), id).toBe(SCRIPT);
    const codeAnswer = await readFile(join(fileURLToPath(record.code!), '..', 'code-answer.md'), 'utf8');
    expect(codeAnswer, id).toBe(CODE_REPLY);
    // The figure the script drew.
    const image = await readFile(fileURLToPath(record.image!));
    expect(image.subarray(1, 4).toString('latin1'), id).toBe('PNG');
    expect(image.length, id).toBeGreaterThan(1_000);
  }

  // Every text step went to the llama.cpp server and was answered there; the image steps (and the
  // canary for them) to the scripted endpoint.
  const build = outcome.requests.filter((request) => request.problem !== DOCTOR_PROBLEM_ID);
  for (const step of ['classify', 'plan', 'code']) {
    const served = build.filter((request) => request.step === step);
    expect(
      served.map((request) => [request.target, request.status, request.model]),
      step,
    ).toEqual(PROBLEM_IDS.map(() => ['llama', 200, models[step as 'classify' | 'plan' | 'code']]));
  }
  expect(build.filter((request) => request.step === 'judge').map((request) => request.target)).toEqual([
    'scripted',
    'scripted',
  ]);
  expect(build.filter((request) => request.step === 'answer')).toHaveLength(7);
  const canaries = outcome.requests.filter(
    (request) => request.problem === DOCTOR_PROBLEM_ID && request.target === 'scripted',
  );
  expect(canaries.length).toBeGreaterThan(0);
  expect(canaries.every((request) => request.model === JUDGE_MODEL && request.status === 200)).toBe(true);
}

describe.skipIf(llamaServerTestsOptedOut)('a sample build against a real llama.cpp server', () => {
  const directory = useTemporaryDirectory('llama-build');
  let scripted: ScriptedEndpoint;
  const servers: ModelServer[] = [];
  let tinyModels: Awaited<ReturnType<typeof writeTinyModel>>[];

  beforeAll(async () => {
    scripted = await startScriptedEndpoint({ script: await loadSampleScript() });
    tinyModels = await Promise.all(
      [CLASSIFY_REPLY, PLAN_REPLY, CODE_REPLY].map((reply) =>
        writeTinyModel(directory.path, { template: 'plain', reply, exact: true }),
      ),
    );
  });
  afterAll(async () => {
    await Promise.all([scripted?.close(), ...servers.map((server) => server.stop())]);
  });

  it("llama-cpp-python's server, structuredOutput auto: the preflight steps down to json_object with the schema, and both problems are accepted", async () => {
    const [classify, plan, code] = tinyModels;
    const server = await startLlamaCppPythonServer({
      directory: directory.path,
      models: [
        { alias: 'tiny-classify', model: classify! },
        { alias: 'tiny-plan', model: plan! },
        { alias: 'tiny-code', model: code! },
      ],
    });
    servers.push(server);
    const models = { classify: 'tiny-classify', plan: 'tiny-plan', code: 'tiny-code' };
    const outcome = await buildAgainst({
      name: 'llama-cpp-python-build',
      scripted,
      llama: () => server.baseUrl,
      models,
      structuredOutput: 'auto',
    });
    await expectTinyModelBuild(outcome, models);
    // The preflight's probe of each JSON model: json_schema refused with a 500, then json_object
    // with the schema taken; the build's JSON steps then ask in that mode from the start.
    for (const model of ['tiny-classify', 'tiny-plan']) {
      const probes = outcome.requests.filter(
        (request) => request.problem === DOCTOR_PROBLEM_ID && request.model === model,
      );
      expect(
        probes.map((request) => [request.responseFormat, request.schema, request.status]),
        model,
      ).toEqual([
        ['json_schema', false, 500],
        ['json_object', true, 200],
      ]);
    }
    const jsonSteps = outcome.requests.filter(
      (request) => request.problem !== DOCTOR_PROBLEM_ID && (request.step === 'classify' || request.step === 'plan'),
    );
    expect(jsonSteps.every((request) => request.responseFormat === 'json_object' && request.schema)).toBe(true);
  }, 300_000);

  it("llama.cpp's llama-server, structuredOutput json_schema: the grammar from each step's schema admits the fixed answers", async () => {
    const aliases = ['tiny-classify', 'tiny-plan', 'tiny-code'];
    const started = await Promise.all(
      aliases.map((alias, index) => startLlamaServer({ directory: directory.path, alias, model: tinyModels[index]! })),
    );
    servers.push(...started);
    const byModel = new Map(aliases.map((alias, index) => [alias, started[index]!.baseUrl]));
    const models = { classify: 'tiny-classify', plan: 'tiny-plan', code: 'tiny-code' };
    const outcome = await buildAgainst({
      name: 'llama-server-build',
      scripted,
      // The doctor's probes name the model too; a request without one cannot be a model call.
      llama: (model) => byModel.get(model ?? '') ?? started[0]!.baseUrl,
      models,
      structuredOutput: true,
    });
    await expectTinyModelBuild(outcome, models);
    const jsonSteps = outcome.requests.filter((request) => request.step === 'classify' || request.step === 'plan');
    expect(jsonSteps.length).toBeGreaterThan(0);
    expect(jsonSteps.every((request) => request.responseFormat === 'json_schema' && request.status === 200)).toBe(true);
  }, 300_000);
});
