import { parseCode } from '../domain/parse-model-output.ts';
import type { Problem } from '../domain/types.ts';
import type { ArtifactStore } from '../storage/artifact-store.ts';
import { callModel, parseAnswer, type ModelCallSettings } from './model-call.ts';
import type { Prompts } from './prompts.ts';
import { problemPrefix, type ProblemRef, type StepOutcome } from './types.ts';

export interface WriteDiagramCodeInput extends ProblemRef {
  problem: Problem;
  subject: string;
  imageType: string;
  planKey: string;
  /** 1 for the first code, then one more per repair. */
  attempt: number;
}

export interface RepairDiagramCodeInput extends WriteDiagramCodeInput {
  /** The previous attempt's script, or its raw answer when no script could be taken from it. */
  previousKey: string;
  /** What went wrong, in words fed back to the model. */
  error: string;
}

/** Where an attempt's artifacts live. The raw answer is always kept, the script when one was found. */
export interface CodeAttempt {
  codeKey: string;
}

type Dependencies = { model: ModelCallSettings; prompts: Prompts; store: ArtifactStore };

export function createWriteDiagramCode(dependencies: Dependencies) {
  return async function writeDiagramCode(input: WriteDiagramCodeInput): Promise<StepOutcome<CodeAttempt> & { answerKey: string }> {
    const plan = await dependencies.store.getText(input.planKey);
    const userText = dependencies.prompts.render('code.user', promptValues(input, plan));
    return requestScript(dependencies, input, 'code', userText);
  };
}

export function createRepairDiagramCode(dependencies: Dependencies) {
  return async function repairDiagramCode(input: RepairDiagramCodeInput): Promise<StepOutcome<CodeAttempt> & { answerKey: string }> {
    const [plan, previous] = await Promise.all([
      dependencies.store.getText(input.planKey),
      dependencies.store.getText(input.previousKey),
    ]);
    const userText = dependencies.prompts.render('repair.user', {
      ...promptValues(input, plan),
      attempt: String(input.attempt - 1),
      code: previous,
      error: input.error,
    });
    return requestScript(dependencies, input, 'repair', userText);
  };
}

function promptValues(input: WriteDiagramCodeInput, plan: string): Record<string, string> {
  return { question: input.problem.question, subject: input.subject, image_type: input.imageType, plan };
}

async function requestScript(
  dependencies: Dependencies,
  input: WriteDiagramCodeInput,
  step: 'code' | 'repair',
  userText: string,
): Promise<StepOutcome<CodeAttempt> & { answerKey: string }> {
  const answer = await callModel(dependencies.model, {
    step,
    problemId: input.problemId,
    system: dependencies.prompts.render('code.system'),
    parts: [{ type: 'text', text: userText }],
  });
  const { text, usage } = answer;
  const attemptPrefix = `${problemPrefix(input)}/attempt-${input.attempt}`;
  const answerKey = `${attemptPrefix}/${step}-answer.md`;
  await dependencies.store.put(answerKey, text, 'text/markdown');
  const parsed = parseAnswer(step, answer, parseCode);
  if (!parsed.ok) return { ok: false, reason: parsed.reason, usage, answerKey };
  const codeKey = `${attemptPrefix}/diagram.py`;
  await dependencies.store.put(codeKey, parsed.value, 'text/x-python');
  return { ok: true, value: { codeKey }, usage, answerKey };
}
