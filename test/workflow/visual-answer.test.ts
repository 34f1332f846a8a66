import { join } from 'node:path';
import { Runtime } from '@temporalio/worker';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createConsoleLogger } from '../../cli/logger.ts';
import { DEFAULT_FILTER_POLICY } from '../../domain/filter-policy.ts';
import type { ManifestRecord, ManifestResult } from '../../domain/manifest.ts';
import { protocolSettings, type ProtocolName } from '../../domain/protocol.ts';
import type { Problem } from '../../domain/types.ts';
import { createOpenAiProvider } from '../../providers/openai.ts';
import { createRenderer } from '../../render/create-renderer.ts';
import { findPython } from '../../render/find-python.ts';
import type { Script } from '../../scripted/script.ts';
import { startScriptedEndpoint, type ScriptedEndpoint } from '../../scripted/server.ts';
import type { ArtifactStore } from '../../storage/artifact-store.ts';
import { createLlmWorker, createRenderWorker, createWorkflowsWorker } from '../../workers/workers.ts';
import type { ProblemSettings } from '../../workflows/definitions.ts';
import {
  runProblemWorkflow,
  startWorkflowTestEnvironment,
  type WorkflowTestEnvironment,
} from '../helpers/workflow-environment.ts';

// The VE step and the scigenbench protocol through real activities, a real renderer and the
// scripted endpoint: what the workflow asks, what it records, and what it does when a VE step fails.

/** Drawn at the script's own 4×3 in: only the protocol's fixed size makes it 600×600. */
const CODE =
  '```python\nimport matplotlib.pyplot as plt\nfig, ax = plt.subplots(figsize=(4, 3))\nax.plot([0, 30], [0, 0], color="black")\nax.annotate("30 cm", (15, 0.1))\nax.set_ylim(-1, 1)\n```';
const classify = (visualizable: boolean) =>
  JSON.stringify({
    visualizable,
    reason: visualizable ? 'a concrete setup' : 'asks for a derivation only',
    subject: 'Physics',
    image_type: 'Physics - Optical Ray',
  });
/** Expressiveness 1: the dataset protocol would refine this image; the benchmark protocol must not. */
const SPARSE_JUDGE =
  'Sparse. {"Correctness_Fidelity": 2, "Layout_Precision": 2, "Readability_Occlusion": 2, "Scientific_Plausibility": 2, "Expressiveness_Richness": 1}';
const SHARED = {
  classify: classify(true),
  plan: '{"content": ["a lens"], "layout": ["centre"], "labels": ["30 cm"], "constraints": ["no image position"]}',
  code: CODE,
  judge: SPARSE_JUDGE,
  answer: 'The object is 30 cm away. Answer: D',
};
const SEEN_AT_600 = { width: 600, height: 600 };
const RIGHT = 'The distances give 1/v = 1/10 - 1/30, so v = 15 cm. Final answer: 15 cm behind the lens';
const WRONG = 'It looks like the image forms 20 cm behind the lens. Final answer: 20 cm';

const script: Script = {
  problems: {
    've-right': {
      ...SHARED,
      'visual-answer': { whenImage: SEEN_AT_600, text: RIGHT },
      grade: {
        when: 'Final answer: 15 cm',
        text: '{"correct": true, "reason": "15 cm behind the lens, as the reference"}',
      },
    },
    've-wrong': {
      ...SHARED,
      'visual-answer': { whenImage: SEEN_AT_600, text: WRONG },
      grade: { when: 'Final answer: 20 cm', text: '```json\n{"correct": false, "reason": "20 cm, not 15 cm"}\n```' },
    },
    've-grade-garbage': {
      ...SHARED,
      'visual-answer': { whenImage: SEEN_AT_600, text: RIGHT },
      grade: 'Yes, that matches.',
    },
    've-not-visualizable': {
      ...SHARED,
      classify: classify(false),
      'visual-answer': { whenImage: SEEN_AT_600, text: RIGHT },
      grade: '{"correct": true, "reason": "same distance"}',
    },
    've-off': { ...SHARED, refine: CODE },
    've-no-question': SHARED,
    've-not-visualizable-dataset': { ...SHARED, classify: classify(false) },
  },
};

const QUIZ = {
  question: 'How far in front of the lens is the object?',
  options: { A: '10 cm', B: '15 cm', C: '20 cm', D: '30 cm' },
  correct_option: 'D',
};
const problem = (id: string, fields: Partial<Problem> = {}): Omit<Problem, 'extra'> => ({
  id,
  question: 'An object stands 30 cm in front of a converging lens of focal length 10 cm. Where does the image form?',
  answer: '15 cm behind the lens',
  multimodal_question: 'Using the distances marked in the figure, where does the image form?',
  quizzes: [QUIZ],
  ...fields,
});

Runtime.install({ logger: createConsoleLogger() });

describe('the VE step and the scigenbench protocol in problemWorkflow', () => {
  let environment: WorkflowTestEnvironment;
  let endpoint: ScriptedEndpoint;
  let store: ArtifactStore;
  const taskQueues = {
    workflows: `ve-wf-${process.pid}`,
    llm: `ve-llm-${process.pid}`,
    render: `ve-render-${process.pid}`,
  };
  const base: ProblemSettings = {
    policy: DEFAULT_FILTER_POLICY,
    maxRenderAttempts: 2,
    dpi: 60,
    refinementRounds: 1,
    renderTimeoutSeconds: 20,
    llmMaxAttempts: 3,
    llmTimeoutSeconds: 20,
    taskQueues,
  };
  /** The settings `scigen build` gives each problem under a protocol (cli/commands/build.ts problemSettings). */
  const under = (name: ProtocolName, ve = false): ProblemSettings => {
    const protocol = protocolSettings({ protocol: name, refinementRounds: 1, dpi: 60, visualAnswer: ve });
    return { ...base, protocol, refinementRounds: protocol.settings.refinementRounds, dpi: protocol.settings.dpi };
  };

  beforeAll(async () => {
    endpoint = await startScriptedEndpoint({ script });
    environment = await startWorkflowTestEnvironment('visual-answer', async (common, directory) => {
      const renderer = createRenderer({ python: await findPython(), workDirectory: join(directory, 'render') });
      const provider = createOpenAiProvider({ apiKey: 'sk-test', baseURL: endpoint.openAiBaseUrl, timeoutMs: 10_000 });
      const steps = { classify: 'm', plan: 'm', code: 'm', repair: 'm', judge: 'm', quiz: 'm', answer: 'vision' };
      return [
        await createWorkflowsWorker({ ...common, taskQueue: taskQueues.workflows }),
        await createLlmWorker({
          ...common,
          taskQueue: taskQueues.llm,
          concurrency: 8,
          model: {
            provider,
            models: { ...steps, grade: 'grader' },
            temperatures: { classify: 0, plan: 0, code: 0, repair: 0, judge: 0, quiz: 0, answer: 0 },
            prices: { m: { input: 1, output: 2 }, vision: { input: 3, output: 4 }, grader: { input: 5, output: 6 } },
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

  const keyOf = (uri: string) => uri.slice(store.uri('x').length - 1);
  async function run(fields: Omit<Problem, 'extra'>, settings: ProblemSettings): Promise<ManifestRecord> {
    return runProblemWorkflow(environment, {
      buildId: 've-tier',
      taskQueue: taskQueues.workflows,
      problem: fields,
      settings,
    });
  }
  const only = (record: ManifestRecord): ManifestResult => {
    expect(record.results).toHaveLength(1);
    return record.results![0]!;
  };
  const requests = (id: string, step: string) =>
    endpoint.requests.filter((request) => request.problem === id && request.step === step);

  it('scigenbench: a 600×600 image, never refined, its VE answer stored and graded right', async () => {
    const record = await run(problem('ve-right'), under('scigenbench'));
    const result = only(record);
    expect(result).toMatchObject({ verdict: 'accepted', notes: [], r_inv: 1 });
    expect(result.versions).toHaveLength(1);
    expect(requests('ve-right', 'refine')).toHaveLength(0);
    const image = PNG.sync.read(Buffer.from(await store.get(keyOf(result.image!))));
    expect({ width: image.width, height: image.height }).toEqual({ width: 600, height: 600 });

    expect(result.ve).toMatchObject({
      question: 'Using the distances marked in the figure, where does the image form?',
      correct: true,
      reason: '15 cm behind the lens, as the reference',
    });
    const stored = JSON.parse(await store.getText(keyOf(result.ve!.answer_uri))) as { answer: string; image: string };
    expect(stored.answer).toBe(RIGHT);
    expect(store.uri(stored.image)).toBe(result.image);

    // visual-answer asks the answer model (its default) with the image; grade asks the grade model, text only.
    expect(requests('ve-right', 'visual-answer').map((request) => request.model)).toEqual(['vision']);
    expect(requests('ve-right', 'grade').map((request) => request.model)).toEqual(['grader']);
    // Their tokens are in the problem's usage, at their models' prices, like every other step's.
    const prices: Record<string, [number, number]> = { m: [1, 2], vision: [3, 4], grader: [5, 6] };
    const cost = endpoint.requests
      .filter((request) => request.problem === 've-right')
      .reduce((sum, request) => {
        const [input, output] = prices[request.model!]!;
        return sum + (request.usage!.inputTokens * input + request.usage!.outputTokens * output) / 1e6;
      }, 0);
    expect(requests('ve-right', 'grade')[0]!.usage!.inputTokens).toBeGreaterThan(0);
    expect(record.usage.cost_usd).toBeCloseTo(cost, 12);
  });

  it('scigenbench: a wrong VE answer is graded wrong and leaves the verdict to the filter policy', async () => {
    const result = only(await run(problem('ve-wrong'), under('scigenbench')));
    expect(result.ve).toMatchObject({ correct: false, reason: '20 cm, not 15 cm' });
    expect(result.verdict).toBe('accepted');
  });

  it('a grade answer without JSON fails the step: ve null, a note, the verdict unaffected', async () => {
    const result = only(await run(problem('ve-grade-garbage'), under('scigenbench')));
    expect(result.ve).toBeNull();
    expect(result.notes).toEqual(['no VE result: grade: grade answer has no JSON object']);
    expect(result).toMatchObject({ verdict: 'accepted', r_inv: 1 });
    // The grader's reply is kept for the audit.
    const grade = JSON.parse(
      await store.getText('builds/ve-tier/problems/ve-grade-garbage/imgcoder/attempt-1/answers/ve-grade.json'),
    ) as { reply: string; correct: unknown };
    expect(grade).toMatchObject({ reply: 'Yes, that matches.', correct: null });
  });

  it('scigenbench never skips: a problem classified not visualizable is drawn and scored, with a note', async () => {
    const record = await run(problem('ve-not-visualizable'), under('scigenbench'));
    const result = only(record);
    expect(result.verdict).toBe('accepted');
    expect(result.notes).toEqual(['drawn although classified not visualizable: asks for a derivation only']);
    expect(result.ve).toMatchObject({ correct: true });
    // The dataset protocol skips the same problem.
    const skipped = await run(problem('ve-not-visualizable-dataset'), under('dataset'));
    expect(skipped.verdict).toBe('skipped');
  });

  it('the dataset protocol without ve: no VE step, refinement as configured, no ve in the manifest', async () => {
    const result = only(await run(problem('ve-off'), under('dataset')));
    expect(requests('ve-off', 'visual-answer')).toHaveLength(0);
    expect(requests('ve-off', 'refine')).toHaveLength(1);
    expect(result).not.toHaveProperty('ve');
    const image = PNG.sync.read(Buffer.from(await store.get(keyOf(result.versions[0]!.image))));
    // The script's own 4×3 in at dpi 60, cropped tight: not the protocol's square.
    expect(image.width).toBeLessThan(300);
  });

  it('VE on, but a problem without multimodal_question or answer: ve null, no VE request', async () => {
    const withoutQuestion = problem('ve-no-question', { multimodal_question: undefined });
    const result = only(await run(withoutQuestion, under('dataset', true)));
    expect(result.ve).toBeNull();
    expect(requests('ve-no-question', 'visual-answer')).toHaveLength(0);
  });
});
