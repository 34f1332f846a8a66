import { parseAnswerLetter } from '../domain/parse-model-output.ts';
import type { OptionLetter, Quiz } from '../domain/types.ts';
import { storedImagePart } from '../providers/image.ts';
import type { ArtifactStore } from '../storage/artifact-store.ts';
import { callModel, parseAnswer, type ModelCallSettings } from './model-call.ts';
import type { Prompts } from './prompts.ts';
import { problemPrefix, type ProblemRef, type StepOutcome } from './types.ts';

export interface AnswerQuizInput extends ProblemRef {
  imageKey: string;
  quiz: Quiz;
  /** The quiz's position, naming its answer artifact. */
  index: number;
}

/** Answers one quiz from the image alone: the problem text is deliberately not sent. */
export function createAnswerQuiz(dependencies: { model: ModelCallSettings; prompts: Prompts; store: ArtifactStore }) {
  return async function answerQuiz(input: AnswerQuizInput): Promise<StepOutcome<{ chosen: OptionLetter; correct: boolean }>> {
    const image = await dependencies.store.get(input.imageKey);
    const { quiz } = input;
    const answer = await callModel(dependencies.model, {
      step: 'answer',
      problemId: input.problemId,
      system: dependencies.prompts.render('answer.system'),
      parts: [
        storedImagePart(image),
        { type: 'text', text: dependencies.prompts.render('answer.user', { question: quiz.question, ...quiz.options }) },
      ],
    });
    const { text, usage } = answer;
    const parsed = parseAnswer('answer', answer, parseAnswerLetter);
    const correct = parsed.ok && parsed.value === quiz.correct_option;
    await dependencies.store.put(
      `${problemPrefix(input)}/answers/quiz-${input.index + 1}.json`,
      JSON.stringify({ quiz, answer: text, chosen: parsed.ok ? parsed.value : null, correct }, null, 2),
      'application/json',
    );
    if (!parsed.ok) return { ok: false, reason: parsed.reason, usage };
    return { ok: true, value: { chosen: parsed.value, correct }, usage };
  };
}
