import { join } from 'node:path';
import { Runtime } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { problemSettings } from '../../cli/commands/build.ts';
import { createConsoleLogger } from '../../cli/logger.ts';
import { readEnvironment } from '../../config/environment.ts';
import { loadConfig } from '../../config/load.ts';
import { DEFAULT_FILTER_POLICY } from '../../domain/filter-policy.ts';
import type { Problem } from '../../domain/types.ts';
import type { ManifestResult, ManifestRecord } from '../../domain/manifest.ts';
import { createOpenAiProvider } from '../../providers/openai.ts';
import { createRenderer } from '../../render/create-renderer.ts';
import { findPython } from '../../render/find-python.ts';
import { startScriptedEndpoint, type ScriptedEndpoint } from '../../scripted/server.ts';
import type { Script } from '../../scripted/script.ts';
import type { ArtifactStore } from '../../storage/artifact-store.ts';
import { createLlmWorker, createRenderWorker, createWorkflowsWorker } from '../../workers/workers.ts';
import type { ProblemSettings } from '../../workflows/definitions.ts';
import {
  runProblemWorkflow,
  startWorkflowTestEnvironment,
  type WorkflowTestEnvironment,
} from '../helpers/workflow-environment.ts';

const SCRIPT_PATH = (name: string) =>
  `\`\`\`python\nimport matplotlib.pyplot as plt\nfig, ax = plt.subplots()\nax.plot([0, 1], [0, 1])\nax.set_title("${name}")\n\`\`\``;
const CLASSIFY =
  '{"visualizable": true, "reason": "a concrete setup", "subject": "Math", "image_type": "Math - Analytic Geometry"}';
const PLAN = '{"content": ["a line"], "layout": ["centre"], "labels": ["y = x"], "constraints": ["no answer"]}';
const JUDGE_ALL_TWO =
  'Fine. {"Correctness_Fidelity": 2, "Layout_Precision": 2, "Readability_Occlusion": 2, "Scientific_Plausibility": 2, "Expressiveness_Richness": 2}';
const judgeScores = (scores: Partial<Record<'CF' | 'LP' | 'RO' | 'SP' | 'ER', number>>) =>
  `Scored. {"Correctness_Fidelity": ${scores.CF ?? 2}, "Layout_Precision": ${scores.LP ?? 2}, "Readability_Occlusion": ${scores.RO ?? 2}, "Scientific_Plausibility": ${scores.SP ?? 2}, "Expressiveness_Richness": ${scores.ER ?? 2}}`;
/** A first image the judge finds sparse (Expressiveness_Richness 1): a refinement round follows. */
const SPARSE_FIRST = {
  classify: CLASSIFY,
  plan: PLAN,
  code: SCRIPT_PATH('first'),
  answer: 'It is the identity line. Answer: A',
};
const QUIZ = {
  question: 'Which line is drawn?',
  options: { A: 'y = x', B: 'y = 2x', C: 'y = -x', D: 'x = 1' },
  correct_option: 'A' as const,
};

const script: Script = {
  problems: {
    'auth-fails': { classify: CLASSIFY, plan: { fault: { status: 401, message: 'Incorrect API key provided' } } },
    'judge-garbage': {
      classify: CLASSIFY,
      plan: PLAN,
      code: SCRIPT_PATH('judge'),
      judge: 'The figure looks fine to me.',
    },
    'judge-out-of-range': {
      classify: CLASSIFY,
      plan: PLAN,
      code: SCRIPT_PATH('range'),
      judge:
        '{"Correctness_Fidelity": 3, "Layout_Precision": 2, "Readability_Occlusion": 2, "Scientific_Plausibility": 2, "Expressiveness_Richness": 2}',
    },
    'no-code-block': {
      classify: CLASSIFY,
      plan: PLAN,
      code: 'Here is what I would draw: a line.',
      repair: SCRIPT_PATH('repaired'),
      judge: JUDGE_ALL_TWO,
      answer: 'It is the identity line. Answer: A',
    },
    'refine-bad-request': {
      ...SPARSE_FIRST,
      judge: judgeScores({ ER: 1 }),
      refine: { fault: { status: 400, message: 'Invalid value for max_tokens' } },
    },
    'refine-missing-reply': { ...SPARSE_FIRST, judge: judgeScores({ ER: 1 }) },
    'refine-no-script': {
      ...SPARSE_FIRST,
      judge: judgeScores({ ER: 1 }),
      refine: 'I would rather not change anything.',
    },
    'refine-no-render': {
      ...SPARSE_FIRST,
      judge: judgeScores({ ER: 1 }),
      refine: '```python\nimport matplotlib.pyplot as plt\nraise ValueError("refined badly")\n```',
    },
    'refined-worse': {
      ...SPARSE_FIRST,
      judge: [{ text: judgeScores({ ER: 1 }), times: 1 }, { text: judgeScores({ LP: 0, RO: 1 }) }],
      refine: SCRIPT_PATH('refined'),
    },
    'refined-equal': {
      ...SPARSE_FIRST,
      judge: [{ text: judgeScores({ ER: 1 }), times: 1 }, { text: judgeScores({ LP: 1 }) }],
      refine: SCRIPT_PATH('refined'),
    },
    'step-models': {
      ...SPARSE_FIRST,
      code: 'Here is what I would draw: a line.',
      repair: SCRIPT_PATH('repaired'),
      judge: [{ text: judgeScores({ ER: 1 }), times: 1 }, { text: JUDGE_ALL_TWO }],
      refine: SCRIPT_PATH('refined'),
    },
    'rate-limited': {
      classify: [
        { fault: { status: 429, retryAfterSeconds: 1, times: 2 } },
        {
          text: '{"visualizable": false, "reason": "needs a missing figure", "subject": "Physics", "image_type": "Physics - Circuit"}',
        },
      ],
    },
  },
};

/** The workers' models per step: what a step asks when the workflow names no model. */
const STEP_MODELS = { classify: 'm', plan: 'm', code: 'm', repair: 'm', judge: 'm', quiz: 'm', answer: 'm' };

Runtime.install({ logger: createConsoleLogger() });

describe('problemWorkflow on a real dev server, real activities and the scripted endpoint', () => {
  let environment: WorkflowTestEnvironment;
  let endpoint: ScriptedEndpoint;
  let store: ArtifactStore;
  const taskQueues = {
    workflows: `wf-test-${process.pid}`,
    llm: `llm-test-${process.pid}`,
    render: `render-test-${process.pid}`,
  };
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
    endpoint = await startScriptedEndpoint({ script });
    environment = await startWorkflowTestEnvironment('workflow', async (common, directory) => {
      const renderer = createRenderer({ python: await findPython(), workDirectory: join(directory, 'render') });
      const provider = createOpenAiProvider({
        apiKey: 'sk-test-PLANTED-SECRET',
        baseURL: endpoint.openAiBaseUrl,
        timeoutMs: 10_000,
      });
      const steps = STEP_MODELS;
      return [
        await createWorkflowsWorker({ ...common, taskQueue: taskQueues.workflows }),
        await createLlmWorker({
          ...common,
          taskQueue: taskQueues.llm,
          concurrency: 8,
          model: {
            provider,
            models: steps,
            temperatures: { ...steps, classify: 0, plan: 0, code: 0, repair: 0, judge: 0, quiz: 0, answer: 0 },
            prices: { m: { input: 1, output: 2 } },
          },
        }),
        await createRenderWorker({ ...common, taskQueue: taskQueues.render, renderer, slots: 2 }),
      ];
    });
    ({ store } = environment);
  });

  afterAll(async () => {
    await environment?.close();
    await endpoint?.close();
  });

  function runProblem(
    problem: Omit<Problem, 'extra'>,
    overrides: Partial<ProblemSettings> = {},
  ): Promise<ManifestRecord> {
    return runProblemWorkflow(environment, {
      buildId: 'workflow-tier',
      taskQueue: taskQueues.workflows,
      problem,
      settings: { ...settings, ...overrides },
    });
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
    const firstAnswer = await store.getText(
      'builds/workflow-tier/problems/no-code-block/imgcoder/attempt-1/code-answer.md',
    );
    expect(firstAnswer).toContain('Here is what I would draw');
    expect(await store.exists('builds/workflow-tier/problems/no-code-block/imgcoder/attempt-2/diagram.py')).toBe(true);
    expect(record.usage.input_tokens).toBeGreaterThan(0);
    // Prices are per million tokens.
    expect(record.usage.cost_usd).toBeCloseTo(
      (record.usage.input_tokens * 1 + record.usage.output_tokens * 2) / 1e6,
      12,
    );
  });

  it("repair and refine ask their configured models, code the generator's, when the generator names none", async () => {
    const models = { ...STEP_MODELS, code: 'coder', repair: 'repairer', refine: 'refiner' };
    const config = loadConfig({ environment: readEnvironment({}), explicit: { openai: { models } } });
    const { generators } = problemSettings(config, 'openai');
    const record = await runProblem(
      { id: 'step-models', question: 'Plot y = x.', quizzes: [QUIZ] },
      { generators, refinementRounds: 1 },
    );
    expect(record).toMatchObject({ verdict: 'accepted', render_attempts: 2 });
    const modelOf = (step: string) =>
      endpoint.requests
        .filter((request) => request.problem === 'step-models' && request.step === step)
        .map((request) => request.model);
    expect({ code: modelOf('code'), repair: modelOf('repair'), refine: modelOf('refine') }).toEqual({
      code: ['coder'],
      repair: ['repairer'],
      refine: ['refiner'],
    });
    // The manifest names the generator by the model that wrote its first code.
    expect(record.results![0]!.model).toBe('coder');
  });

  it('429 with Retry-After is retried by Temporal until the scripted answer comes', async () => {
    const record = await runProblem({ id: 'rate-limited', question: 'In the circuit shown, find the current.' });
    expect(record).toMatchObject({ verdict: 'skipped', reasons: ['not visualizable: needs a missing figure'] });
    expect(endpoint.count({ problem: 'rate-limited', step: 'classify' })).toBe(3);
  });

  describe('refinement (one round)', () => {
    const refined = { refinementRounds: 1 };
    const firstImage = (id: string) => store.uri(`builds/workflow-tier/problems/${id}/imgcoder/attempt-1/figure-1.png`);
    /** The store key behind a URI the manifest names. */
    const keyOf = (uri: string) => uri.slice(store.uri('x').length - 1);

    /** The problem's only generator result, checked to agree with the manifest line's top level. */
    async function refineProblem(id: string) {
      const record = await runProblem({ id, question: 'Plot y = x.', quizzes: [QUIZ] }, refined);
      expect(record.results).toHaveLength(1);
      const result = record.results![0]!;
      expect({ verdict: record.verdict, image: record.image, judge: record.judge }).toEqual({
        verdict: result.verdict,
        image: result.image,
        judge: result.judge,
      });
      expect(endpoint.count({ problem: id, step: 'refine' })).toBeGreaterThan(0);
      return result;
    }

    /** A round that made no image keeps the first version alone, its verdict and a note saying why. */
    function expectFirstVersionKept(result: ManifestResult, id: string, note: RegExp) {
      expect(result.versions).toHaveLength(1);
      expect(result.versions[0]).toMatchObject({ round: 0, critique: null });
      expect(result.image).toBe(result.versions[0]!.image);
      expect(result.image).toBe(firstImage(id));
      expect(result.judge!.expressiveness_richness).toBe(1);
      // Every dimension >= 1 and C&F 2: the first version passes the filter on its own.
      expect(result).toMatchObject({ verdict: 'accepted', r_inv: 1, reasons: [] });
      expect(result.notes).toHaveLength(1);
      expect(result.notes[0]).toMatch(note);
      expect(endpoint.count({ problem: id, step: 'judge' })).toBe(1);
    }

    it('a refine step refused with 400 keeps the first version, with a note and the first verdict', async () => {
      const result = await refineProblem('refine-bad-request');
      expectFirstVersionKept(
        result,
        'refine-bad-request',
        /^refinement round 1 failed: refine: .*Invalid value for max_tokens/,
      );
      // Non-retryable: asked once.
      expect(endpoint.count({ problem: 'refine-bad-request', step: 'refine' })).toBe(1);
    });

    it('a refine step the endpoint has no answer for keeps the first version, with a note', async () => {
      const result = await refineProblem('refine-missing-reply');
      expectFirstVersionKept(result, 'refine-missing-reply', /^refinement round 1 failed: refine: /);
    });

    it('a refine answer without a script, or a script that does not render, keeps the first version, with a note', async () => {
      expectFirstVersionKept(
        await refineProblem('refine-no-script'),
        'refine-no-script',
        /^refinement round 1 gave no usable script: /,
      );
      expectFirstVersionKept(
        await refineProblem('refine-no-render'),
        'refine-no-render',
        /^refinement round 1 did not render: .*ValueError: refined badly/,
      );
    });

    it('a refined image judged worse lists both versions and keeps the first as the chosen image', async () => {
      const result = await refineProblem('refined-worse');
      expect(result.versions.map((version) => version.round)).toEqual([0, 1]);
      expect(result.versions[1]!.judge).toMatchObject({ layout_precision: 0, readability_occlusion: 1 });
      expect(result.versions[1]!.critique).toContain('Expressiveness & Richness scored 1 of 2');
      expect(result.versions[1]!.image).not.toBe(result.versions[0]!.image);
      for (const version of result.versions) expect(await store.exists(keyOf(version.image))).toBe(true);
      expect(result.image).toBe(result.versions[0]!.image);
      expect(result.code).toBe(result.versions[0]!.code);
      expect(result.judge).toEqual(result.versions[0]!.judge);
      expect(result).toMatchObject({ verdict: 'accepted', notes: [], r_inv: 1 });
      // Quizzes are answered from the chosen (first) image only.
      expect(endpoint.count({ problem: 'refined-worse', step: 'answer' })).toBe(1);
    });

    it('a refined image judged as good as the first is the chosen one (a later version wins a tie)', async () => {
      const result = await refineProblem('refined-equal');
      expect(result.versions).toHaveLength(2);
      expect(result.image).toBe(result.versions[1]!.image);
      expect(result.judge).toMatchObject({ layout_precision: 1, expressiveness_richness: 2 });
    });
  });
});
