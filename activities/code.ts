import { parseCode } from '../domain/parse-model-output.ts';
import type { ArtifactStore } from '../storage/artifact-store.ts';
import { callModel, parseAnswer } from './model-call.ts';
import { codeVersionFiles, codeVersionFolder } from '../storage/build-layout.ts';
import { readStagedProblem, type GeneratorRef, type StepOutcome, type ModelStepDependencies } from './types.ts';

export interface WriteDiagramCodeInput extends GeneratorRef {
  subject: string;
  imageType: string;
  planKey: string;
  /** 1 for the first code, then one more per repair. */
  attempt: number;
  /** The generator's model when it names one; otherwise the step's configured model. */
  model?: string;
}

export interface RepairDiagramCodeInput extends WriteDiagramCodeInput {
  /** The previous attempt's script, or its raw answer when no script could be taken from it. */
  previousKey: string;
  /** What went wrong, in words fed back to the model. */
  error: string;
}

export interface RefineDiagramCodeInput extends WriteDiagramCodeInput {
  /** The script that rendered the image under review. */
  previousKey: string;
  /** 1 for the first refinement round. */
  round: number;
  /** What the judge and the renderer found wrong with the image, in words fed back to the model. */
  critique: string;
}

/** Where an attempt's artifacts live. The raw answer is always kept, the script when one was found. */
export interface CodeAttempt {
  codeKey: string;
}

type Dependencies = ModelStepDependencies;

/** What a code, repair or refine step returns; the raw answer is kept at `answerKey` either way. */
export type CodeStepOutput = StepOutcome<CodeAttempt> & { answerKey: string };

export function createWriteDiagramCode(dependencies: Dependencies) {
  return async function writeDiagramCode(input: WriteDiagramCodeInput): Promise<CodeStepOutput> {
    const userText = dependencies.prompts.render('code.user', await promptValues(dependencies.store, input));
    return requestScript(dependencies, input, 'code', userText);
  };
}

export function createRepairDiagramCode(dependencies: Dependencies) {
  return async function repairDiagramCode(input: RepairDiagramCodeInput): Promise<CodeStepOutput> {
    const userText = dependencies.prompts.render('repair.user', {
      ...(await revisionValues(dependencies.store, input)),
      attempt: String(input.attempt - 1),
      error: input.error,
    });
    return requestScript(dependencies, input, 'repair', userText);
  };
}

/**
 * Visual feedback (MatPlotAgent's idea): the script that made a flawed image is revised with the
 * judge's and the renderer's critique of that image.
 */
export function createRefineDiagramCode(dependencies: Dependencies) {
  return async function refineDiagramCode(input: RefineDiagramCodeInput): Promise<CodeStepOutput> {
    const userText = dependencies.prompts.render('refine.user', {
      ...(await revisionValues(dependencies.store, input)),
      critique: input.critique,
    });
    return requestScript(dependencies, input, 'refine', userText);
  };
}

async function promptValues(store: ArtifactStore, input: WriteDiagramCodeInput): Promise<Record<string, string>> {
  const [problem, plan] = await Promise.all([readStagedProblem(store, input), store.getText(input.planKey)]);
  return { question: problem.question, subject: input.subject, image_type: input.imageType, plan };
}

/** What a revision of a script is shown: the problem and its plan, and the script to revise. */
async function revisionValues(
  store: ArtifactStore,
  input: WriteDiagramCodeInput & { previousKey: string },
): Promise<Record<string, string>> {
  const [values, code] = await Promise.all([promptValues(store, input), store.getText(input.previousKey)]);
  return { ...values, code };
}

async function requestScript(
  dependencies: Dependencies,
  input: WriteDiagramCodeInput & { round?: number },
  step: 'code' | 'repair' | 'refine',
  userText: string,
): Promise<CodeStepOutput> {
  const answer = await callModel(dependencies.model, {
    step,
    problemId: input.problemId,
    system: dependencies.prompts.render('code.system'),
    parts: [{ type: 'text', text: userText }],
    ...(input.model === undefined ? {} : { model: input.model }),
  });
  const { text, usage } = answer;
  const files = codeVersionFiles(codeVersionFolder(input, input));
  const answerKey = files.answer(step);
  await dependencies.store.put(answerKey, text, 'text/markdown');
  const parsed = parseAnswer(step, answer, parseCode);
  if (!parsed.ok) return { ok: false, reason: parsed.reason, usage, answerKey };
  const codeKey = files.script;
  await dependencies.store.put(codeKey, parsed.value, 'text/x-python');
  return { ok: true, value: { codeKey }, usage, answerKey };
}
