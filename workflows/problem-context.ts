/**
 * What every step of a problem workflow works with: the activity proxies (one per task queue), the
 * problem's progress as the Temporal UI and `scigen status` show it, and the usage ledger. Created
 * once per problem workflow and passed to each step explicitly.
 */
import {
  ActivityFailure,
  ApplicationFailure,
  isCancellation,
  proxyActivities,
  proxyLocalActivities,
  setCurrentDetails,
  TemporalFailure,
  TimeoutFailure,
  upsertSearchAttributes,
} from '@temporalio/workflow';
import { RetryState, type SearchAttributeUpdatePair } from '@temporalio/common';
import type { LlmActivities, RenderActivities, StorageActivities } from '../activities/index.ts';
import type { ProblemRef } from '../activities/types.ts';
import { addUsage, ZERO_USAGE, type GeneratorSpec, type Usage } from '../domain/types.ts';
import { batchedSteps } from './batched-steps.ts';
import { problemIdOf, searchAttributes, type ProblemStage, type ProblemWorkflowInput } from './definitions.ts';

const HEARTBEAT_TIMEOUT_SECONDS = 15;

/** A model step that failed for good (non-retryable, or out of attempts): its generator, or the problem, ends `failed`. */
export class StepFailed extends Error {
  constructor(readonly reason: string) {
    super(reason);
  }
}

/** True for what ends a generator's (or the problem's) work with a reason rather than failing the workflow task. */
export function isStepFailure(error: unknown): error is StepFailed | TemporalFailure {
  return error instanceof StepFailed || (error instanceof TemporalFailure && !isCancellation(error));
}

/** The reason a step failure gives in the manifest; a Temporal failure's message after `prefix`, when given. */
export function reasonOf(error: StepFailed | TemporalFailure, prefix?: string): string {
  if (error instanceof StepFailed) return error.reason;
  return prefix === undefined ? error.message : `${prefix}: ${error.message}`;
}

export type ProblemContext = ReturnType<typeof createProblemContext>;

export function createProblemContext(input: ProblemWorkflowInput, generators: readonly GeneratorSpec[]) {
  const { settings } = input;
  const llmOptions = {
    taskQueue: settings.taskQueues.llm,
    startToCloseTimeout: `${settings.llmTimeoutSeconds + 30}s`,
    // Calls heartbeat while they wait: a dead worker's call is retried after this, not the full timeout.
    heartbeatTimeout: `${HEARTBEAT_TIMEOUT_SECONDS}s`,
    retry: {
      initialInterval: '1s',
      backoffCoefficient: 2,
      maximumInterval: '1m',
      maximumAttempts: settings.llmMaxAttempts,
    },
  };
  const llm = proxyActivities<LlmActivities>(llmOptions);
  const renderer = proxyActivities<RenderActivities>({
    taskQueue: settings.taskQueues.render,
    // The renderer enforces its own wall clock; this only catches a lost worker.
    startToCloseTimeout: `${settings.renderTimeoutSeconds + 60}s`,
    heartbeatTimeout: `${HEARTBEAT_TIMEOUT_SECONDS}s`,
    retry: { initialInterval: '1s', maximumAttempts: 5 },
  });
  // Writing one small file is a local activity: it runs in this workflow's worker within the
  // workflow task, so it costs the server no task of its own and the history one marker (without
  // its input). A worker that dies while writing loses the workflow task, and the next worker
  // writes it again (the writes are idempotent).
  const storage = proxyLocalActivities<StorageActivities>({
    startToCloseTimeout: '30s',
    retry: { initialInterval: '1s', maximumAttempts: 20 },
  });
  // Copying an external generator's image in is storage work on the workflows queue, but a regular
  // activity: it reads a file or an S3 object of any size, and the UI shows it as a step.
  const imports = proxyActivities<StorageActivities>({
    taskQueue: settings.taskQueues.workflows,
    startToCloseTimeout: '2m',
    retry: { initialInterval: '1s', maximumAttempts: 5 },
  });
  const problem: ProblemRef = { buildId: input.buildId, problemKey: input.problemKey, problemId: problemIdOf(input) };
  return {
    problem,
    settings,
    llm: settings.batch
      ? batchedSteps(
          llm,
          proxyActivities<LlmActivities>({ ...llmOptions, taskQueue: settings.batch.taskQueue }),
          settings.batch,
          problem.problemId,
        )
      : llm,
    renderer,
    storage,
    imports,
    progress: createProgress(generators.length > 1),
    ledger: createLedger(settings.llmMaxAttempts),
  };
}

/**
 * The problem's stage and facts in the Temporal UI (current details) and in search attributes.
 * Facts learnt between stage changes (subject, render attempts, R_inv) go out with the next stage's
 * upsert: each upsert is a visibility write on the server, so one per workflow task, not one per
 * fact (bench:profile: the server's CPU per problem fell by a fifth).
 */
function createProgress(severalGenerators: boolean) {
  let pending: SearchAttributeUpdatePair[] = [];
  /** The first generator's judge scores once known, shown for the rest of the problem. */
  let judgeNote = '';

  function upsert(pairs: SearchAttributeUpdatePair[]): void {
    upsertSearchAttributes([...pending, ...pairs]);
    pending = [];
  }

  return {
    /** A fact for the search attributes, sent with the next stage change. */
    note(...pairs: SearchAttributeUpdatePair[]): void {
      pending.push(...pairs);
    },
    setJudgeNote(note: string): void {
      judgeNote = note;
    },
    get judgeNote(): string {
      return judgeNote;
    },
    enter(stage: ProblemStage, details: string, generator?: GeneratorSpec): void {
      upsert([{ key: searchAttributes.stage, value: stage }]);
      const who = severalGenerators && generator ? ` (${generator.name})` : '';
      setCurrentDetails(`**${stage}**${who} — ${details}${judgeNote ? `\n\n${judgeNote}` : ''}`);
    },
    /** The activity summary shown in the timeline: "[dalle] judge: …" when the build compares several generators. */
    summary(text: string, generator?: GeneratorSpec): string {
      return severalGenerators && generator ? `[${generator.name}] ${text}` : text;
    },
    finish(pairs: SearchAttributeUpdatePair[], details: string): void {
      upsert(pairs);
      setCurrentDetails(`${details}${judgeNote ? `\n\n${judgeNote}` : ''}`);
    },
  };
}

/** What the problem's model calls cost: in total, and per generator for the calls made for one. */
function createLedger(llmMaxAttempts: number) {
  let total: Usage = ZERO_USAGE;
  const byGenerator = new Map<string, Usage>();

  function charge(cost: Usage, generator?: GeneratorSpec): void {
    total = addUsage(total, cost);
    if (generator) byGenerator.set(generator.name, addUsage(byGenerator.get(generator.name) ?? ZERO_USAGE, cost));
  }

  /**
   * Runs an activity that reports usage and charges it; a failure Temporal gave up on becomes a
   * StepFailed with the step's name and the failure's own words.
   */
  async function invoke<R extends { usage: Usage }>(
    step: string,
    run: () => Promise<R>,
    generator?: GeneratorSpec,
  ): Promise<R> {
    try {
      const result = await run();
      charge(result.usage, generator);
      return result;
    } catch (error) {
      if (error instanceof ActivityFailure && !isCancellation(error)) {
        // A refusal is billed like any answer; its tokens travel in the failure's details.
        charge(billedUsageOf(error), generator);
        throw new StepFailed(`${step}: ${describeFailure(error, llmMaxAttempts)}`);
      }
      throw error;
    }
  }

  return {
    invoke,
    /** A model step whose answer must be usable; an unusable one is a StepFailed with the parser's reason. */
    async modelStep<T>(
      step: string,
      run: () => Promise<{ ok: true; value: T; usage: Usage } | { ok: false; reason: string; usage: Usage }>,
      generator?: GeneratorSpec,
    ): Promise<T> {
      const result = await invoke(step, run, generator);
      if (!result.ok) throw new StepFailed(`${step}: ${result.reason}`);
      return result.value;
    },
    get total(): Usage {
      return total;
    },
    of(generator: GeneratorSpec): Usage {
      return byGenerator.get(generator.name) ?? ZERO_USAGE;
    },
  };
}

/** The words of the failure that ended an activity, without Temporal's wrapping. */
function describeFailure(failure: ActivityFailure, maxAttempts: number): string {
  const cause = failure.cause;
  let words: string;
  if (cause instanceof ApplicationFailure) words = cause.message;
  else if (cause instanceof TimeoutFailure)
    words = `the model call timed out (${(cause.timeoutType ?? 'unknown').toLowerCase().replace(/_/g, '-')} timeout)`;
  else if (cause) words = `${cause.name}: ${cause.message}`;
  else words = failure.message;
  // A retryable fault reaches the manifest only once Temporal has run out of attempts.
  if (failure.retryState === RetryState.MAXIMUM_ATTEMPTS_REACHED) words += `; gave up after ${maxAttempts} attempts`;
  return words;
}

/** The tokens a failed call was billed for (providers/errors.ts ProviderFailureDetails.usage), if any. */
function billedUsageOf(failure: ActivityFailure): Usage {
  const cause = failure.cause;
  const details = cause instanceof ApplicationFailure ? cause.details?.[0] : undefined;
  const billed =
    typeof details === 'object' && details !== null ? (details as { usage?: Partial<Usage> }).usage : undefined;
  if (!billed) return ZERO_USAGE;
  return {
    input_tokens: billed.input_tokens ?? 0,
    output_tokens: billed.output_tokens ?? 0,
    cost_usd: billed.cost_usd ?? 0,
  };
}
