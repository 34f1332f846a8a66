import {
  defineSearchAttributeKey,
  SearchAttributeType,
  type VersioningBehavior,
  type WorkflowDefinitionOptions,
} from '@temporalio/common';
import { defineQuery, defineSignal, defineUpdate, workflowInfo } from '@temporalio/workflow';
import type { BuildProtocol } from '../domain/protocol.ts';
import type { LlmActivities } from '../activities/index.ts';
import type { BatcherInput } from './batcher.ts';
import type { StagedProblemReference } from '../domain/staged-pages.ts';
import type { FilterPolicy, GeneratorSpec, Problem, ReplacedPrompt, Step, Usage, Verdict } from '../domain/types.ts';

/** Search attributes on every problem workflow, so users can list "every failed physics problem of a build". */
export const searchAttributes = {
  buildId: defineSearchAttributeKey('ScigenBuildId', SearchAttributeType.KEYWORD),
  subject: defineSearchAttributeKey('ScigenSubject', SearchAttributeType.KEYWORD),
  imageType: defineSearchAttributeKey('ScigenImageType', SearchAttributeType.KEYWORD),
  stage: defineSearchAttributeKey('ScigenStage', SearchAttributeType.KEYWORD),
  verdict: defineSearchAttributeKey('ScigenVerdict', SearchAttributeType.KEYWORD),
  renderAttempts: defineSearchAttributeKey('ScigenRenderAttempts', SearchAttributeType.INT),
  rInv: defineSearchAttributeKey('ScigenRInv', SearchAttributeType.DOUBLE),
} as const;

/**
 * The values of ScigenStage while a problem runs, in pipeline order ('done' once it closed).
 * `scigen status` counts running problems per stage and `scigen list --stage` filters by them.
 */
export const PROBLEM_STAGES = [
  'queued',
  'classify',
  'plan',
  'quiz',
  'code',
  'image',
  'render',
  'judge',
  'refine',
  'answer',
  'visual-answer',
  'grade',
  'compare',
] as const;
export type ProblemStage = (typeof PROBLEM_STAGES)[number];

/** The same attributes by name and type, for registering them on a server. */
export const SEARCH_ATTRIBUTE_TYPES: Record<string, 'Keyword' | 'Int' | 'Double'> = {
  ScigenBuildId: 'Keyword',
  ScigenSubject: 'Keyword',
  ScigenImageType: 'Keyword',
  ScigenStage: 'Keyword',
  ScigenVerdict: 'Keyword',
  ScigenRenderAttempts: 'Int',
  ScigenRInv: 'Double',
};

export interface TaskQueues {
  workflows: string;
  llm: string;
  render: string;
}

/** A generator as a build runs it: its spec, and the models of its revision steps. */
export interface GeneratorSettings extends GeneratorSpec {
  /**
   * The models a code generator's repair and refine steps ask, when they are not `model`: the
   * provider's `models.repair` and `models.refine` (which defaults to the repair model) for a
   * generator that names no model of its own. Absent for a generator that names its model, and in
   * builds started before it was recorded: every code step then asks `model`.
   */
  revisionModels?: { repair: string; refine: string };
  /** A pixel generator's own OpenAI-images-compatible server (config `baseUrl`); absent: the build's provider. */
  baseUrl?: string;
  /** An external generator's images: a folder (absolute path or s3:// URI) or a template with `{id}`. */
  images?: string;
}

/** The per-problem settings a build hands each child; small, and free of secrets. */
export interface ProblemSettings {
  /**
   * The generators each problem is given to, the first one's result on the manifest line's top
   * level. Absent in builds started before generators existed: one code generator, "imgcoder".
   */
  generators?: GeneratorSettings[];
  /** Refinement rounds of code generators (visual feedback). Absent: 0, as before it existed. */
  refinementRounds?: number;
  policy: FilterPolicy;
  /** First code plus repairs. */
  maxRenderAttempts: number;
  dpi: number;
  renderTimeoutSeconds: number;
  llmMaxAttempts: number;
  llmTimeoutSeconds: number;
  taskQueues: TaskQueues;
  /**
   * Who answers the model calls (taskQueues.llm is that provider's queue); `scripted` is the
   * bundled demo endpoint. Absent in builds started before it was recorded.
   */
  provider?: 'gemini' | 'openai' | 'scripted';
  /**
   * The build's protocol and what it decides: whether a problem judged not visualizable is skipped,
   * the figure size, the VE step (refinementRounds and dpi above carry its values too). Absent in
   * builds started before protocols existed: the dataset protocol without VE.
   */
  protocol?: BuildProtocol;
  /** Batch mode (config build.mode "batch"): which steps' calls go through batches, and to which batcher. Absent: real time. */
  batch?: ProblemBatchSettings;
}

export interface ProblemBatchSettings {
  steps: Step[];
  /** Later batches a request gets after a retryable error or an unfinished batch, before real time. */
  maxResubmits: number;
  /** The build's batcher workflow (workflows/batcher.ts) that collects the requests. */
  batcherWorkflowId: string;
  /** The provider's batch task queue (workers/llm-queue.ts batchTaskQueue): steps run there while batched. */
  taskQueue: string;
}

/**
 * A problem workflow's input names its problem; it does not carry it. The problem is read from its
 * staged page by the workflow's first step, so neither the build's history (the child's start) nor
 * the problem's own holds its texts.
 */
export type ProblemWorkflowInput = ProblemByReferenceInput | ProblemInlineInput;

interface ProblemWorkflowInputBase {
  buildId: string;
  /** Filesystem- and id-safe form of problem.id (domain/input.ts problemKey). */
  problemKey: string;
  settings: ProblemSettings;
}

export interface ProblemByReferenceInput extends ProblemWorkflowInputBase {
  /** The problem's own id (the `x-scigen-problem` header, the workflow's result). */
  problemId: string | number;
  /** Where the problem is staged: its page and its line on that page. */
  staged: StagedProblemReference;
}

/** Problems started by builds from before 2026-11-26 carry the whole problem. */
export interface ProblemInlineInput extends ProblemWorkflowInputBase {
  problem: Problem;
}

/** The problem's id, wherever the input keeps it. */
export function problemIdOf(input: ProblemWorkflowInput): string | number {
  return 'problem' in input ? input.problem.id : input.problemId;
}

export interface ProblemWorkflowOutput {
  id: string | number;
  verdict: Verdict;
  usage: Usage;
}

export interface DatasetBuildInput {
  buildId: string;
  /** Artifact keys of the staged, validated problems: JSONL pages read one at a time. */
  inputPages: string[];
  /** The most problems a page holds; every page but the last holds this many when `pageCounts` is absent. */
  pageSize: number;
  /**
   * Problems on each page of `inputPages`: pages are also cut by bytes (domain/staged-pages.ts), so
   * they hold different counts. Absent in builds staged before that.
   */
  pageCounts?: number[];
  problemCount: number;
  /** Invalid input lines recorded with verdict `invalid` (--skip-invalid). */
  invalidCount: number;
  /** Children in flight at once (the sliding window); changeable live with `setWindowSizeUpdate`. */
  windowSize: number;
  /** Pause the build once finished problems cost this much (USD); null for no cap. */
  budgetUsd: number | null;
  /** Continue as new once this run's history has this many events (or when the server suggests it). */
  continueAsNewEvents: number;
  settings: ProblemSettings;
  /** Batch mode: the build's batcher, started by the build and kept across its runs. Absent: real time. */
  batcher?: BatcherInput;
  /**
   * The prompts the build's config replaced (config `prompts`), recorded in summary.json. The llm
   * workers read the texts from their own config; absent when none was replaced.
   */
  prompts?: ReplacedPrompt[];
}

export interface DatasetBuildOutput {
  buildId: string;
  manifestUri: string;
  summaryUri: string;
  counts: Record<Verdict, number>;
  usage: Usage;
}

export type BuildPhase = 'running' | 'paused' | 'cancelling' | 'finalizing' | 'finished';

export interface BuildProgress {
  buildId: string;
  total: number;
  completed: number;
  inFlight: number;
  counts: Record<Verdict, number>;
  usage: Usage;
  phase: BuildPhase;
  /** Why the build is paused: asked to, or the budget is spent. */
  pausedBy: 'user' | 'budget' | null;
  windowSize: number;
  budgetUsd: number | null;
  /** Problems finished per minute since this build (re)started; null before the first. */
  problemsPerMinute: number | null;
  etaSeconds: number | null;
  /** How many times the build continued as new. */
  runs: number;
  /** Batch mode: the batcher's workflow id, whose batchProgress query tells of the batches. */
  batcherWorkflowId?: string;
}

/** What a problem workflow tells its build when it closes. */
export interface ProblemFinished {
  problemKey: string;
  /** null when the problem was cancelled before it reached a verdict. */
  verdict: Verdict | null;
  usage: Usage;
}

export const progressQuery = defineQuery<BuildProgress>('progress');
export const problemFinishedSignal = defineSignal<[ProblemFinished]>('problemFinished');
export const pauseSignal = defineSignal('pause');
/** Resumes a paused build; with a budget, raises the cap first. */
export const resumeSignal = defineSignal<[{ budgetUsd?: number | null }]>('resume');
export const setWindowSizeUpdate = defineUpdate<number, [number]>('setWindowSize');

/** A model call a problem sends its build's batcher: where the request is stored and whom to tell. */
export interface BatchRequest {
  /** `scigen:<step>:<problem-id>:<attempt>` (CONTRACT.md): unique per problem, step and submission. */
  customId: string;
  requestKey: string;
  kind: 'text' | 'image';
  model: string;
  bytes: number;
  /** The problem workflow waiting for the answer. */
  workflowId: string;
}

/** What the batcher tells a problem of one request: answered (stored beside the request), or to be sent again. */
export interface BatchAnswerNote {
  customId: string;
  answered: boolean;
  /** Why it was not answered (the provider's words, or the batch's end state). */
  reason?: string;
}

export interface BatchProgress {
  provider: string;
  /** Requests collected and not yet submitted. */
  waiting: number;
  /** Batches submitted so far, those still running, and those done. */
  submitted: number;
  inProgress: number;
  done: number;
  /** Requests in running batches. */
  requestsInProgress: number;
  requestsAnswered: number;
  paused: boolean;
  /** When the running batches are expected to finish (ms since epoch); null when none runs. */
  expectedFinishMs: number | null;
}

export const batchRequestSignal = defineSignal<[BatchRequest[]]>('batchRequest');
export const batchAnswersSignal = defineSignal<[BatchAnswerNote[]]>('batchAnswers');
/** Steers a batcher: `pause` stops submissions, `resume` restarts them, `close` ends it once idle. */
export const batcherControlSignal = defineSignal<['pause' | 'resume' | 'close']>('batcherControl');
export const batchProgressQuery = defineQuery<BatchProgress>('batchProgress');

export function batcherWorkflowId(buildId: string, provider: string): string {
  return `build/${buildId}/batcher/${provider}`;
}

export function buildWorkflowId(buildId: string): string {
  return `build/${buildId}`;
}

export function problemWorkflowId(buildId: string, problemKey: string): string {
  return `build/${buildId}/problem/${problemKey}`;
}

/**
 * A workflow type's Worker Versioning behavior (setWorkflowOptions), declared only when a versioned
 * worker runs it: the server refuses a workflow task completed by an unversioned worker that names
 * a behavior. The version seen is the one of the run's first task on this worker (the history's,
 * when replaying), so the choice is the same on every replay. A run that began on unversioned
 * workers declares none and gets the versioned worker's default, AUTO_UPGRADE (workers/workers.ts).
 */
export function behaviorOnVersionedWorkers(behavior: VersioningBehavior): () => WorkflowDefinitionOptions {
  // An unversioned worker has a build id of its own but no deployment name.
  return () => (workflowInfo().currentDeploymentVersion?.deploymentName ? { versioningBehavior: behavior } : {});
}

/** The step each model activity calls for (the `x-scigen-step` header, a custom_id's step, `scigen inspect`'s step). */
export const STEP_OF_MODEL_ACTIVITY: Record<keyof LlmActivities, Step> = {
  classifyProblem: 'classify',
  planDiagram: 'plan',
  writeDiagramCode: 'code',
  repairDiagramCode: 'repair',
  refineDiagramCode: 'refine',
  drawDiagramImage: 'image',
  judgeImage: 'judge',
  generateQuizzes: 'quiz',
  answerQuizzes: 'answer',
  answerVisualQuestion: 'visual-answer',
  gradeVisualAnswer: 'grade',
};
