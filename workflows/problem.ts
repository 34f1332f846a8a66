import { CancellationScope, getExternalWorkflowHandle, isCancellation, setWorkflowOptions } from '@temporalio/workflow';
import { applyFilterPolicy } from '../domain/filter-policy.ts';
import { FORMER_GENERATOR } from '../domain/manifest.ts';
import {
  bestVersion,
  emptyGeneratorResult,
  type GeneratorResult,
  type ProblemResult,
} from '../domain/problem-result.ts';
import { problemFacts, type ProblemFacts } from '../domain/problem-facts.ts';
import { settleTaxonomy } from '../domain/taxonomy.ts';
import { describeScores, type GeneratorSpec, type Verdict } from '../domain/types.ts';
import {
  behaviorOnVersionedWorkers,
  buildWorkflowId,
  problemFinishedSignal,
  problemIdOf,
  searchAttributes,
  type GeneratorSettings,
  type ProblemWorkflowInput,
  type ProblemWorkflowOutput,
} from './definitions.ts';
import { drawWithCode, drawWithImageModel, importExternalImage, refine, type Diagram } from './draw-steps.ts';
import { answerQuizzes, askVisualQuestion, compareWithReference, judgeImage, type QuizSet } from './evaluate-steps.ts';
import { createProblemContext, isStepFailure, reasonOf, type ProblemContext } from './problem-context.ts';

// Under Worker Versioning a problem finishes on the deployment version it started on: new code
// rolls out without replaying a problem's history against steps it never took.
setWorkflowOptions(behaviorOnVersionedWorkers('PINNED'), problemWorkflow);

/**
 * One problem's life: classified once; then each of the build's generators makes an image (code:
 * plan -> code -> render, repaired on error; pixel: an image model; external: one made elsewhere,
 * copied in), which is judged, refined with the judge's critique, asked the problem's quizzes
 * (R_inv) and, when the build runs the VE step, its multimodal question, compared with a reference
 * image and filtered; then one record. Each step is an activity, so a crash resumes at the step
 * that was running and no finished model call is paid for twice.
 */
export async function problemWorkflow(input: ProblemWorkflowInput): Promise<ProblemWorkflowOutput> {
  const generators = input.settings.generators ?? [FORMER_GENERATOR];
  const context = createProblemContext(input, generators);
  const { llm, ledger, progress } = context;
  // Absent from builds started before protocols: the dataset protocol, without VE.
  const protocol = input.settings.protocol?.settings;
  // A problem that came whole (builds before 2026-11-26) is known before staging; one by reference, once staged.
  const inline = 'problem' in input ? problemFacts(input.problem) : null;
  let result: ProblemResult = {
    subject: inline?.given.subject ?? null,
    imageType: inline?.given.image_type ?? null,
    classified: null,
    planKey: null,
    quizKey: null,
    results: generators.map((generator) => unstartedResult(generator, protocol?.visualAnswer ?? false)),
    usage: ledger.total,
  };
  try {
    const facts = await stageProblem(context, input);
    const { given } = facts;
    result = { ...result, subject: given.subject, imageType: given.image_type };
    progress.enter('classify', 'is the problem visualizable?');
    const classification = await ledger.modelStep('classify', () =>
      llm.classifyProblem.executeWithOptions({ summary: 'classify: visualizable? subject, image type' }, [
        context.problem,
      ]),
    );
    const classified = { subject: classification.subject, image_type: classification.image_type };
    const taxonomy = settleTaxonomy(given, classified);
    result = { ...result, subject: taxonomy.subject, imageType: taxonomy.image_type, classified };
    progress.note(
      { key: searchAttributes.subject, value: taxonomy.subject },
      { key: searchAttributes.imageType, value: taxonomy.image_type },
    );
    // A benchmark protocol scores every problem: the classifier's doubt is a note, not a skip.
    const notes: string[] = [];
    if (!classification.visualizable) {
      if (protocol?.skipNotVisualizable === false) {
        notes.push(`drawn although classified not visualizable: ${classification.reason}`);
      } else {
        const reasons = [`not visualizable: ${classification.reason}`];
        return await record(context, input, {
          ...result,
          results: result.results.map((skipped) => ({ ...skipped, verdict: 'skipped', reasons })),
        });
      }
    }

    const diagram: Diagram = { subject: taxonomy.subject, imageType: taxonomy.image_type };
    const plan = once(() => planDiagram(context, diagram));
    const quizzes = once(() => quizSet(context, facts));
    const results: GeneratorResult[] = [];
    for (const [index, generator] of generators.entries()) {
      const steps = { diagram, plan: plan.get, quizzes: quizzes.get, primary: index === 0, notes };
      results.push(await runGenerator(context, facts, generator, steps));
    }
    return await record(context, input, {
      ...result,
      planKey: plan.value ?? null,
      quizKey: quizzes.value?.quizKey ?? null,
      results,
    });
  } catch (error) {
    if (isCancellation(error)) {
      // Tell the build this problem closed without a verdict, so a cancelled build stops waiting for it.
      await CancellationScope.nonCancellable(() => notifyBuild(input, null, ledger.total));
      throw error;
    }
    // Anything else is a bug in this code: it fails the workflow task, which retries once fixed.
    if (!isStepFailure(error)) throw error;
    const reason = reasonOf(error, 'problem workflow failed');
    const failed = result.results.map((unfinished) => ({
      ...unfinished,
      verdict: 'failed' as const,
      reasons: [reason],
    }));
    return await record(context, input, { ...result, results: failed });
  }
}

/** One generator's image, judged, refined, answered, compared and filtered; a step given up on ends it `failed`. */
async function runGenerator(
  context: ProblemContext,
  facts: ProblemFacts,
  generator: GeneratorSettings,
  steps: {
    diagram: Diagram;
    plan: () => Promise<string>;
    quizzes: () => Promise<QuizSet>;
    primary: boolean;
    /** What the problem's shared steps noted for every generator. */
    notes: readonly string[];
  },
): Promise<GeneratorResult> {
  const { ledger, progress, settings } = context;
  const visualAnswer = settings.protocol?.settings.visualAnswer ?? false;
  let result: GeneratorResult = { ...unstartedResult(generator, visualAnswer), notes: [...steps.notes] };
  try {
    const drawing =
      generator.paradigm === 'code'
        ? await drawWithCode(context, generator, steps.diagram, await steps.plan(), steps.primary)
        : generator.paradigm === 'pixel'
          ? await drawWithImageModel(context, generator, steps.diagram)
          : await importExternalImage(context, generator);
    result = { ...result, renderAttempts: drawing.renderAttempts, codeKey: drawing.codeKey };
    if (!drawing.ok) return { ...result, reasons: [drawing.reason], usage: ledger.of(generator) };
    // The image is on record from here on, even if judging it fails.
    result = { ...result, imageKey: drawing.image.imageKey };

    const first = await judgeImage(context, generator, drawing.image);
    const refined =
      generator.paradigm === 'code'
        ? await refine(context, generator, steps.diagram, await steps.plan(), first, drawing.renderAttempts)
        : { versions: [], notes: [] };
    const chosen = bestVersion([first, ...refined.versions]);
    result = {
      ...result,
      notes: [...result.notes, ...refined.notes],
      versions: [first, ...refined.versions].map(({ round, imageKey, codeKey, judge, critique }) => ({
        round,
        imageKey,
        codeKey,
        judge,
        critique,
      })),
      imageKey: chosen.imageKey,
      codeKey: chosen.codeKey,
      judge: chosen.judge,
      judgeReasoning: chosen.reasoning,
      judgeKey: chosen.judgeKey,
    };
    if (steps.primary) progress.setJudgeNote(`judge: ${describeScores(chosen.judge)}`);

    const answered = await answerQuizzes(context, generator, chosen.imageKey, await steps.quizzes());
    result = { ...result, ...answered };
    if (steps.primary) progress.note({ key: searchAttributes.rInv, value: answered.rInv });

    if (visualAnswer && facts.visualQuestion) {
      const asked = await askVisualQuestion(context, generator, chosen.imageKey);
      result = { ...result, ve: asked.ve, notes: [...result.notes, ...asked.notes] };
    }

    const referenceKey = facts.referenceImageKey;
    if (referenceKey !== null) {
      const compared = await compareWithReference(context, generator, chosen.imageKey, referenceKey);
      result = { ...result, reference: compared.reference, notes: [...result.notes, ...compared.notes] };
    }

    const decision = applyFilterPolicy(chosen.judge, answered.rInv, settings.policy);
    const verdict = decision.accepted ? 'accepted' : 'rejected';
    return { ...result, verdict, reasons: decision.reasons, usage: ledger.of(generator) };
  } catch (error) {
    // One generator's failure (a step given up on, a render worker lost for good) is its own.
    if (!isStepFailure(error)) throw error;
    const reasons = [reasonOf(error, `${generator.name} failed`)];
    return { ...result, verdict: 'failed', reasons, usage: ledger.of(generator) };
  }
}

/**
 * A generator's result before it has done anything. With the VE step on, `ve` starts null (no
 * question asked), so every result of such a build says so; without it `ve` is absent, as in
 * records from before the step existed.
 */
function unstartedResult(generator: GeneratorSpec, visualAnswer: boolean): GeneratorResult {
  const empty = emptyGeneratorResult(generator);
  return visualAnswer ? { ...empty, ve: null } : empty;
}

/** The plan every code generator draws from. */
async function planDiagram(context: ProblemContext, diagram: Diagram): Promise<string> {
  const { llm, ledger, progress } = context;
  progress.enter('plan', 'content, layout, labels, constraints');
  const planned = await ledger.modelStep('plan', () =>
    llm.planDiagram.executeWithOptions({ summary: 'plan: content, layout, labels, constraints' }, [
      { ...context.problem, ...diagram },
    ]),
  );
  return planned.planKey;
}

/**
 * Stages the problem where its steps read it, and learns what the workflow branches on. A problem
 * by reference is read from its page by the step; one that came whole is written as it came.
 */
async function stageProblem(context: ProblemContext, input: ProblemWorkflowInput): Promise<ProblemFacts> {
  const summary = { summary: "stage: the problem's text, where its steps read it" };
  const location = { buildId: input.buildId, problemKey: input.problemKey };
  if ('problem' in input) {
    await context.storage.stageProblem.executeWithOptions(summary, [{ ...location, problem: input.problem }]);
    return problemFacts(input.problem);
  }
  return await context.storage.stageProblem.executeWithOptions(summary, [{ ...location, staged: input.staged }]);
}

/** The quizzes the problem brought, or atomic questions about its given setup written for it. */
async function quizSet(context: ProblemContext, facts: ProblemFacts): Promise<QuizSet> {
  if (facts.quizCount > 0) return { count: facts.quizCount, quizKey: null };
  const { llm, ledger, progress } = context;
  progress.enter('quiz', 'atomic questions about the given setup');
  const generated = await ledger.modelStep('quiz', () =>
    llm.generateQuizzes.executeWithOptions({ summary: 'quiz: atomic questions about the given setup' }, [
      context.problem,
    ]),
  );
  return { count: generated.quizzes.length, quizKey: generated.quizKey };
}

/** Writes the problem's record, marks it done and tells the build. */
async function record(
  context: ProblemContext,
  input: ProblemWorkflowInput,
  finished: ProblemResult,
): Promise<ProblemWorkflowOutput> {
  const { ledger, progress, storage } = context;
  const result = { ...finished, usage: ledger.total };
  const primary = result.results[0]!;
  const several = result.results.length > 1;
  const verdicts = several ? result.results.map((each) => `${each.generator} ${each.verdict}`).join(', ') : '';
  const rInv = primary.rInv === null ? '' : `R_inv ${primary.rInv.toFixed(2)}`;
  const summary = [`record: ${primary.verdict}`, progress.judgeNote, rInv, verdicts].filter(Boolean).join(' — ');
  try {
    const problem = 'problem' in input ? { problem: input.problem } : { staged: input.staged };
    await storage.recordProblemResult.executeWithOptions({ summary }, [
      { buildId: input.buildId, problemKey: input.problemKey, ...problem, result },
    ]);
  } catch (error) {
    // The build must not wait forever for a problem whose record could not be written.
    if (!isCancellation(error)) await notifyBuild(input, 'failed', result.usage);
    throw error;
  }
  const reasons = primary.reasons.length ? `: ${primary.reasons.join('; ')}` : '';
  progress.finish(
    [
      { key: searchAttributes.verdict, value: primary.verdict },
      { key: searchAttributes.stage, value: 'done' },
    ],
    `**done** — ${primary.verdict}${reasons}`,
  );
  await notifyBuild(input, primary.verdict, result.usage);
  return { id: problemIdOf(input), verdict: primary.verdict, usage: result.usage };
}

/** Reports to the build that started this problem; a problem run on its own has no build to tell. */
async function notifyBuild(
  input: ProblemWorkflowInput,
  verdict: Verdict | null,
  usage: ProblemResult['usage'],
): Promise<void> {
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

/** A shared step, run once on first use; its failure is every later user's failure too. */
function once<T>(run: () => Promise<T>): { get: () => Promise<T>; readonly value: T | undefined } {
  let pending: Promise<T> | undefined;
  let value: T | undefined;
  return {
    get: () =>
      (pending ??= run().then((settled) => {
        value = settled;
        return settled;
      })),
    get value() {
      return value;
    },
  };
}
