import { parseQuizzes, quizAnswerSchema } from '../domain/parse-model-output.ts';
import type { Problem, Quiz } from '../domain/types.ts';
import type { ArtifactStore } from '../storage/artifact-store.ts';
import { callModel, parseAnswer, type ModelCallSettings } from './model-call.ts';
import type { Prompts } from './prompts.ts';
import { problemPrefix, type ProblemRef, type StepOutcome } from './types.ts';

export interface GenerateQuizzesInput extends ProblemRef {
  problem: Problem;
}

export function createGenerateQuizzes(dependencies: { model: ModelCallSettings; prompts: Prompts; store: ArtifactStore }) {
  return async function generateQuizzes(input: GenerateQuizzesInput): Promise<StepOutcome<{ quizzes: Quiz[]; quizKey: string }>> {
    const answer = await callModel(dependencies.model, {
      step: 'quiz',
      problemId: input.problemId,
      system: dependencies.prompts.render('quiz.system'),
      parts: [{ type: 'text', text: dependencies.prompts.render('quiz.user', { question: input.problem.question }) }],
      responseSchema: { name: 'quizzes', schema: quizAnswerSchema },
    });
    const { usage } = answer;
    const parsed = parseAnswer('quiz', answer, parseQuizzes);
    if (!parsed.ok) return { ok: false, reason: parsed.reason, usage };
    const quizKey = `${problemPrefix(input)}/quizzes.json`;
    await dependencies.store.put(quizKey, JSON.stringify({ generated: true, quizzes: parsed.value }, null, 2), 'application/json');
    return { ok: true, value: { quizzes: parsed.value, quizKey }, usage };
  };
}
