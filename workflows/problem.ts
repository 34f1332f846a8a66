import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  getExternalWorkflowHandle,
  isCancellation,
  TemporalFailure,
  TimeoutFailure,
  proxyActivities,
  setCurrentDetails,
  upsertSearchAttributes,
} from '@temporalio/workflow';
import { RetryState } from '@temporalio/common';
import type { LlmActivities, RenderActivities, StorageActivities } from '../activities/index.ts';
import type { ProblemOutcome } from '../activities/records.ts';
import { applyFilterPolicy, computeRInv } from '../domain/filter-policy.ts';
import { addUsage, ZERO_USAGE, type JudgeScores, type Quiz, type Usage } from '../domain/types.ts';
import {
  buildWorkflowId,
  problemFinishedSignal,
  searchAttributes,
  type ProblemFinished,
  type ProblemWorkflowInput,
  type ProblemWorkflowOutput,
} from './definitions.ts';

const HEARTBEAT_TIMEOUT_SECONDS = 15;

/** A model step that failed for good (non-retryable, or out of attempts): the problem ends `failed`. */
class StepFailed extends Error {
  constructor(readonly reason: string) {
    super(reason);
  }
}

/**
 * One problem's whole lifecycle: classify -> plan -> code -> render (repair on error) -> judge
 * -> quiz -> answer -> filter -> record. Each step is an activity, so a crash resumes at the
 * step that was running and no finished model call is paid for twice.
 */
export async function problemWorkflow(input: ProblemWorkflowInput): Promise<ProblemWorkflowOutput> {
  const { settings, problem } = input;
  const llm = proxyActivities<LlmActivities>({
    taskQueue: settings.taskQueues.llm,
    startToCloseTimeout: `${settings.llmTimeoutSeconds + 30}s`,
    // Calls heartbeat while they wait: a dead worker's call is retried after this, not the full timeout.
    heartbeatTimeout: `${HEARTBEAT_TIMEOUT_SECONDS}s`,
    retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1m', maximumAttempts: settings.llmMaxAttempts },
  });
  const renderer = proxyActivities<RenderActivities>({
    taskQueue: settings.taskQueues.render,
    // The renderer enforces its own wall clock; this only catches a lost worker.
    startToCloseTimeout: `${settings.renderTimeoutSeconds + 60}s`,
    heartbeatTimeout: `${HEARTBEAT_TIMEOUT_SECONDS}s`,
    retry: { initialInterval: '1s', maximumAttempts: 5 },
  });
  const storage = proxyActivities<StorageActivities>({
    taskQueue: settings.taskQueues.workflows,
    // Writing one small record: a worker that died holding it is noticed within seconds, not minutes.
    startToCloseTimeout: '30s',
    retry: { initialInterval: '1s', maximumAttempts: 20 },
  });

  const reference = { buildId: input.buildId, problemKey: input.problemKey, problemId: problem.id };
  let usage: Usage = ZERO_USAGE;
  const outcome: ProblemOutcome = {
    verdict: 'failed',
    reasons: [],
    subject: problem.subject ?? null,
    imageType: problem.image_type ?? null,
    imageKey: null,
    codeKey: null,
    planKey: null,
    judge: null,
    rInv: null,
    renderAttempts: 0,
    usage: ZERO_USAGE,
  };

  /** The judge's scores once known, kept in the details the UI shows for the rest of the problem. */
  let judgeNote = '';

  function enterStage(stage: string, details: string): void {
    upsertSearchAttributes([{ key: searchAttributes.stage, value: stage }]);
    setCurrentDetails(`**${stage}** — ${details}${judgeNote ? `\n\n${judgeNote}` : ''}`);
  }

  /** Runs an activity that reports usage; a failure Temporal gave up on ends the problem with a reason. */
  async function invoke<R extends { usage: Usage }>(step: string, run: () => Promise<R>): Promise<R> {
    try {
      const result = await run();
      usage = addUsage(usage, result.usage);
      return result;
    } catch (error) {
      if (error instanceof ActivityFailure && !isCancellation(error)) {
        // A refusal is billed like any answer; its tokens travel in the failure's details.
        usage = addUsage(usage, billedUsageOf(error));
        throw new StepFailed(`${step}: ${describeFailure(error, settings.llmMaxAttempts)}`);
      }
      throw error;
    }
  }

  /** A model step whose answer must be usable; an unusable one ends the problem with the parser's reason. */
  async function modelStep<T>(step: string, run: () => Promise<{ ok: true; value: T; usage: Usage } | { ok: false; reason: string; usage: Usage }>): Promise<T> {
    const result = await invoke(step, run);
    if (!result.ok) throw new StepFailed(`${step}: ${result.reason}`);
    return result.value;
  }

  try {
    enterStage('classify', 'is the problem visualizable?');
    const classification = await modelStep('classify', () => llm.classifyProblem.executeWithOptions({ summary: 'classify: visualizable? subject, image type' }, [{ ...reference, problem }]));
    outcome.subject = classification.subject;
    outcome.imageType = classification.image_type;
    upsertSearchAttributes([
      { key: searchAttributes.subject, value: classification.subject },
      { key: searchAttributes.imageType, value: classification.image_type },
    ]);
    if (!classification.visualizable) {
      outcome.verdict = 'skipped';
      outcome.reasons = [`not visualizable: ${classification.reason}`];
      return await finish();
    }
    const diagram = { ...reference, problem, subject: classification.subject, imageType: classification.image_type };

    enterStage('plan', 'content, layout, labels, constraints');
    const { planKey } = await modelStep('plan', () => llm.planDiagram.executeWithOptions({ summary: 'plan: content, layout, labels, constraints' }, [diagram]));
    outcome.planKey = planKey;

    let lastError = '';
    // What the renderer measured in the failed attempt's figures (overlaps, blank canvas), for the repair step.
    let lastFindings: readonly string[] = [];
    let previousKey: string | null = null;
    for (let attempt = 1; attempt <= settings.maxRenderAttempts && outcome.imageKey === null; attempt++) {
      outcome.renderAttempts = attempt;
      enterStage('code', `render attempt ${attempt} of ${settings.maxRenderAttempts}`);
      const written: Awaited<ReturnType<LlmActivities['writeDiagramCode']>> =
        previousKey === null
          ? await invoke('code', () => llm.writeDiagramCode.executeWithOptions({ summary: `code for render attempt ${attempt}` }, [{ ...diagram, planKey, attempt }]))
          : await invoke('repair', () =>
              llm.repairDiagramCode.executeWithOptions({ summary: `repair for render attempt ${attempt}: ${errorHeadline(lastError).slice(0, 80)}` }, [
                { ...diagram, planKey, attempt, previousKey: previousKey!, error: withFindings(lastError, lastFindings) },
              ]),
            );
      if (!written.ok) {
        lastError = `the answer held no usable script: ${written.reason}`;
        lastFindings = [];
        previousKey = written.answerKey;
        continue;
      }
      outcome.codeKey = written.value.codeKey;
      enterStage('render', `render attempt ${attempt} of ${settings.maxRenderAttempts}`);
      const rendered = await renderer.renderDiagram.executeWithOptions({ summary: `render attempt ${attempt}` }, [
        { ...reference, codeKey: written.value.codeKey, attempt, dpi: settings.dpi, timeoutSeconds: settings.renderTimeoutSeconds },
      ]);
      upsertSearchAttributes([{ key: searchAttributes.renderAttempts, value: attempt }]);
      if (rendered.ok) {
        outcome.imageKey = rendered.imageKey;
      } else {
        lastError = `${rendered.kind}: ${rendered.message}`;
        // Results recorded before renders reported findings have none.
        lastFindings = rendered.findings ?? [];
        previousKey = written.value.codeKey;
      }
    }
    if (outcome.imageKey === null) {
      outcome.reasons = [`render failed after ${outcome.renderAttempts} attempts: ${errorHeadline(lastError)}`];
      return await finish();
    }
    const imageKey = outcome.imageKey;

    enterStage('judge', 'five dimensions, 0–2 each');
    const { scores } = await modelStep('judge', () => llm.judgeImage.executeWithOptions({ summary: 'judge: five dimensions, 0–2 each' }, [{ ...reference, problem, imageKey }]));
    outcome.judge = scores;
    judgeNote = `judge: ${describeScores(scores)}`;

    let quizzes: Quiz[];
    if (problem.quizzes && problem.quizzes.length > 0) {
      quizzes = problem.quizzes;
    } else {
      enterStage('quiz', 'atomic questions about the given setup');
      quizzes = (await modelStep('quiz', () => llm.generateQuizzes.executeWithOptions({ summary: 'quiz: atomic questions about the given setup' }, [{ ...reference, problem }]))).quizzes;
    }

    enterStage('answer', `${quizzes.length} quizzes answered from the image alone`);
    const answers = await Promise.all(
      quizzes.map(async (quiz, index) => {
        const result = await invoke('answer', () =>
          llm.answerQuiz.executeWithOptions({ summary: `answer quiz ${index + 1} of ${quizzes.length} from the image alone` }, [{ ...reference, imageKey, quiz, index }]),
        );
        // An answer without a readable letter counts as wrong, as the benchmark grades it.
        return { chosen: result.ok ? result.value.chosen : null, correct: quiz.correct_option };
      }),
    );
    outcome.rInv = computeRInv(answers);
    upsertSearchAttributes([{ key: searchAttributes.rInv, value: outcome.rInv }]);

    const decision = applyFilterPolicy(scores, outcome.rInv, settings.policy);
    outcome.verdict = decision.accepted ? 'accepted' : 'rejected';
    outcome.reasons = decision.reasons;
    return await finish();
  } catch (error) {
    if (isCancellation(error)) {
      // Tell the build this problem closed without a verdict, so a cancelled build stops waiting for it.
      await CancellationScope.nonCancellable(() => notifyBuild(null));
      throw error;
    }
    // A plain Error is a bug in this code: it fails the workflow task, which retries once fixed.
    if (!(error instanceof StepFailed || error instanceof TemporalFailure)) throw error;
    outcome.verdict = 'failed';
    outcome.reasons = [error instanceof StepFailed ? error.reason : `problem workflow failed: ${error.message}`];
    return await finish();
  }

  /** Reports to the build that started this problem; a problem run on its own has no build to tell. */
  async function notifyBuild(verdict: ProblemFinished['verdict']): Promise<void> {
    try {
      await getExternalWorkflowHandle(buildWorkflowId(input.buildId)).signal(problemFinishedSignal, { problemKey: input.problemKey, verdict, usage });
    } catch (error) {
      if (isCancellation(error)) throw error;
    }
  }

  async function finish(): Promise<ProblemWorkflowOutput> {
    outcome.usage = usage;
    enterStage('record', `verdict ${outcome.verdict}`);
    try {
      const summary = [`record: ${outcome.verdict}`, judgeNote, outcome.rInv === null ? '' : `R_inv ${outcome.rInv.toFixed(2)}`].filter(Boolean).join(' — ');
      await storage.recordProblemResult.executeWithOptions({ summary }, [
        { buildId: input.buildId, problemKey: input.problemKey, problemId: problem.id, extra: problem.extra, outcome },
      ]);
    } catch (error) {
      // The build must not wait forever for a problem whose record could not be written.
      if (!isCancellation(error)) await notifyBuild('failed');
      throw error;
    }
    upsertSearchAttributes([
      { key: searchAttributes.verdict, value: outcome.verdict },
      { key: searchAttributes.stage, value: 'done' },
    ]);
    const reasons = outcome.reasons.length ? `: ${outcome.reasons.join('; ')}` : '';
    setCurrentDetails(`**done** — ${outcome.verdict}${reasons}${judgeNote ? `\n\n${judgeNote}` : ''}`);
    await notifyBuild(outcome.verdict);
    return { id: problem.id, verdict: outcome.verdict, usage };
  }
}

/** The words of the failure that ended an activity, without Temporal's wrapping. */
function describeFailure(failure: ActivityFailure, maxAttempts: number): string {
  const cause = failure.cause;
  let words: string;
  if (cause instanceof ApplicationFailure) words = cause.message;
  else if (cause instanceof TimeoutFailure) words = `the model call timed out (${(cause.timeoutType ?? 'unknown').toLowerCase().replace(/_/g, '-')} timeout)`;
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
  const billed = typeof details === 'object' && details !== null ? (details as { usage?: Partial<Usage> }).usage : undefined;
  if (!billed) return ZERO_USAGE;
  return { input_tokens: billed.input_tokens ?? 0, output_tokens: billed.output_tokens ?? 0, cost_usd: billed.cost_usd ?? 0 };
}

/** The repair step's view of a failed render: the error, then what the renderer measured in the figure. */
function withFindings(error: string, findings: readonly string[]): string {
  if (findings.length === 0) return error;
  return `${error}\n\nWhat the renderer measured in the figure:\n${findings.map((finding) => `- ${finding}`).join('\n')}`;
}

/**
 * One line for the manifest from a render error: for a Python traceback, its last line (the
 * exception) and the script line it points at, e.g. "exception: ZeroDivisionError: … (line 14)".
 */
function errorHeadline(error: string): string {
  const lines = error.split('\n').map((line) => line.trim()).filter((line) => line !== '');
  const kind = /^([a-z-]+): /.exec(lines[0] ?? '')?.[1];
  let headline = lines.at(-1) ?? error;
  if (kind && !headline.startsWith(`${kind}: `)) headline = `${kind}: ${headline}`;
  const scriptLines = [...error.matchAll(/line (\d+)/g)];
  const lastScriptLine = scriptLines.at(-1)?.[1];
  if (lastScriptLine && !headline.includes(`line ${lastScriptLine}`)) headline = `${headline} (line ${lastScriptLine})`;
  return headline.length > 300 ? `${headline.slice(0, 300)}…` : headline;
}

const DIMENSION_ABBREVIATIONS: Record<keyof JudgeScores, string> = {
  correctness_fidelity: 'C&F',
  layout_precision: 'L&P',
  readability_occlusion: 'R&O',
  scientific_plausibility: 'SP',
  expressiveness_richness: 'E&R',
};

/** "C&F 2, L&P 1, R&O 2, SP 2, E&R 2": the judge's scores as the UI's timeline shows them. */
function describeScores(scores: JudgeScores): string {
  return (Object.keys(DIMENSION_ABBREVIATIONS) as Array<keyof JudgeScores>).map((dimension) => `${DIMENSION_ABBREVIATIONS[dimension]} ${scores[dimension]}`).join(', ');
}
