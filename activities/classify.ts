import { ANSWER_SCHEMAS, parseClassification } from '../domain/parse-model-output.ts';
import { callModel, parseAnswer } from './model-call.ts';
import { classificationKey } from '../storage/build-layout.ts';
import { readStagedProblem, type ProblemRef, type StepOutcome, type ModelStepDependencies } from './types.ts';

export type ClassifyProblemInput = ProblemRef;

export interface Classification {
  visualizable: boolean;
  reason: string;
  subject: string;
  image_type: string;
}

export function createClassifyProblem(dependencies: ModelStepDependencies) {
  return async function classifyProblem(input: ClassifyProblemInput): Promise<StepOutcome<Classification>> {
    const problem = await readStagedProblem(dependencies.store, input);
    const hints = [
      problem.subject ? `Subject given with the problem: ${problem.subject}` : '',
      problem.image_type ? `Image type given with the problem: ${problem.image_type}` : '',
      problem.caption ? `Caption of the intended figure: ${problem.caption}` : '',
    ].filter(Boolean);
    const answer = await callModel(dependencies.model, {
      step: 'classify',
      problemId: input.problemId,
      system: dependencies.prompts.render('classify.system'),
      parts: [
        {
          type: 'text',
          text: dependencies.prompts.render('classify.user', { question: problem.question, hints: hints.join('\n') }),
        },
      ],
      responseSchema: { name: 'classification', schema: ANSWER_SCHEMAS.classify },
    });
    const { text, usage } = answer;
    const parsed = parseAnswer('classify', answer, parseClassification);
    await dependencies.store.put(
      classificationKey(input),
      JSON.stringify(
        { answer: text, parsed: parsed.ok ? parsed.value : null, reason: parsed.ok ? null : parsed.reason },
        null,
        2,
      ),
      'application/json',
    );
    return parsed.ok ? { ok: true, value: parsed.value, usage } : { ok: false, reason: parsed.reason, usage };
  };
}
