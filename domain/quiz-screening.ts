/**
 * What makes a generated quiz unfit for inverse validation beyond its shape (validateQuiz): a
 * question asked twice counts twice in R_inv, and a quiz whose correct option is the problem's
 * answer tests the solution, not the given setup the image must carry. Pure: used by the quiz
 * activity and by tests.
 */
import type { DroppedQuiz, Problem, Quiz } from './types.ts';

/** Lowercase, without spaces and trailing punctuation: "5.0 A" and "5.0A." compare equal. */
function normalized(text: string): string {
  return text
    .toLowerCase()
    .replace(/\s+/g, '')
    .replace(/[.。]+$/, '');
}

/**
 * Keeps the quizzes fit for use, in order; the others are dropped with a reason. `index` is the
 * quiz's position in `quizzes`.
 */
export function screenQuizzes(
  quizzes: readonly Quiz[],
  problem: Pick<Problem, 'answer'>,
): { kept: Quiz[]; dropped: DroppedQuiz[] } {
  const kept: Quiz[] = [];
  const dropped: DroppedQuiz[] = [];
  const questions = new Set<string>();
  const answer = problem.answer === undefined ? '' : normalized(problem.answer);
  for (const [index, quiz] of quizzes.entries()) {
    const question = normalized(quiz.question);
    if (questions.has(question)) {
      dropped.push({ index, reason: 'asks the same question as an earlier quiz' });
      continue;
    }
    const correct = quiz.options[quiz.correct_option];
    if (answer !== '' && correct !== undefined && normalized(correct) === answer) {
      dropped.push({
        index,
        reason: "its correct option is the problem's answer: it tests the solution, not the given setup",
      });
      continue;
    }
    questions.add(question);
    kept.push(quiz);
  }
  return { kept, dropped };
}
