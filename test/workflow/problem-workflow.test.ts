import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Runtime, type Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createConsoleLogger } from '../../cli/logger.ts';
import { DEFAULT_FILTER_POLICY } from '../../domain/filter-policy.ts';
import type { ManifestRecord, Problem } from '../../domain/types.ts';
import { ensureDevServer, findFreePort, type DevServer } from '../../infra/dev-server.ts';
import { createOpenAiProvider } from '../../providers/openai.ts';
import { createRenderer } from '../../render/create-renderer.ts';
import { findPython } from '../../render/find-python.ts';
import { startScriptedEndpoint, type ScriptedEndpoint } from '../../scripted/server.ts';
import type { Script } from '../../scripted/script.ts';
import type { ArtifactStore } from '../../storage/artifact-store.ts';
import { createFileStore } from '../../storage/file-store.ts';
import { createLlmWorker, createRenderWorker, createWorkflowsWorker } from '../../workers/workers.ts';
import { problemWorkflowId, SEARCH_ATTRIBUTE_TYPES, type ProblemSettings } from '../../workflows/definitions.ts';
import { problemWorkflow } from '../../workflows/problem.ts';

const SCRIPT_PATH = (name: string) => `\`\`\`python\nimport matplotlib.pyplot as plt\nfig, ax = plt.subplots()\nax.plot([0, 1], [0, 1])\nax.set_title("${name}")\n\`\`\``;
const CLASSIFY = '{"visualizable": true, "reason": "a concrete setup", "subject": "Mathematics", "image_type": "Function Plot"}';
const PLAN = '{"content": ["a line"], "layout": ["centre"], "labels": ["y = x"], "constraints": ["no answer"]}';
const JUDGE_ALL_TWO = 'Fine. {"Correctness_Fidelity": 2, "Layout_Precision": 2, "Readability_Occlusion": 2, "Scientific_Plausibility": 2, "Expressiveness_Richness": 2}';
const QUIZ = { question: 'Which line is drawn?', options: { A: 'y = x', B: 'y = 2x', C: 'y = -x', D: 'x = 1' }, correct_option: 'A' as const };

const script: Script = {
  problems: {
    'auth-fails': { classify: CLASSIFY, plan: { fault: { status: 401, message: 'Incorrect API key provided' } } },
    'judge-garbage': { classify: CLASSIFY, plan: PLAN, code: SCRIPT_PATH('judge'), judge: 'The figure looks fine to me.' },
    'judge-out-of-range': {
      classify: CLASSIFY,
      plan: PLAN,
      code: SCRIPT_PATH('range'),
      judge: '{"Correctness_Fidelity": 3, "Layout_Precision": 2, "Readability_Occlusion": 2, "Scientific_Plausibility": 2, "Expressiveness_Richness": 2}',
    },
    'no-code-block': { classify: CLASSIFY, plan: PLAN, code: 'Here is what I would draw: a line.', repair: SCRIPT_PATH('repaired'), judge: JUDGE_ALL_TWO, answer: 'It is the identity line. Answer: A' },
    'rate-limited': {
      classify: [{ fault: { status: 429, retryAfterSeconds: 1, times: 2 } }, { text: '{"visualizable": false, "reason": "needs a missing figure", "subject": "Physics", "image_type": "Circuit"}' }],
    },
  },
};

Runtime.install({ logger: createConsoleLogger() });

describe('problemWorkflow on a real dev server, real activities and the scripted endpoint', () => {
  let server: DevServer;
  let endpoint: ScriptedEndpoint;
  let store: ArtifactStore;
  let client: Client;
  let workers: Worker[];
  let running: Promise<unknown>;
  const taskQueues = { workflows: `wf-test-${process.pid}`, llm: `llm-test-${process.pid}`, render: `render-test-${process.pid}` };
  const settings: ProblemSettings = {
    policy: DEFAULT_FILTER_POLICY,
    maxRenderAttempts: 3,
    dpi: 60,
    renderTimeoutSeconds: 20,
    llmMaxAttempts: 4,
    llmTimeoutSeconds: 20,
    taskQueues,
  };

  beforeAll(async () => {
    const directory = await mkdtemp(join(tmpdir(), 'scigen-workflow-'));
    server = await ensureDevServer({ port: await findFreePort(), uiPort: await findFreePort(), dbFile: join(directory, 'temporal.db'), searchAttributes: SEARCH_ATTRIBUTE_TYPES });
    endpoint = await startScriptedEndpoint({ script });
    store = createFileStore(join(directory, 'artifacts'));
    const connection = await NativeConnection.connect({ address: server.address });
    const common = { connection, namespace: 'default', store };
    const renderer = createRenderer({ python: await findPython(), workDirectory: join(directory, 'render') });
    const provider = createOpenAiProvider({ apiKey: 'sk-test-PLANTED-SECRET', baseURL: endpoint.openAiBaseUrl, timeoutMs: 10_000 });
    const steps = { classify: 'm', plan: 'm', code: 'm', repair: 'm', judge: 'm', quiz: 'm', answer: 'm' };
    workers = [
      await createWorkflowsWorker({ ...common, taskQueue: taskQueues.workflows }),
      await createLlmWorker({ ...common, taskQueue: taskQueues.llm, concurrency: 8, model: { provider, models: steps, temperatures: { ...steps, classify: 0, plan: 0, code: 0, repair: 0, judge: 0, quiz: 0, answer: 0 }, prices: { m: { input: 1, output: 2 } } } }),
      await createRenderWorker({ ...common, taskQueue: taskQueues.render, renderer, slots: 2 }),
    ];
    running = Promise.all(workers.map((worker) => worker.run()));
    client = new Client({ connection: await Connection.connect({ address: server.address }) });
  });

  afterAll(async () => {
    for (const worker of workers ?? []) worker.shutdown();
    await running;
    await client?.connection.close();
    await endpoint?.close();
    await server?.stop();
  });

  async function runProblem(problem: Omit<Problem, 'extra'>): Promise<ManifestRecord> {
    const buildId = 'workflow-tier';
    const key = String(problem.id);
    await client.workflow.execute(problemWorkflow, {
      workflowId: problemWorkflowId(buildId, key),
      taskQueue: taskQueues.workflows,
      args: [{ buildId, problemKey: key, problem: { ...problem, extra: {} }, settings }],
    });
    return JSON.parse(await store.getText(`builds/${buildId}/records/${key}.json`)) as ManifestRecord;
  }

  it('a non-retryable provider error ends the problem failed, with a reason a user understands and no key in it', async () => {
    const record = await runProblem({ id: 'auth-fails', question: 'Plot y = x.' });
    expect(record.verdict).toBe('failed');
    expect(record.reasons).toHaveLength(1);
    expect(record.reasons[0]).toMatch(/^plan: invalid API key for openai/);
    expect(JSON.stringify(record)).not.toContain('PLANTED-SECRET');
    // Non-retryable: one request only.
    expect(endpoint.count({ problem: 'auth-fails', step: 'plan' })).toBe(1);
  });

  it('a judge answer without JSON is a parse failure of the step, not a zero', async () => {
    const record = await runProblem({ id: 'judge-garbage', question: 'Plot y = x.', quizzes: [QUIZ] });
    expect(record.verdict).toBe('failed');
    expect(record.reasons[0]).toMatch(/^judge: /);
    expect(record.judge).toBeNull();
    expect(record.image).toMatch(/figure-1\.png$/);
  });

  it('an out-of-range judge score is a parse failure naming the field', async () => {
    const record = await runProblem({ id: 'judge-out-of-range', question: 'Plot y = x.', quizzes: [QUIZ] });
    expect(record.verdict).toBe('failed');
    expect(record.reasons[0]).toContain('Correctness_Fidelity');
  });

  it('an answer without a python block goes to repair with that reason, then is accepted', async () => {
    const record = await runProblem({ id: 'no-code-block', question: 'Plot y = x.', quizzes: [QUIZ] });
    expect(record).toMatchObject({ verdict: 'accepted', render_attempts: 2, r_inv: 1, reasons: [] });
    // The unusable first answer is kept as an artifact next to the repaired script.
    const firstAnswer = await store.getText('builds/workflow-tier/problems/no-code-block/imgcoder/attempt-1/code-answer.md');
    expect(firstAnswer).toContain('Here is what I would draw');
    expect(await store.exists('builds/workflow-tier/problems/no-code-block/imgcoder/attempt-2/diagram.py')).toBe(true);
    expect(record.usage.input_tokens).toBeGreaterThan(0);
    // Prices are per million tokens.
    expect(record.usage.cost_usd).toBeCloseTo((record.usage.input_tokens * 1 + record.usage.output_tokens * 2) / 1e6, 12);
  });

  it('429 with Retry-After is retried by Temporal until the scripted answer comes', async () => {
    const record = await runProblem({ id: 'rate-limited', question: 'In the circuit shown, find the current.' });
    expect(record).toMatchObject({ verdict: 'skipped', reasons: ['not visualizable: needs a missing figure'] });
    expect(endpoint.count({ problem: 'rate-limited', step: 'classify' })).toBe(3);
  });
});
