import type { StageProblemInput } from '../../activities/record.ts';
import { DEFAULT_FILTER_POLICY } from '../../domain/filter-policy.ts';
import { problemFacts } from '../../domain/problem-facts.ts';
import { protocolSettings } from '../../domain/protocol.ts';
import type { JudgeScores, Problem, Quiz, Usage, Verdict } from '../../domain/types.ts';
import type { ProblemSettings, TaskQueues } from '../../workflows/definitions.ts';
import type { ActivityResult, ActivityScript, FakeResponse } from './fake-activities.ts';

/**
 * The sample build whose histories are committed under test/replay/histories and replayed in CI.
 * Each problem scenario drives problemWorkflow down one branch with scripted activity answers;
 * the build scenario runs datasetBuildWorkflow over a few problems with a low continue-as-new
 * threshold. `npm run histories:refresh` (scripts/refresh-histories.ts) runs them all.
 */

const USAGE: Usage = { input_tokens: 120, output_tokens: 80, cost_usd: 0.0004 };

const QUIZZES: Quiz[] = [
  {
    question: 'Which line is drawn?',
    options: { A: 'y = x', B: 'y = 2x', C: 'y = -x', D: 'x = 1' },
    correct_option: 'A',
  },
  {
    question: 'Where does the line cross the y axis?',
    options: { A: 'at 1', B: 'at 0', C: 'at -1', D: 'nowhere' },
    correct_option: 'B',
  },
];

const scores = (low: Partial<JudgeScores> = {}): JudgeScores => ({
  correctness_fidelity: 2,
  layout_precision: 2,
  readability_occlusion: 2,
  scientific_plausibility: 2,
  expressiveness_richness: 2,
  ...low,
});

function judged(
  low: Partial<JudgeScores> = {},
  overall = 'A clear figure.',
): FakeResponse<ActivityResult<'judgeImage'>> {
  const dimensions = Object.fromEntries(Object.keys(low).map((dimension) => [dimension, 'could be better']));
  return {
    result: {
      ok: true,
      value: { scores: scores(low), reasoning: { overall, dimensions }, judgeKey: 'fake/judge.json' },
      usage: USAGE,
    },
  };
}

const code = (codeKey: string): FakeResponse<ActivityResult<'writeDiagramCode'>> => ({
  result: { ok: true, value: { codeKey }, answerKey: `${codeKey}.answer.md`, usage: USAGE },
});

const noScript: FakeResponse<ActivityResult<'writeDiagramCode'>> = {
  result: { ok: false, reason: 'no python block in the answer', answerKey: 'fake/answer.md', usage: USAGE },
};

const rendered = (imageKey: string, flaws: string[] = []): FakeResponse<ActivityResult<'renderDiagram'>> => ({
  result: {
    ok: true,
    imageKey,
    figureKeys: [imageKey],
    width: 600,
    height: 600,
    flaws,
    introspectionKey: 'fake/introspection.json',
    findings: flaws,
  },
});

const renderError: FakeResponse<ActivityResult<'renderDiagram'>> = {
  result: {
    ok: false,
    kind: 'exception',
    message: 'Traceback (most recent call last):\n  File "diagram.py", line 4\nZeroDivisionError: division by zero',
    introspectionKey: null,
    findings: [],
  },
};

const correctAnswers = (quizzes: Quiz[], wrong = 0): FakeResponse<ActivityResult<'answerQuizzes'>> => ({
  result: {
    results: quizzes.map((quiz, index) => ({
      question: quiz.question,
      correct_option: quiz.correct_option,
      chosen: index < wrong ? (quiz.correct_option === 'A' ? 'B' : 'A') : quiz.correct_option,
    })),
    usage: USAGE,
  },
});

/** What every activity answers unless a scenario says otherwise: a problem that is accepted first time. */
export const DEFAULT_RESPONSES: Required<ActivityScript> = {
  classifyProblem: [
    {
      result: {
        ok: true,
        value: {
          visualizable: true,
          reason: 'a concrete setup',
          subject: 'Math',
          image_type: 'Math - Analytic Geometry',
        },
        usage: USAGE,
      },
    },
  ],
  planDiagram: [{ result: { ok: true, value: { planKey: 'fake/plan.json' }, usage: USAGE } }],
  writeDiagramCode: [code('fake/attempt-1/diagram.py')],
  repairDiagramCode: [code('fake/attempt-2/diagram.py')],
  refineDiagramCode: [code('fake/refine-1/diagram.py')],
  drawDiagramImage: [{ result: { ok: true, value: { imageKey: 'fake/pixel/image.png' }, usage: USAGE } }],
  importExternalImage: [{ result: { ok: true, imageKey: 'fake/external/image.webp' } }],
  judgeImage: [judged()],
  generateQuizzes: [
    { result: { ok: true, value: { quizzes: QUIZZES, quizKey: 'fake/quizzes.json', dropped: 0 }, usage: USAGE } },
  ],
  answerQuizzes: [correctAnswers(QUIZZES)],
  answerVisualQuestion: [{ result: { ok: true, value: { answerKey: 'fake/answers/ve-answer.json' }, usage: USAGE } }],
  gradeVisualAnswer: [
    {
      result: {
        ok: true,
        value: { correct: true, reason: 'same value', gradeKey: 'fake/answers/ve-grade.json' },
        usage: USAGE,
      },
    },
  ],
  renderDiagram: [rendered('fake/attempt-1/figure-1.png')],
  compareWithReference: [{ result: { ok: true, psnr: 14.2, ssim: 0.61 } }],
  readProblemPage: [{ result: [] }],
  listPageProblems: [{ result: [] }],
  readProblemRecord: [{ result: null }],
  // A problem by reference is the scenario's own: its key is its name (scenarioProblem).
  stageProblem: [
    {
      compute: (input: StageProblemInput) =>
        problemFacts('problem' in input ? input.problem : scenarioProblem(input.problemKey)),
    },
  ],
  recordProblemResult: [{ result: undefined }],
  finalizeBuild: [
    {
      result: {
        manifestUri: 'file:///fake/manifest.jsonl',
        summaryUri: 'file:///fake/summary.json',
        summary: {
          build_id: 'fake',
          problems: 0,
          verdicts: { accepted: 0, rejected: 0, skipped: 0, failed: 0, invalid: 0 },
          r_inv_mean: null,
          judge_means: null,
          render_attempts_mean: null,
          by_subject: {},
          by_image_type: {},
          usage: USAGE,
          generators: [],
          finished_at: '2026-01-01T00:00:00.000Z',
        },
      },
    },
  ],
};

export const TASK_QUEUES: TaskQueues = {
  workflows: 'replay-workflows',
  llm: 'replay-llm',
  render: 'replay-render',
};

export const SETTINGS: ProblemSettings = {
  policy: DEFAULT_FILTER_POLICY,
  maxRenderAttempts: 3,
  dpi: 100,
  renderTimeoutSeconds: 20,
  llmMaxAttempts: 3,
  llmTimeoutSeconds: 60,
  taskQueues: TASK_QUEUES,
};

/** How a scenario's workflow must end, checked before its history is saved. */
export type Expected = { status: 'completed'; verdict: Verdict } | { status: 'failed' } | { status: 'cancelled' };

export interface ProblemScenario {
  /** Also the problem's key and the history's file name. */
  name: string;
  description: string;
  problem: Omit<Problem, 'id' | 'extra'>;
  settings?: Partial<ProblemSettings>;
  activities: ActivityScript;
  /** Cancel the workflow once an activity waits for cancellation (`waitForCancellation`). */
  cancel?: boolean;
  expected: Expected;
}

const QUESTION = 'Plot the line y = x for x from -2 to 2.';
/** A SciGenBench problem: its quizzes, its question for the image (the VE step) and its answer. */
const BENCHMARK_PROBLEM = {
  question: QUESTION,
  quizzes: QUIZZES,
  multimodal_question: 'Where does the drawn line cross the y axis?',
  answer: 'at the origin',
};
const SCIGENBENCH = (() => {
  const protocol = protocolSettings({ protocol: 'scigenbench', refinementRounds: 1, dpi: 150, visualAnswer: false });
  return { protocol, refinementRounds: protocol.settings.refinementRounds, dpi: protocol.settings.dpi };
})();
const code2 = { name: 'imgcoder', paradigm: 'code', model: '' } as const;
const pixel = { name: 'pixel', paradigm: 'pixel', model: 'fake-image-model' } as const;
const external = { name: 'flux', paradigm: 'external', model: 'external', images: '/fake/flux-run' } as const;
const ownServerPixel = { ...pixel, name: 'own-server', baseUrl: 'http://127.0.0.1:9/v1' } as const;

export const PROBLEM_SCENARIOS: ProblemScenario[] = [
  {
    name: 'not-visualizable',
    description: 'classify says the problem cannot be drawn: skipped, nothing else runs',
    problem: { question: 'Prove that there are infinitely many primes.' },
    activities: {
      classifyProblem: [
        {
          result: {
            ok: true,
            value: {
              visualizable: false,
              reason: 'asks for a proof',
              subject: 'Math',
              image_type: 'Math - Set & Probability',
            },
            usage: USAGE,
          },
        },
      ],
    },
    expected: { status: 'completed', verdict: 'skipped' },
  },
  {
    name: 'accepted-given-quizzes',
    description: 'plan, code, render, judge; the problem brings its quizzes, so none are generated; accepted',
    problem: { question: QUESTION, quizzes: QUIZZES },
    activities: {},
    expected: { status: 'completed', verdict: 'accepted' },
  },
  {
    name: 'accepted-generated-quizzes',
    description: 'as accepted-given-quizzes, but the quizzes are generated',
    problem: { question: QUESTION },
    activities: {},
    expected: { status: 'completed', verdict: 'accepted' },
  },
  {
    name: 'rejected-by-filter',
    description: 'the judge scores correctness 1 and one quiz is answered wrong: the filter rejects it',
    problem: { question: QUESTION },
    activities: { judgeImage: [judged({ correctness_fidelity: 1 })], answerQuizzes: [correctAnswers(QUIZZES, 1)] },
    expected: { status: 'completed', verdict: 'rejected' },
  },
  {
    name: 'render-repaired',
    description: 'the first answer holds no script, the repaired script raises, the second repair renders',
    problem: { question: QUESTION },
    activities: {
      writeDiagramCode: [noScript],
      repairDiagramCode: [code('fake/attempt-2/diagram.py'), code('fake/attempt-3/diagram.py')],
      renderDiagram: [renderError, rendered('fake/attempt-3/figure-1.png')],
    },
    expected: { status: 'completed', verdict: 'accepted' },
  },
  {
    name: 'render-out-of-attempts',
    description: 'every render raises: failed after maxRenderAttempts (2)',
    problem: { question: QUESTION },
    settings: { maxRenderAttempts: 2 },
    activities: { renderDiagram: [renderError] },
    expected: { status: 'completed', verdict: 'failed' },
  },
  {
    name: 'model-step-non-retryable',
    description: 'the plan step fails non-retryably (an auth error, say): failed with its reason',
    problem: { question: QUESTION },
    activities: { planDiagram: [{ failure: 'invalid API key for fake' }] },
    expected: { status: 'completed', verdict: 'failed' },
  },
  {
    name: 'model-answer-unusable',
    description: 'the judge answers with no scores: a parse failure ends the problem failed',
    problem: { question: QUESTION },
    activities: { judgeImage: [{ result: { ok: false, reason: 'no JSON object in the answer', usage: USAGE } }] },
    expected: { status: 'completed', verdict: 'failed' },
  },
  {
    name: 'pixel-generator',
    description: 'one pixel generator: the image model draws, judge, answer; accepted',
    problem: { question: QUESTION },
    settings: { generators: [pixel] },
    activities: {},
    expected: { status: 'completed', verdict: 'accepted' },
  },
  {
    name: 'two-generators',
    description: 'a code and a pixel generator; the pixel one fails non-retryably, the code one is accepted',
    problem: { question: QUESTION },
    settings: { generators: [code2, pixel] },
    activities: { drawDiagramImage: [{ failure: 'content refused by the image model' }] },
    expected: { status: 'completed', verdict: 'accepted' },
  },
  {
    name: 'external-generator',
    description:
      'a code generator, an external one whose image is copied in and judged, and a pixel one on its own server; accepted',
    problem: { question: QUESTION },
    settings: { generators: [code2, external, ownServerPixel] },
    activities: {},
    expected: { status: 'completed', verdict: 'accepted' },
  },
  {
    name: 'external-image-missing',
    description: 'an external generator first, with no image for the problem: it fails, the code generator is accepted',
    problem: { question: QUESTION },
    settings: { generators: [external, code2] },
    activities: { importExternalImage: [{ result: { ok: false, reason: 'no image for external-image-missing' } }] },
    expected: { status: 'completed', verdict: 'failed' },
  },
  {
    name: 'refinement-improves-then-fails',
    description:
      'three refinement rounds: the first image is sparse, round 1 improves it but leaves an overlap, round 2 fails non-retryably',
    problem: { question: QUESTION },
    settings: { refinementRounds: 3 },
    activities: {
      judgeImage: [
        judged({ expressiveness_richness: 1, layout_precision: 1 }, 'Too sparse.'),
        judged({ readability_occlusion: 1 }),
      ],
      refineDiagramCode: [code('fake/refine-1/diagram.py'), { failure: 'invalid value for max_tokens' }],
      renderDiagram: [
        rendered('fake/attempt-1/figure-1.png'),
        rendered('fake/refine-1/figure-1.png', ["label 'y = x' overlaps a line"]),
      ],
    },
    expected: { status: 'completed', verdict: 'accepted' },
  },
  {
    name: 'refinement-no-script',
    description: 'one refinement round whose answer holds no script: the first version is kept, with a note',
    problem: { question: QUESTION },
    settings: { refinementRounds: 1 },
    activities: { judgeImage: [judged({ layout_precision: 1 })], refineDiagramCode: [noScript] },
    expected: { status: 'completed', verdict: 'accepted' },
  },
  {
    name: 'refinement-does-not-render',
    description: 'a refinement round whose script raises: the first version is kept, with a note',
    problem: { question: QUESTION },
    settings: { refinementRounds: 1 },
    activities: {
      judgeImage: [judged({ layout_precision: 1 })],
      renderDiagram: [rendered('fake/attempt-1/figure-1.png'), renderError],
    },
    expected: { status: 'completed', verdict: 'accepted' },
  },
  {
    name: 'reference-compared',
    description: 'a problem with a reference image: PSNR and SSIM are measured',
    problem: { question: QUESTION, reference_image_key: 'fake/reference.png' },
    activities: {},
    expected: { status: 'completed', verdict: 'accepted' },
  },
  {
    name: 'reference-not-comparable',
    description: 'the comparison answers that it cannot compare: a note, the verdict stands',
    problem: { question: QUESTION, reference_image_key: 'fake/reference.png' },
    activities: { compareWithReference: [{ result: { ok: false, reason: 'the reference image is not a PNG' } }] },
    expected: { status: 'completed', verdict: 'accepted' },
  },
  {
    name: 'reference-compare-fails',
    description: 'the comparison activity fails non-retryably: a note, the verdict stands',
    problem: { question: QUESTION, reference_image_key: 'fake/reference.png' },
    activities: { compareWithReference: [{ failure: 'scikit-image is not installed' }] },
    expected: { status: 'completed', verdict: 'accepted' },
  },
  {
    name: 'scigenbench-visual-answer',
    description:
      'the scigenbench protocol: judged below 2 yet not refined, quizzes answered, then the VE question answered and graded',
    problem: BENCHMARK_PROBLEM,
    settings: SCIGENBENCH,
    activities: { judgeImage: [judged({ layout_precision: 1 })] },
    expected: { status: 'completed', verdict: 'accepted' },
  },
  {
    name: 'scigenbench-not-visualizable-drawn',
    description: 'the scigenbench protocol: classify says not visualizable, the problem is drawn and scored anyway',
    problem: BENCHMARK_PROBLEM,
    settings: SCIGENBENCH,
    activities: {
      classifyProblem: [
        {
          result: {
            ok: true,
            value: { visualizable: false, reason: 'abstract', subject: 'Math', image_type: 'Math - Analytic Geometry' },
            usage: USAGE,
          },
        },
      ],
      gradeVisualAnswer: [
        {
          result: {
            ok: true,
            value: { correct: false, reason: 'another point', gradeKey: 'fake/answers/ve-grade.json' },
            usage: USAGE,
          },
        },
      ],
    },
    expected: { status: 'completed', verdict: 'accepted' },
  },
  {
    name: 'scigenbench-grade-unusable',
    description: 'the grade answer holds no JSON: ve stays null with a note, the verdict stands',
    problem: BENCHMARK_PROBLEM,
    settings: SCIGENBENCH,
    activities: {
      gradeVisualAnswer: [{ result: { ok: false, reason: 'grade answer has no JSON object', usage: USAGE } }],
    },
    expected: { status: 'completed', verdict: 'accepted' },
  },
  {
    name: 'scigenbench-visual-answer-fails',
    description: 'the visual-answer call fails non-retryably: no grade, ve null with a note, the verdict stands',
    problem: BENCHMARK_PROBLEM,
    settings: SCIGENBENCH,
    activities: { answerVisualQuestion: [{ failure: 'image input is not supported' }] },
    expected: { status: 'completed', verdict: 'accepted' },
  },
  {
    name: 'scigenbench-no-visual-question',
    description: 'the scigenbench protocol on a problem without multimodal_question: no VE step, ve null',
    problem: { question: QUESTION, quizzes: QUIZZES },
    settings: SCIGENBENCH,
    activities: {},
    expected: { status: 'completed', verdict: 'accepted' },
  },
  {
    name: 'record-write-fails',
    description: 'writing the record fails for good: the build is told `failed` and the workflow fails',
    problem: { question: QUESTION },
    activities: { recordProblemResult: [{ failure: 'the artifact store refused the write' }] },
    expected: { status: 'failed' },
  },
  {
    name: 'cancelled',
    description: 'the problem is cancelled while planning: it tells the build and closes cancelled',
    problem: { question: QUESTION },
    activities: { planDiagram: [{ waitForCancellation: true }] },
    cancel: true,
    expected: { status: 'cancelled' },
  },
];

export interface BuildScenario {
  name: string;
  description: string;
  buildId: string;
  pageSize: number;
  windowSize: number;
  continueAsNewEvents: number;
  /** Problems by key, in input order; `finished` ones have a record from an earlier run. */
  problems: Array<{ key: string; finished?: Verdict; activities?: ActivityScript }>;
  /** A window-size update sent once the build started. */
  windowSizeUpdate: number;
}

export const BUILD_SCENARIO: BuildScenario = {
  name: 'build-continued-as-new',
  description:
    'datasetBuildWorkflow over six problems in pages of two, a window of two raised to three by update, one problem already finished, continuing as new past 30 events',
  buildId: 'replay-build',
  pageSize: 2,
  windowSize: 2,
  continueAsNewEvents: 30,
  problems: [
    { key: 'p1' },
    {
      key: 'p2',
      activities: {
        classifyProblem: [
          {
            result: {
              ok: true,
              value: {
                visualizable: false,
                reason: 'needs a missing figure',
                subject: 'Physics',
                image_type: 'Physics - Circuit',
              },
              usage: USAGE,
            },
          },
        ],
      },
    },
    { key: 'p3', finished: 'accepted' },
    { key: 'p4', activities: { renderDiagram: [renderError] } },
    { key: 'p5' },
    { key: 'p6', activities: { judgeImage: [judged({ correctness_fidelity: 0 })] } },
  ],
  windowSizeUpdate: 3,
};

/** The problem a scenario names; its id is its name. */
export function scenarioProblem(
  name: string,
  problem: Omit<Problem, 'id' | 'extra'> = { question: QUESTION },
): Problem {
  return { id: name, ...problem, extra: {} };
}

/** One saved history, as test/replay/histories/index.json lists it. */
export interface HistoryEntry {
  file: string;
  workflowType: string;
  workflowId: string;
  scenario: string;
  description: string;
  /** The activities the run scheduled, in order: the branch it took, for a reader of the diff. */
  activities: string[];
}
