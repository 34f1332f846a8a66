import { parseQuizzes, ANSWER_SCHEMAS } from '../domain/parse-model-output.ts';
import { screenQuizzes } from '../domain/quiz-screening.ts';
import type { DroppedQuiz, Quiz } from '../domain/types.ts';
import { callModel, parseAnswer } from './model-call.ts';
import { quizzesKey } from '../storage/build-layout.ts';
import { readStagedProblem, type ProblemRef, type StepOutcome, type ModelStepDependencies } from './types.ts';

export type GenerateQuizzesInput = ProblemRef;

export interface GenerateQuizzesOutput {
  /** The quizzes fit for use: well-formed, distinct, not about the answer. */
  quizzes: Quiz[];
  quizKey: string;
  /** How many the model wrote that were not used (their reasons are in the quizzes artifact). */
  dropped: number;
}

/**
 * Atomic questions about the problem's given setup. Every quiz is checked before use; those that
 * fail are kept in the artifact with their reason and left out. None left is an unusable answer.
 */
export function createGenerateQuizzes(dependencies: ModelStepDependencies) {
  return async function generateQuizzes(input: GenerateQuizzesInput): Promise<StepOutcome<GenerateQuizzesOutput>> {
    const problem = await readStagedProblem(dependencies.store, input);
    const answer = await callModel(dependencies.model, {
      step: 'quiz',
      problemId: input.problemId,
      system: dependencies.prompts.render('quiz.system'),
      parts: [{ type: 'text', text: dependencies.prompts.render('quiz.user', { question: problem.question }) }],
      responseSchema: { name: 'quizzes', schema: ANSWER_SCHEMAS.quiz },
    });
    const { usage } = answer;
    const parsed = parseAnswer('quiz', answer, parseQuizzes);
    if (!parsed.ok) return { ok: false, reason: parsed.reason, usage };
    const screened = screenQuizzes(parsed.value.quizzes, problem);
    // Positions in the screening are among the well-formed quizzes; name them by the model's numbering.
    const malformed = new Set(parsed.value.dropped.map((dropped) => dropped.index));
    const wellFormedIndexes = [...Array(parsed.value.quizzes.length + malformed.size).keys()].filter(
      (index) => !malformed.has(index),
    );
    const dropped: DroppedQuiz[] = [
      ...parsed.value.dropped,
      ...screened.dropped.map((drop) => ({ index: wellFormedIndexes[drop.index]!, reason: drop.reason })),
    ].sort((left, right) => left.index - right.index);
    const quizKey = quizzesKey(input);
    await dependencies.store.put(
      quizKey,
      JSON.stringify(
        {
          generated: true,
          quizzes: screened.kept,
          dropped,
          answer: answer.text,
          // The input's own quizzes, none of them usable, are why these were generated.
          ...(problem.dropped_quizzes === undefined ? {} : { dropped_from_input: problem.dropped_quizzes }),
        },
        null,
        2,
      ),
      'application/json',
    );
    if (screened.kept.length === 0) {
      return {
        ok: false,
        reason: `quiz answer has no usable quiz: ${dropped.map((drop) => `quiz ${drop.index + 1} ${drop.reason}`).join('; ')}`,
        usage,
      };
    }
    return { ok: true, value: { quizzes: screened.kept, quizKey, dropped: dropped.length }, usage };
  };
}
