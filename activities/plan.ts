import { parsePlan, ANSWER_SCHEMAS } from '../domain/parse-model-output.ts';
import { callModel, parseAnswer } from './model-call.ts';
import { planKey as planKeyOf } from '../storage/build-layout.ts';
import { readStagedProblem, type ProblemRef, type StepOutcome, type ModelStepDependencies } from './types.ts';

export interface PlanDiagramInput extends ProblemRef {
  subject: string;
  imageType: string;
}

export function createPlanDiagram(dependencies: ModelStepDependencies) {
  return async function planDiagram(input: PlanDiagramInput): Promise<StepOutcome<{ planKey: string }>> {
    const problem = await readStagedProblem(dependencies.store, input);
    const answer = await callModel(dependencies.model, {
      step: 'plan',
      problemId: input.problemId,
      system: dependencies.prompts.render('plan.system'),
      parts: [
        {
          type: 'text',
          text: dependencies.prompts.render('plan.user', {
            question: problem.question,
            subject: input.subject,
            image_type: input.imageType,
          }),
        },
      ],
      responseSchema: { name: 'diagram_plan', schema: ANSWER_SCHEMAS.plan },
    });
    const { usage } = answer;
    const parsed = parseAnswer('plan', answer, parsePlan);
    if (!parsed.ok) return { ok: false, reason: parsed.reason, usage };
    const planKey = planKeyOf(input);
    await dependencies.store.put(planKey, JSON.stringify(parsed.value, null, 2), 'application/json');
    return { ok: true, value: { planKey }, usage };
  };
}
