import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import { Runtime } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createConsoleLogger } from '../../cli/logger.ts';
import { DEFAULT_FILTER_POLICY } from '../../domain/filter-policy.ts';
import type { BuildSummary } from '../../domain/summary.ts';
import type { Problem, StagedProblem } from '../../domain/types.ts';
import type { ManifestRecord } from '../../domain/manifest.ts';
import { createGeminiProvider } from '../../providers/gemini.ts';
import { createOpenAiProvider } from '../../providers/openai.ts';
import type { ModelProvider } from '../../providers/provider.ts';
import { withRateLimitCooldown } from '../../providers/rate-limit-cooldown.ts';
import { createRenderer } from '../../render/create-renderer.ts';
import { findPython } from '../../render/find-python.ts';
import { startScriptedEndpoint, type ScriptedEndpoint } from '../../scripted/server.ts';
import type { Script, ScriptedFault, ScriptedReply } from '../../scripted/script.ts';
import type { ArtifactStore } from '../../storage/artifact-store.ts';
import { stagedPageKey } from '../../storage/build-layout.ts';
import { llmTaskQueue } from '../../workers/llm-queue.ts';
import { createLlmWorker, createRenderWorker, createWorkflowsWorker } from '../../workers/workers.ts';
import { datasetBuildWorkflow } from '../../workflows/build.ts';
import { buildWorkflowId, type DatasetBuildInput, type ProblemSettings } from '../../workflows/definitions.ts';
import {
  runProblemWorkflow,
  startWorkflowTestEnvironment,
  type WorkflowTestEnvironment,
} from '../helpers/workflow-environment.ts';

// Every fault the scripted endpoint can inject, through the real SDK of each provider, a real
// llm worker (provider + 429 cooldown + schema mode, as workers/runtime.ts composes them) and the
// problem workflow on a dev server: the retry it should get, or the reason the manifest shows.

const NOT_VISUALIZABLE =
  '{"visualizable": false, "reason": "needs a missing figure", "subject": "Physics", "image_type": "Physics - Circuit"}';
const VISUALIZABLE =
  '{"visualizable": true, "reason": "a concrete setup", "subject": "Math", "image_type": "Math - Analytic Geometry"}';
const PLAN =
  '{"content": ["the line y = x"], "layout": ["centred"], "labels": ["y = x"], "constraints": ["no answer"]}';
const CODE =
  '```python\nimport matplotlib.pyplot as plt\nfig, ax = plt.subplots()\nax.plot([0, 1], [0, 1])\nax.set_title("y = x")\n```';
// What a judge held to the schema answers: JSON only, the reasoning in its own field.
const JUDGE = JSON.stringify({
  reasoning: 'The line and its label match the problem.',
  Correctness_Fidelity: 2,
  Layout_Precision: 2,
  Readability_Occlusion: 2,
  Scientific_Plausibility: 2,
  Expressiveness_Richness: 2,
});
const QUIZ = JSON.stringify({
  quizzes: [
    {
      question: 'Which line is drawn?',
      options: { A: 'y = x', B: 'y = 2x', C: 'y = -x', D: 'x = 1' },
      correct_option: 'A',
    },
  ],
});
const PRICES = { small: { input: 1, output: 2 }, big: { input: 3, output: 5 } };
const MODELS = {
  classify: 'small',
  plan: 'big',
  code: 'big',
  repair: 'big',
  judge: 'small',
  quiz: 'small',
  answer: 'small',
};
const MAX_ATTEMPTS = 4;
const REQUEST_TIMEOUT_MS = 2_000;

type ProviderName = 'openai' | 'gemini';

interface FaultCase {
  name: string;
  faults: ScriptedFault[];
  /** Requests the endpoint sees for classify. */
  requests: number;
  verdict: 'skipped' | 'failed';
  /** The manifest reason; {provider} is replaced. */
  reason: string | ((provider: ProviderName) => string);
}

const FAULT_CASES: FaultCase[] = [
  {
    name: 'rate-limited',
    faults: [{ status: 429, retryAfterSeconds: 2, times: 2 }],
    requests: 3,
    verdict: 'skipped',
    reason: 'not visualizable: needs a missing figure',
  },
  {
    name: 'server-error',
    faults: [{ status: 500 }],
    requests: 2,
    verdict: 'skipped',
    reason: 'not visualizable: needs a missing figure',
  },
  {
    name: 'overloaded',
    faults: [{ status: 503 }],
    requests: 2,
    verdict: 'skipped',
    reason: 'not visualizable: needs a missing figure',
  },
  {
    name: 'hang',
    faults: [{ kind: 'hang' }],
    requests: 2,
    verdict: 'skipped',
    reason: 'not visualizable: needs a missing figure',
  },
  {
    name: 'reset',
    faults: [{ kind: 'reset' }],
    requests: 2,
    verdict: 'skipped',
    reason: 'not visualizable: needs a missing figure',
  },
  {
    name: 'cut-body',
    faults: [{ kind: 'cut-body' }],
    requests: 2,
    verdict: 'skipped',
    reason: 'not visualizable: needs a missing figure',
  },
  {
    name: 'truncated',
    faults: [{ kind: 'truncated' }],
    requests: 1,
    verdict: 'failed',
    reason: "classify: classify answer has no JSON object (the answer was cut off at the model's output limit)",
  },
  {
    name: 'empty',
    faults: [{ kind: 'empty' }],
    requests: 1,
    verdict: 'failed',
    reason: 'classify: classify answer is empty (no answer candidates)',
  },
  {
    name: 'safety',
    faults: [{ kind: 'safety' }],
    requests: 1,
    verdict: 'failed',
    reason: (provider) =>
      provider === 'openai'
        ? 'classify: model refused: safety (openai)'
        : 'classify: model refused: safety (gemini SAFETY)',
  },
  {
    name: 'refusal',
    faults: [{ kind: 'refusal', message: 'I will not help with this.' }],
    requests: 1,
    verdict: 'failed',
    reason: (provider) =>
      provider === 'openai'
        ? 'classify: model refused: I will not help with this. (openai)'
        : 'classify: model refused: prohibited content (gemini PROHIBITED_CONTENT)',
  },
  {
    name: 'bad-key',
    faults: [{ status: 401 }],
    requests: 1,
    verdict: 'failed',
    reason: 'classify: invalid API key for {provider} (401)',
  },
  {
    name: 'bad-request',
    faults: [{ status: 400, message: 'Invalid value for temperature.' }],
    requests: 1,
    verdict: 'failed',
    reason: 'classify: {provider} rejected the request (400): Invalid value for temperature.',
  },
  {
    name: 'still-overloaded',
    faults: [{ status: 503, times: MAX_ATTEMPTS }],
    requests: MAX_ATTEMPTS,
    verdict: 'failed',
    reason: `classify: {provider} unavailable (503): The model is overloaded. Please try again later.; gave up after ${MAX_ATTEMPTS} attempts`,
  },
  {
    name: 'cannot-see-images',
    faults: [
      {
        status: 500,
        message: 'image input is not supported - hint: if this is unexpected, you may need to provide the mmproj',
      },
    ],
    requests: 1,
    verdict: 'failed',
    reason:
      'classify: {provider} cannot serve the request (500): image input is not supported - hint: if this is unexpected, you may need to provide the mmproj',
  },
];

function problemId(provider: ProviderName, name: string): string {
  return `${provider}-${name}`;
}

function buildScript(): Script {
  const problems: Script['problems'] = {};
  for (const provider of ['openai', 'gemini'] as const) {
    for (const fault of FAULT_CASES) {
      const replies: ScriptedReply[] = [...fault.faults.map((each) => ({ fault: each })), { text: NOT_VISUALIZABLE }];
      problems[problemId(provider, fault.name)] = { classify: replies };
    }
    for (const name of ['full-path', 'build-accepted']) {
      problems[problemId(provider, name)] = {
        classify: VISUALIZABLE,
        plan: PLAN,
        code: CODE,
        judge: JUDGE,
        quiz: QUIZ,
        answer: 'The line through the origin. Answer: A',
      };
    }
    problems[problemId(provider, 'build-refused')] = { classify: VISUALIZABLE, plan: { fault: { kind: 'refusal' } } };
    problems[problemId(provider, 'build-skipped')] = { classify: NOT_VISUALIZABLE };
  }
  return { problems };
}

Runtime.install({ logger: createConsoleLogger() });

describe('provider faults end to end through the problem workflow, for both SDKs', () => {
  let environment: WorkflowTestEnvironment;
  let endpoint: ScriptedEndpoint;
  let store: ArtifactStore;
  let client: Client;
  const prefix = `faults-${process.pid}`;
  const workflowsQueue = `${prefix}-workflows`;
  const renderQueue = `${prefix}-render`;
  const settingsFor = (provider: ProviderName): ProblemSettings => ({
    policy: DEFAULT_FILTER_POLICY,
    maxRenderAttempts: 2,
    dpi: 60,
    renderTimeoutSeconds: 20,
    llmMaxAttempts: MAX_ATTEMPTS,
    llmTimeoutSeconds: REQUEST_TIMEOUT_MS / 1000,
    taskQueues: { workflows: workflowsQueue, llm: llmTaskQueue(prefix, provider), render: renderQueue },
  });
  const results = new Map<string, Promise<ManifestRecord>>();

  beforeAll(async () => {
    endpoint = await startScriptedEndpoint({ script: buildScript() });
    environment = await startWorkflowTestEnvironment('provider-faults', async (common, directory) => {
      const renderer = createRenderer({ python: await findPython(), workDirectory: join(directory, 'render') });
      const providers: Record<ProviderName, ModelProvider> = {
        openai: createOpenAiProvider({
          apiKey: 'sk-test-PLANTED-SECRET',
          baseURL: endpoint.openAiBaseUrl,
          timeoutMs: REQUEST_TIMEOUT_MS,
        }),
        gemini: createGeminiProvider({
          apiKey: 'AIzaTEST-PLANTED-SECRET',
          baseUrl: endpoint.geminiBaseUrl,
          timeoutMs: REQUEST_TIMEOUT_MS,
        }),
      };
      const workers = [
        await createWorkflowsWorker({ ...common, taskQueue: workflowsQueue }),
        await createRenderWorker({ ...common, taskQueue: renderQueue, renderer, slots: 2 }),
      ];
      for (const provider of ['openai', 'gemini'] as const) {
        workers.push(
          await createLlmWorker({
            ...common,
            taskQueue: llmTaskQueue(prefix, provider),
            concurrency: 16,
            requestsPerSecond: 50,
            model: {
              provider: withRateLimitCooldown(providers[provider], { releaseSpacingMs: 20 }),
              models: MODELS,
              temperatures: { classify: 0.1, plan: 0.4, code: 0.2, repair: 0.2, judge: 0.1, quiz: 0.3, answer: 0 },
              prices: PRICES,
              structuredOutput: true,
            },
          }),
        );
      }
      return workers;
    });
    ({ store, client } = environment);

    // Every problem at once: the faults' retries overlap instead of adding up.
    for (const provider of ['openai', 'gemini'] as const) {
      for (const name of [...FAULT_CASES.map((fault) => fault.name), 'full-path']) {
        const id = problemId(provider, name);
        results.set(id, runProblem(provider, { id, question: 'Plot y = x.' }));
      }
    }
    await Promise.allSettled(results.values());
  });

  afterAll(async () => {
    await environment?.close();
    await endpoint?.close();
  });

  function runProblem(provider: ProviderName, problem: Omit<Problem, 'extra'>): Promise<ManifestRecord> {
    return runProblemWorkflow(environment, {
      buildId: `faults-${provider}`,
      taskQueue: workflowsQueue,
      problem,
      settings: settingsFor(provider),
    });
  }

  /** Tokens and cost of a problem's answered requests, as the endpoint reported them. */
  function billedByEndpoint(id: string): { input_tokens: number; output_tokens: number; cost_usd: number } {
    let input = 0;
    let output = 0;
    let cost = 0;
    for (const entry of endpoint.requests) {
      if (entry.problem !== id || !entry.usage) continue;
      const price = PRICES[entry.model as keyof typeof PRICES];
      input += entry.usage.inputTokens;
      output += entry.usage.outputTokens;
      cost += (entry.usage.inputTokens * price.input + entry.usage.outputTokens * price.output) / 1e6;
    }
    return { input_tokens: input, output_tokens: output, cost_usd: cost };
  }

  describe.each(['openai', 'gemini'] as const)('%s', (provider) => {
    it.each(FAULT_CASES)(
      '$name -> $verdict after $requests request(s), with the reason a user reads',
      async (fault) => {
        const id = problemId(provider, fault.name);
        const record = await results.get(id)!;
        const reason =
          typeof fault.reason === 'function' ? fault.reason(provider) : fault.reason.replace('{provider}', provider);
        expect(record.verdict).toBe(fault.verdict);
        expect(record.reasons).toEqual([reason]);
        expect(endpoint.count({ problem: id, step: 'classify' })).toBe(fault.requests);
        // Every answered response's tokens are in the manifest, a refused one's too.
        const billed = billedByEndpoint(id);
        expect(record.usage.input_tokens).toBe(billed.input_tokens);
        expect(record.usage.output_tokens).toBe(billed.output_tokens);
        expect(record.usage.cost_usd).toBeCloseTo(billed.cost_usd, 12);
        if (fault.name === 'safety' || fault.name === 'refusal') expect(record.usage.input_tokens).toBeGreaterThan(0);
        expect(JSON.stringify(record)).not.toContain('PLANTED-SECRET');
      },
    );

    it("429 with Retry-After: 2 waits the server's delay between attempts (nextRetryDelay), not Temporal's 1 s backoff", async () => {
      const id = problemId(provider, 'rate-limited');
      await results.get(id);
      const times = endpoint.requests.filter((entry) => entry.problem === id).map((entry) => Date.parse(entry.at));
      expect(times).toHaveLength(3);
      expect(times[1]! - times[0]!).toBeGreaterThanOrEqual(1_900);
      expect(times[2]! - times[1]!).toBeGreaterThanOrEqual(1_900);
    });

    it('the JSON steps go out in schema mode, the others as text, and a full problem is accepted', async () => {
      const id = problemId(provider, 'full-path');
      const record = await results.get(id)!;
      expect(record).toMatchObject({ verdict: 'accepted', r_inv: 1, render_attempts: 1, reasons: [] });
      const structuredBySteps = Object.fromEntries(
        endpoint.requests.filter((entry) => entry.problem === id).map((entry) => [entry.step, entry.structured]),
      );
      expect(structuredBySteps).toEqual({
        classify: true,
        plan: true,
        code: false,
        judge: true,
        quiz: true,
        answer: false,
      });
      const billed = billedByEndpoint(id);
      expect(record.usage.input_tokens).toBe(billed.input_tokens);
      expect(record.usage.cost_usd).toBeCloseTo(billed.cost_usd, 12);
      const judge = JSON.parse(
        await store.getText(`builds/faults-${provider}/problems/${id}/imgcoder/judge-0.json`),
      ) as { reasoning: string };
      expect(judge.reasoning).toBe('The line and its label match the problem.');
    });

    it('usage adds up from the responses to each manifest line to the build summary', async () => {
      const buildId = `faults-build-${provider}`;
      const ids = ['build-accepted', 'build-refused', 'build-skipped'].map((name) => problemId(provider, name));
      const staged: StagedProblem[] = ids.map((id) => ({
        problemKey: id,
        problem: { id, question: 'Plot y = x.', extra: {} },
      }));
      const pageKey = stagedPageKey(buildId, 0);
      await store.put(pageKey, staged.map((entry) => `${JSON.stringify(entry)}\n`).join(''), 'application/x-ndjson');
      const input: DatasetBuildInput = {
        buildId,
        inputPages: [pageKey],
        pageSize: staged.length,
        problemCount: staged.length,
        invalidCount: 0,
        windowSize: 3,
        budgetUsd: null,
        continueAsNewEvents: 10_000,
        settings: settingsFor(provider),
      };
      const output = await client.workflow.execute(datasetBuildWorkflow, {
        workflowId: buildWorkflowId(buildId),
        taskQueue: workflowsQueue,
        args: [input],
      });
      const manifest = (await store.getText(`builds/${buildId}/manifest.jsonl`))
        .split('\n')
        .filter((line) => line.trim() !== '')
        .map((line) => JSON.parse(line) as ManifestRecord);
      const summary = JSON.parse(await store.getText(`builds/${buildId}/summary.json`)) as BuildSummary;
      expect(manifest.map((record) => [record.id, record.verdict])).toEqual([
        [ids[0], 'accepted'],
        [ids[1], 'failed'],
        [ids[2], 'skipped'],
      ]);
      let expected = { input_tokens: 0, output_tokens: 0, cost_usd: 0 };
      for (const record of manifest) {
        const billed = billedByEndpoint(String(record.id));
        expect(record.usage.input_tokens).toBe(billed.input_tokens);
        expect(record.usage.output_tokens).toBe(billed.output_tokens);
        expect(record.usage.cost_usd).toBeCloseTo(billed.cost_usd, 12);
        expected = {
          input_tokens: expected.input_tokens + billed.input_tokens,
          output_tokens: expected.output_tokens + billed.output_tokens,
          cost_usd: expected.cost_usd + billed.cost_usd,
        };
      }
      // The refused plan was billed, so the failed problem costs more than its classify alone.
      expect(manifest[1]!.usage.input_tokens).toBeGreaterThan(billedByEndpoint(ids[2]!).input_tokens);
      for (const usage of [summary.usage, output.usage]) {
        expect(usage.input_tokens).toBe(expected.input_tokens);
        expect(usage.output_tokens).toBe(expected.output_tokens);
        expect(usage.cost_usd).toBeCloseTo(expected.cost_usd, 12);
      }
    });
  });
});
