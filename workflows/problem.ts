import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  getExternalWorkflowHandle,
  isCancellation,
  TemporalFailure,
  TimeoutFailure,
  proxyActivities,
  proxyLocalActivities,
  setCurrentDetails,
  upsertSearchAttributes,
} from '@temporalio/workflow';
import { RetryState, type SearchAttributeUpdatePair } from '@temporalio/common';
import type { LlmActivities, RenderActivities, StorageActivities } from '../activities/index.ts';
import type { GeneratorOutcome, ProblemOutcome } from '../activities/records.ts';
import { applyFilterPolicy, computeRInv } from '../domain/filter-policy.ts';
import {
  addUsage,
  JUDGE_DIMENSIONS,
  ZERO_USAGE,
  type JudgeDimension,
  type JudgeScores,
  type Quiz,
  type Usage,
} from '../domain/types.ts';
import {
  buildWorkflowId,
  problemFinishedSignal,
  searchAttributes,
  type ProblemStage,
  type GeneratorSettings,
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

/** Builds started before generators existed run one code generator under this name. */
const DEFAULT_GENERATORS: GeneratorSettings[] = [{ name: 'imgcoder', paradigm: 'code', model: '' }];

/** An image version as the workflow holds it: artifact keys, not URIs. */
interface Version {
  round: number;
  imageKey: string;
  codeKey: string | null;
  judge: JudgeScores;
  reasoning: GeneratorOutcome['judgeReasoning'];
  judgeKey: string;
  /** The flaws the renderer measured in this image (overlapping texts, blank figure); none for pixel images. */
  findings: readonly string[];
  critique: string | null;
}

/**
 * One problem's whole lifecycle: classify, then for each of the build's generators an image (code:
 * plan -> code -> render, repaired on error; pixel: an image model), judged, refined with the
 * judge's critique when it found a fixable flaw, answered quizzes (R_inv), compared with a
 * reference image when there is one, filtered; then one record. Each step is an activity, so a
 * crash resumes at the step that was running and no finished model call is paid for twice.
 */
export async function problemWorkflow(input: ProblemWorkflowInput): Promise<ProblemWorkflowOutput> {
  const { settings, problem } = input;
  const generators = settings.generators ?? DEFAULT_GENERATORS;
  const refinementRounds = settings.refinementRounds ?? 0;
  const llm = proxyActivities<LlmActivities>({
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
  });
  const renderer = proxyActivities<RenderActivities>({
    taskQueue: settings.taskQueues.render,
    // The renderer enforces its own wall clock; this only catches a lost worker.
    startToCloseTimeout: `${settings.renderTimeoutSeconds + 60}s`,
    heartbeatTimeout: `${HEARTBEAT_TIMEOUT_SECONDS}s`,
    retry: { initialInterval: '1s', maximumAttempts: 5 },
  });
  // Writing one small record is a local activity: it runs in this workflow's worker within the
  // workflow task, so it costs the server no task of its own and the history one marker. A worker
  // that dies while writing it loses the workflow task, and the next worker writes it again (the
  // write is idempotent).
  const storage = proxyLocalActivities<StorageActivities>({
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
    quizKey: null,
    generators: generators.map(emptyGeneratorOutcome),
  };
  const results = outcome.generators!;
  const several = generators.length > 1;

  /** The judge's scores once known, kept in the details the UI shows for the rest of the problem. */
  let judgeNote = '';

  /**
   * Search attributes learnt since the last stage change (subject, render attempts, R_inv). They
   * go out with the next stage's upsert: each upsert is a visibility write on the server, so one
   * per workflow task, not one per fact (bench:profile: the server's CPU per problem fell by a fifth).
   */
  let pendingAttributes: SearchAttributeUpdatePair[] = [];

  function noteSearchAttributes(...pairs: SearchAttributeUpdatePair[]): void {
    pendingAttributes.push(...pairs);
  }

  function upsertWithPending(pairs: SearchAttributeUpdatePair[]): void {
    upsertSearchAttributes([...pendingAttributes, ...pairs]);
    pendingAttributes = [];
  }

  function enterStage(stage: ProblemStage, details: string, generator?: GeneratorSettings): void {
    upsertWithPending([{ key: searchAttributes.stage, value: stage }]);
    const who = several && generator ? ` (${generator.name})` : '';
    setCurrentDetails(`**${stage}**${who} — ${details}${judgeNote ? `\n\n${judgeNote}` : ''}`);
  }

  /** "render attempt 2", or "[dalle] judge: …" when the build compares several generators. */
  function summary(text: string, generator?: GeneratorSettings): string {
    return several && generator ? `[${generator.name}] ${text}` : text;
  }

  /**
   * Runs an activity that reports usage, charged to the problem and to the generator it is for; a
   * failure Temporal gave up on ends that generator's (or, for shared steps, every generator's) work.
   */
  async function invoke<R extends { usage: Usage }>(
    step: string,
    run: () => Promise<R>,
    owner?: GeneratorOutcome,
  ): Promise<R> {
    const charge = (cost: Usage) => {
      usage = addUsage(usage, cost);
      if (owner) owner.usage = addUsage(owner.usage, cost);
    };
    try {
      const result = await run();
      charge(result.usage);
      return result;
    } catch (error) {
      if (error instanceof ActivityFailure && !isCancellation(error)) {
        // A refusal is billed like any answer; its tokens travel in the failure's details.
        charge(billedUsageOf(error));
        throw new StepFailed(`${step}: ${describeFailure(error, settings.llmMaxAttempts)}`);
      }
      throw error;
    }
  }

  /** A model step whose answer must be usable; an unusable one ends the work with the parser's reason. */
  async function modelStep<T>(
    step: string,
    run: () => Promise<{ ok: true; value: T; usage: Usage } | { ok: false; reason: string; usage: Usage }>,
    owner?: GeneratorOutcome,
  ): Promise<T> {
    const result = await invoke(step, run, owner);
    if (!result.ok) throw new StepFailed(`${step}: ${result.reason}`);
    return result.value;
  }

  /** A shared step, run once on first use; its failure is every later user's failure too. */
  function once<T>(run: () => Promise<T>): () => Promise<T> {
    let pending: Promise<T> | undefined;
    return () => (pending ??= run());
  }

  try {
    enterStage('classify', 'is the problem visualizable?');
    const classification = await modelStep('classify', () =>
      llm.classifyProblem.executeWithOptions({ summary: 'classify: visualizable? subject, image type' }, [
        { ...reference, problem },
      ]),
    );
    outcome.subject = classification.subject;
    outcome.imageType = classification.image_type;
    noteSearchAttributes(
      { key: searchAttributes.subject, value: classification.subject },
      { key: searchAttributes.imageType, value: classification.image_type },
    );
    if (!classification.visualizable) {
      for (const result of results) {
        result.verdict = 'skipped';
        result.reasons = [`not visualizable: ${classification.reason}`];
      }
      return await finish();
    }
    const diagram = { ...reference, problem, subject: classification.subject, imageType: classification.image_type };

    const plan = once(async () => {
      enterStage('plan', 'content, layout, labels, constraints');
      const { planKey } = await modelStep('plan', () =>
        llm.planDiagram.executeWithOptions({ summary: 'plan: content, layout, labels, constraints' }, [diagram]),
      );
      outcome.planKey = planKey;
      return planKey;
    });

    const quizzes = once(async (): Promise<Quiz[]> => {
      if (problem.quizzes && problem.quizzes.length > 0) return problem.quizzes;
      enterStage('quiz', 'atomic questions about the given setup');
      const generated = await modelStep('quiz', () =>
        llm.generateQuizzes.executeWithOptions({ summary: 'quiz: atomic questions about the given setup' }, [
          { ...reference, problem },
        ]),
      );
      outcome.quizKey = generated.quizKey;
      return generated.quizzes;
    });

    /** What every code step of a generator is given: the diagram, its plan, the generator and its model ('' = the step's). */
    function codeStepInput(generator: GeneratorSettings, planKey: string) {
      return {
        ...diagram,
        planKey,
        generator: generator.name,
        ...(generator.model === '' ? {} : { model: generator.model }),
      };
    }

    /** ImgCoder: plan, code, render; a failed render is repaired with its error until the attempts run out. */
    async function codeImage(
      generator: GeneratorSettings,
      result: GeneratorOutcome,
    ): Promise<Omit<Version, 'judge' | 'reasoning' | 'judgeKey'> | null> {
      const code = codeStepInput(generator, await plan());
      let lastError = '';
      // What the renderer measured in the failed attempt's figures (overlaps, blank canvas), for the repair step.
      let lastFindings: readonly string[] = [];
      let previousKey: string | null = null;
      for (let attempt = 1; attempt <= settings.maxRenderAttempts; attempt++) {
        result.renderAttempts = attempt;
        enterStage('code', `render attempt ${attempt} of ${settings.maxRenderAttempts}`, generator);
        const written: Awaited<ReturnType<LlmActivities['writeDiagramCode']>> =
          previousKey === null
            ? await invoke(
                'code',
                () =>
                  llm.writeDiagramCode.executeWithOptions(
                    { summary: summary(`code for render attempt ${attempt}`, generator) },
                    [{ ...code, attempt }],
                  ),
                result,
              )
            : await invoke(
                'repair',
                () =>
                  llm.repairDiagramCode.executeWithOptions(
                    {
                      summary: summary(
                        `repair for render attempt ${attempt}: ${errorHeadline(lastError).slice(0, 80)}`,
                        generator,
                      ),
                    },
                    [{ ...code, attempt, previousKey: previousKey!, error: withFindings(lastError, lastFindings) }],
                  ),
                result,
              );
        if (!written.ok) {
          lastError = `the answer held no usable script: ${written.reason}`;
          lastFindings = [];
          previousKey = written.answerKey;
          continue;
        }
        result.codeKey = written.value.codeKey;
        enterStage('render', `render attempt ${attempt} of ${settings.maxRenderAttempts}`, generator);
        const rendered = await renderer.renderDiagram.executeWithOptions(
          { summary: summary(`render attempt ${attempt}`, generator) },
          [
            {
              ...reference,
              codeKey: written.value.codeKey,
              attempt,
              generator: generator.name,
              dpi: settings.dpi,
              timeoutSeconds: settings.renderTimeoutSeconds,
            },
          ],
        );
        if (result === results[0]) noteSearchAttributes({ key: searchAttributes.renderAttempts, value: attempt });
        if (rendered.ok) {
          return {
            round: 0,
            imageKey: rendered.imageKey,
            codeKey: written.value.codeKey,
            findings: rendered.flaws ?? [],
            critique: null,
          };
        }
        lastError = `${rendered.kind}: ${rendered.message}`;
        // Results recorded before renders reported findings have none.
        lastFindings = rendered.findings ?? [];
        previousKey = written.value.codeKey;
      }
      result.reasons = [`render failed after ${result.renderAttempts} attempts: ${errorHeadline(lastError)}`];
      return null;
    }

    /** The pixel paradigm: the image model draws the figure from the problem text. */
    async function pixelImage(
      generator: GeneratorSettings,
      result: GeneratorOutcome,
    ): Promise<Omit<Version, 'judge' | 'reasoning' | 'judgeKey'>> {
      enterStage('image', `${generator.model} draws the figure`, generator);
      const drawn = await modelStep(
        'image',
        () =>
          llm.drawDiagramImage.executeWithOptions(
            { summary: summary(`image: ${generator.model} draws the figure`, generator) },
            [{ ...diagram, generator: generator.name, model: generator.model }],
          ),
        result,
      );
      return { round: 0, imageKey: drawn.imageKey, codeKey: null, findings: [], critique: null };
    }

    async function judge(
      generator: GeneratorSettings,
      result: GeneratorOutcome,
      image: Omit<Version, 'judge' | 'reasoning' | 'judgeKey'>,
    ): Promise<Version> {
      const round = image.round === 0 ? '' : ` (refinement ${image.round})`;
      enterStage('judge', `five dimensions, 0–2 each${round}`, generator);
      const judged = await modelStep(
        'judge',
        () =>
          llm.judgeImage.executeWithOptions(
            { summary: summary(`judge${round}: five dimensions, 0–2 each`, generator) },
            [{ ...reference, problem, imageKey: image.imageKey, generator: generator.name, round: image.round }],
          ),
        result,
      );
      return { ...image, judge: judged.scores, reasoning: judged.reasoning, judgeKey: judged.judgeKey };
    }

    /**
     * Visual feedback: while the judge or the renderer reports a flaw and rounds remain, the code is
     * revised with that critique, rendered and judged again. Every version is kept; the best-judged
     * one (a later one on a tie) goes on to the quizzes. A round that fails ends the refinement and
     * keeps what there is: refinement can only add a better version, never lose the first.
     */
    async function refine(generator: GeneratorSettings, result: GeneratorOutcome, versions: Version[]): Promise<void> {
      for (let round = 1; round <= refinementRounds; round++) {
        const latest = versions.at(-1)!;
        const critique = critiqueOf(latest);
        if (critique === null || latest.codeKey === null) return;
        try {
          const refined = await refineOnce(generator, result, latest, round, critique);
          if (refined === null) return;
          versions.push(refined);
        } catch (error) {
          if (!(error instanceof StepFailed || (error instanceof TemporalFailure && !isCancellation(error))))
            throw error;
          result.notes.push(
            `refinement round ${round} failed: ${error instanceof StepFailed ? error.reason : error.message}`,
          );
          return;
        }
      }
    }

    /** One refinement round: revised code, rendered and judged; null (with a note) when it made no image. */
    async function refineOnce(
      generator: GeneratorSettings,
      result: GeneratorOutcome,
      latest: Version,
      round: number,
      critique: string,
    ): Promise<Version | null> {
      enterStage('refine', `round ${round} of ${refinementRounds}`, generator);
      const written = await invoke(
        'refine',
        () =>
          llm.refineDiagramCode.executeWithOptions(
            { summary: summary(`refine round ${round}: ${critique.split('\n')[0]!.slice(0, 80)}`, generator) },
            [
              {
                ...codeStepInput(generator, outcome.planKey!),
                attempt: result.renderAttempts,
                previousKey: latest.codeKey!,
                round,
                critique,
              },
            ],
          ),
        result,
      );
      if (!written.ok) {
        result.notes.push(`refinement round ${round} gave no usable script: ${written.reason}`);
        return null;
      }
      enterStage('render', `refinement round ${round}`, generator);
      const rendered = await renderer.renderDiagram.executeWithOptions(
        { summary: summary(`render refinement ${round}`, generator) },
        [
          {
            ...reference,
            codeKey: written.value.codeKey,
            attempt: result.renderAttempts,
            generator: generator.name,
            round,
            dpi: settings.dpi,
            timeoutSeconds: settings.renderTimeoutSeconds,
          },
        ],
      );
      if (!rendered.ok) {
        result.notes.push(
          `refinement round ${round} did not render: ${errorHeadline(`${rendered.kind}: ${rendered.message}`)}`,
        );
        return null;
      }
      return judge(generator, result, {
        round,
        imageKey: rendered.imageKey,
        codeKey: written.value.codeKey,
        findings: rendered.flaws ?? [],
        critique,
      });
    }

    async function runGenerator(generator: GeneratorSettings, result: GeneratorOutcome): Promise<void> {
      const first =
        generator.paradigm === 'code' ? await codeImage(generator, result) : await pixelImage(generator, result);
      if (first === null) return;
      // The image is on record from here on, even if judging it fails.
      result.imageKey = first.imageKey;
      result.codeKey = first.codeKey;
      const versions: Version[] = [await judge(generator, result, first)];
      if (generator.paradigm === 'code') await refine(generator, result, versions);
      result.versions = versions.map((version) => ({
        round: version.round,
        imageKey: version.imageKey,
        codeKey: version.codeKey,
        judge: version.judge,
        critique: version.critique,
      }));
      const chosen = versions.reduce((best, version) =>
        totalScore(version.judge) >= totalScore(best.judge) ? version : best,
      );
      result.imageKey = chosen.imageKey;
      result.codeKey = chosen.codeKey;
      result.judge = chosen.judge;
      result.judgeReasoning = chosen.reasoning;
      result.judgeKey = chosen.judgeKey;
      if (result === results[0]) judgeNote = `judge: ${describeScores(chosen.judge)}`;

      const quizSet = await quizzes();
      enterStage('answer', `${quizSet.length} quizzes answered from the image alone`, generator);
      const answered = await invoke(
        'answer',
        () =>
          llm.answerQuizzes.executeWithOptions(
            { summary: summary(`answer ${quizSet.length} quizzes from the image alone`, generator) },
            [{ ...reference, imageKey: chosen.imageKey, quizzes: quizSet }],
          ),
        result,
      );
      result.quizResults = answered.results;
      // An answer without a readable letter counts as wrong, as the benchmark grades it.
      result.rInv = computeRInv(
        answered.results.map((answer) => ({ chosen: answer.chosen, correct: answer.correct_option })),
      );
      if (result === results[0]) noteSearchAttributes({ key: searchAttributes.rInv, value: result.rInv });

      if (problem.reference_image_key !== undefined) {
        enterStage('compare', 'PSNR and SSIM against the reference image', generator);
        try {
          const compared = await renderer.compareWithReference.executeWithOptions(
            { summary: summary('compare with the reference image: PSNR, SSIM', generator) },
            [
              {
                buildId: input.buildId,
                problemKey: input.problemKey,
                imageKey: chosen.imageKey,
                referenceKey: problem.reference_image_key,
              },
            ],
          );
          if (compared.ok) result.reference = { psnr: compared.psnr, ssim: compared.ssim };
          else result.notes.push(`no comparison with the reference image: ${compared.reason}`);
        } catch (error) {
          // A measurement beside the verdict: its failure is noted, never the problem's failure.
          if (!(error instanceof ActivityFailure) || isCancellation(error)) throw error;
          result.notes.push(`no comparison with the reference image: ${error.cause?.message ?? error.message}`);
        }
      }

      const decision = applyFilterPolicy(chosen.judge, result.rInv, settings.policy);
      result.verdict = decision.accepted ? 'accepted' : 'rejected';
      result.reasons = decision.reasons;
    }

    for (const [index, generator] of generators.entries()) {
      const result = results[index]!;
      try {
        await runGenerator(generator, result);
      } catch (error) {
        // One generator's failure (a step given up on, a render worker lost for good) is its own.
        if (!(error instanceof StepFailed || (error instanceof TemporalFailure && !isCancellation(error)))) throw error;
        result.verdict = 'failed';
        result.reasons = [error instanceof StepFailed ? error.reason : `${generator.name} failed: ${error.message}`];
      }
    }
    return await finish();
  } catch (error) {
    if (isCancellation(error)) {
      // Tell the build this problem closed without a verdict, so a cancelled build stops waiting for it.
      await CancellationScope.nonCancellable(() => notifyBuild(null));
      throw error;
    }
    // A plain Error is a bug in this code: it fails the workflow task, which retries once fixed.
    if (!(error instanceof StepFailed || error instanceof TemporalFailure)) throw error;
    const reason = error instanceof StepFailed ? error.reason : `problem workflow failed: ${error.message}`;
    for (const result of results) {
      if (result.verdict !== 'failed' || result.reasons.length > 0) continue;
      result.reasons = [reason];
    }
    return await finish();
  }

  /** Reports to the build that started this problem; a problem run on its own has no build to tell. */
  async function notifyBuild(verdict: ProblemFinished['verdict']): Promise<void> {
    try {
      await getExternalWorkflowHandle(buildWorkflowId(input.buildId)).signal(problemFinishedSignal, {
        problemKey: input.problemKey,
        verdict,
        usage,
      });
    } catch (error) {
      if (isCancellation(error)) throw error;
    }
  }

  async function finish(): Promise<ProblemWorkflowOutput> {
    // The manifest line's top level is the first generator's result (CONTRACT.md's fields).
    const primary = results[0]!;
    Object.assign(outcome, {
      verdict: primary.verdict,
      reasons: primary.reasons,
      imageKey: primary.imageKey,
      codeKey: primary.codeKey,
      judge: primary.judge,
      rInv: primary.rInv,
      renderAttempts: primary.renderAttempts,
      usage,
    } satisfies Partial<ProblemOutcome>);
    try {
      const verdicts = several ? results.map((result) => `${result.generator} ${result.verdict}`).join(', ') : '';
      const recordSummary = [
        `record: ${outcome.verdict}`,
        judgeNote,
        outcome.rInv === null ? '' : `R_inv ${outcome.rInv.toFixed(2)}`,
        verdicts,
      ]
        .filter(Boolean)
        .join(' — ');
      await storage.recordProblemResult.executeWithOptions({ summary: recordSummary }, [
        {
          buildId: input.buildId,
          problemKey: input.problemKey,
          problemId: problem.id,
          extra: problem.extra,
          outcome,
          problem,
        },
      ]);
    } catch (error) {
      // The build must not wait forever for a problem whose record could not be written.
      if (!isCancellation(error)) await notifyBuild('failed');
      throw error;
    }
    upsertWithPending([
      { key: searchAttributes.verdict, value: outcome.verdict },
      { key: searchAttributes.stage, value: 'done' },
    ]);
    const reasons = outcome.reasons.length ? `: ${outcome.reasons.join('; ')}` : '';
    setCurrentDetails(`**done** — ${outcome.verdict}${reasons}${judgeNote ? `\n\n${judgeNote}` : ''}`);
    await notifyBuild(outcome.verdict);
    return { id: problem.id, verdict: outcome.verdict, usage };
  }
}

function emptyGeneratorOutcome(generator: GeneratorSettings): GeneratorOutcome {
  return {
    generator: generator.name,
    paradigm: generator.paradigm,
    model: generator.model,
    verdict: 'failed',
    reasons: [],
    notes: [],
    imageKey: null,
    codeKey: null,
    judge: null,
    judgeReasoning: null,
    judgeKey: null,
    rInv: null,
    quizResults: null,
    renderAttempts: 0,
    versions: [],
    reference: null,
    usage: ZERO_USAGE,
  };
}

function totalScore(scores: JudgeScores): number {
  return JUDGE_DIMENSIONS.reduce((sum, dimension) => sum + scores[dimension], 0);
}

/**
 * What a refinement round is asked to fix: every judge dimension below 2, with the judge's words
 * for it, and every flaw the renderer measured. Null when there is nothing to fix.
 */
export function critiqueOf(version: Pick<Version, 'judge' | 'reasoning' | 'findings'>): string | null {
  const lines: string[] = [];
  for (const dimension of JUDGE_DIMENSIONS) {
    const score = version.judge[dimension];
    if (score >= 2) continue;
    const words = version.reasoning?.dimensions[dimension] ?? '';
    lines.push(`- ${DIMENSION_NAMES[dimension]} scored ${score} of 2${words ? `: ${words}` : ''}`);
  }
  for (const finding of version.findings) lines.push(`- measured in the rendered figure: ${finding}`);
  if (lines.length === 0) return null;
  const overall = version.reasoning?.overall.trim();
  return overall ? `${lines.join('\n')}\n\nThe reviewer's overall assessment: ${overall}` : lines.join('\n');
}

const DIMENSION_NAMES: Record<JudgeDimension, string> = {
  correctness_fidelity: 'Correctness & Fidelity',
  layout_precision: 'Layout & Precision',
  readability_occlusion: 'Readability & Occlusion',
  scientific_plausibility: 'Scientific Plausibility',
  expressiveness_richness: 'Expressiveness & Richness',
};

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
  const lines = error
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '');
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
  return (Object.keys(DIMENSION_ABBREVIATIONS) as Array<keyof JudgeScores>)
    .map((dimension) => `${DIMENSION_ABBREVIATIONS[dimension]} ${scores[dimension]}`)
    .join(', ');
}
