import { afterEach, describe, expect, it } from 'vitest';
import { DOCTOR_PROBLEM_ID } from '../../doctor/canary.ts';
import { runDoctor, type DoctorOptions } from '../../doctor/doctor.ts';
import { ModelCapabilities } from '../../doctor/model-capabilities.ts';
import { configuredStepModels, STEP_NEEDS, type StepModel } from '../../doctor/steps.ts';
import { readEnvironment } from '../../config/environment.ts';
import { loadConfig } from '../../config/load.ts';
import { findFreePort } from '../../infra/dev-server.ts';
import { createOpenAiProvider } from '../../providers/openai.ts';
import { structuredOutputModes } from '../../providers/structured-output.ts';
import { startScriptedEndpoint, type ScriptedEndpoint, type ScriptedEndpointOptions } from '../../scripted/server.ts';

const STEPS: StepModel[] = (['classify', 'plan', 'code', 'judge', 'answer'] as const).map((step) => ({
  step,
  model: step === 'plan' || step === 'code' ? 'big-model' : 'vision-model',
  needs: STEP_NEEDS[step],
}));

let endpoint: ScriptedEndpoint | undefined;
afterEach(async () => {
  await endpoint?.close();
  endpoint = undefined;
});

async function doctorAgainst(
  endpointOptions: Partial<ScriptedEndpointOptions>,
  options: Partial<DoctorOptions> = {},
): Promise<ReturnType<typeof runDoctor>> {
  endpoint = await startScriptedEndpoint({ script: { problems: {} }, ...endpointOptions });
  return runDoctor({
    provider: createOpenAiProvider({ apiKey: 'sk-test-doctor', baseURL: endpoint.openAiBaseUrl, timeoutMs: 5000 }),
    server: 'the test server',
    steps: STEPS,
    structuredOutputModes: structuredOutputModes('openai', 'auto'),
    ...options,
  });
}

describe('runDoctor', () => {
  it('passes a seeing server: every step reachable, its model there, JSON in json_schema, the canary read', async () => {
    const report = await doctorAgainst({});
    expect(report.ok).toBe(true);
    expect(report.rows.map((row) => [row.step, row.structuredOutput, row.vision, row.problem])).toEqual([
      ['classify', 'json_schema', null, null],
      ['plan', 'json_schema', null, null],
      ['code', null, null, null],
      ['judge', 'json_schema', 'sees', null],
      ['answer', null, 'sees', null],
    ]);
    for (const row of report.rows) {
      expect(row).toMatchObject({ reachable: true, modelExists: true, warning: null });
      expect(row.latencyMs).toBeGreaterThanOrEqual(0);
    }
    // One JSON probe per model (two models), one canary for the vision model; nothing outside the doctor.
    expect(endpoint!.count({ doctor: true })).toBe(3);
    expect(endpoint!.count({ doctor: false })).toBe(0);
  });

  it('refuses a blind model for the image steps with what it answered, and only those steps', async () => {
    const report = await doctorAgainst({ vision: 'blind' });
    expect(report.ok).toBe(false);
    const problems = Object.fromEntries(report.rows.map((row) => [row.step, row.problem]));
    const refusal =
      'model vision-model does not see images (answered "It looks like a blue circle." to a canary it cannot answer blind)';
    expect(problems).toEqual({ classify: null, plan: null, code: null, judge: refusal, answer: refusal });
    expect(report.rows.find((row) => row.step === 'judge')!.vision).toBe('blind');
  });

  it('names a model the server does not have, in the server words, with model exists false', async () => {
    const report = await doctorAgainst({ models: ['vision-model'] });
    const plan = report.rows.find((row) => row.step === 'plan')!;
    expect(plan).toMatchObject({ reachable: true, modelExists: false, structuredOutput: null });
    expect(plan.problem).toBe(
      'openai has no model "big-model" or no such endpoint (404): The model `big-model` does not exist or you do not have access to it.',
    );
    expect(report.rows.find((row) => row.step === 'code')!.problem).toBe(plan.problem);
    expect(report.rows.find((row) => row.step === 'judge')!.problem).toBeNull();
  });

  it("finds llama-cpp-python's mode: json_schema refused with a 500 naming response_format, json_object with the schema taken", async () => {
    const capabilities = new ModelCapabilities();
    const report = await doctorAgainst({ responseFormats: 'llama-cpp-python', recordBodies: true }, { capabilities });
    expect(report.ok).toBe(true);
    expect(report.rows.find((row) => row.step === 'classify')!.structuredOutput).toBe('json_object_schema');
    const probes = endpoint!.requests.filter((request) => request.step === 'classify');
    expect(probes.map((request) => request.status)).toEqual([500, 200]);
    expect((probes[1]!.body as { response_format: unknown }).response_format).toMatchObject({
      type: 'json_object',
      schema: { type: 'object', properties: { ok: { type: 'boolean' } } },
    });
    // What the probe found is what the workers of this process use.
    expect(capabilities.structuredMode('vision-model', structuredOutputModes('openai', 'auto'))).toBe(
      'json_object_schema',
    );
  });

  it('steps down to prompt on a server that takes no response_format at all', async () => {
    const report = await doctorAgainst({ responseFormats: 'text-only' });
    expect(report.ok).toBe(true);
    expect(report.rows.find((row) => row.step === 'classify')!.structuredOutput).toBe('prompt');
    expect(
      endpoint!.requests.filter((request) => request.step === 'classify').map((request) => request.status),
    ).toEqual([400, 400, 400, 200]);
  });

  it('reports a fixed json_schema mode the server refuses as the JSON steps problem, in the server words', async () => {
    const report = await doctorAgainst(
      { responseFormats: 'llama-cpp-python' },
      { structuredOutputModes: structuredOutputModes('openai', 'json_schema') },
    );
    const classify = report.rows.find((row) => row.step === 'classify')!;
    expect(classify.structuredOutput).toBeNull();
    expect(classify.problem).toMatch(
      /^the server takes none of the structured-output modes tried \(json_schema\); the last refusal: openai cannot serve the request \(500\): 1 validation error .*response_format\.type/,
    );
    expect(report.rows.find((row) => row.step === 'code')!.problem).toBeNull();
    expect(report.rows.find((row) => row.step === 'answer')!.problem).toBeNull();
  });

  it('says a server that is not there is unreachable, for every step', async () => {
    const port = await findFreePort();
    const report = await runDoctor({
      provider: createOpenAiProvider({
        apiKey: 'sk-test-doctor',
        baseURL: `http://127.0.0.1:${port}/v1`,
        timeoutMs: 5000,
      }),
      server: 'nothing',
      steps: STEPS,
      structuredOutputModes: structuredOutputModes('openai', 'auto'),
    });
    expect(report.ok).toBe(false);
    for (const row of report.rows) {
      expect(row).toMatchObject({ reachable: false, modelExists: null, latencyMs: null });
      expect(row.problem).toBe('could not connect to openai (connection refused)');
    }
  });

  it('shows a model the canary once per process: a second doctor with the same capabilities asks no canary', async () => {
    const capabilities = new ModelCapabilities();
    await doctorAgainst({}, { capabilities });
    const canaries = () =>
      endpoint!.requests.filter((request) => request.problem === DOCTOR_PROBLEM_ID && request.step === 'judge').length;
    const first = canaries();
    const provider = createOpenAiProvider({ apiKey: 'sk-test', baseURL: endpoint!.openAiBaseUrl, timeoutMs: 5000 });
    const again = await runDoctor({
      provider,
      server: 'again',
      steps: STEPS.filter((step) => step.step === 'answer'),
      structuredOutputModes: ['prompt'],
      capabilities,
    });
    expect(again.rows[0]!.vision).toBe('sees');
    expect(canaries()).toBe(first);
    expect(endpoint!.count({ step: 'answer' })).toBe(0);
  });
});

describe('configuredStepModels', () => {
  const load = (explicit: Record<string, unknown>) =>
    loadConfig({ explicit, environment: readEnvironment({}), baseDirectory: '/work/project' });

  it('checks the steps the build will call: refine with refinement rounds, the VE steps under scigenbench', () => {
    expect(configuredStepModels(load({}), 'openai').map((step) => step.step)).toEqual([
      'classify',
      'plan',
      'code',
      'repair',
      'refine',
      'judge',
      'quiz',
      'answer',
    ]);
    const benchmark = configuredStepModels(load({ protocol: 'scigenbench' }), 'openai');
    expect(benchmark.map((step) => [step.step, step.model, step.needs])).toEqual([
      ['classify', 'gpt-4.1-mini', { json: true, vision: false }],
      ['plan', 'gpt-4.1', { json: true, vision: false }],
      ['code', 'gpt-4.1', { json: false, vision: false }],
      ['repair', 'gpt-4.1', { json: false, vision: false }],
      ['judge', 'gpt-4.1-mini', { json: true, vision: true }],
      ['quiz', 'gpt-4.1-mini', { json: true, vision: false }],
      ['answer', 'gpt-4.1-mini', { json: false, vision: true }],
      ['visual-answer', 'gpt-4.1-mini', { json: false, vision: true }],
      ['grade', 'gpt-4.1-mini', { json: true, vision: false }],
    ]);
  });

  it('adds the code steps of a code generator that names its own model', () => {
    const config = load({ generators: [{ name: 'qwen-coder', paradigm: 'code', model: 'qwen2.5-coder' }] });
    expect(
      configuredStepModels(config, 'openai')
        .filter((step) => step.generator)
        .map((step) => [step.step, step.model, step.generator]),
    ).toEqual([
      ['code', 'qwen2.5-coder', 'qwen-coder'],
      ['repair', 'qwen2.5-coder', 'qwen-coder'],
      ['refine', 'qwen2.5-coder', 'qwen-coder'],
    ]);
  });
});
