import { ApplicationFailure } from '@temporalio/common';
import { parseAnswerLetter } from '../domain/parse-model-output.ts';
import { ZERO_USAGE, addUsage, type OptionLetter, type Quiz, type QuizResult, type Usage } from '../domain/types.ts';
import { storedImagePart } from '../providers/image.ts';
import { ArtifactNotFoundError, type ArtifactStore } from '../storage/artifact-store.ts';
import { callModel, parseAnswer } from './model-call.ts';
import { quizAnswerKey } from '../storage/build-layout.ts';
import { readStagedProblem, type ProblemRef, type ModelStepDependencies } from './types.ts';

export interface AnswerQuizzesInput extends ProblemRef {
  imageKey: string;
  /** The generated quizzes (quizzes.json); null: the quizzes the problem brought. */
  quizKey: string | null;
}

export interface AnswerQuizzesOutput {
  /** One per quiz, in order; `chosen` null when the answer held no readable letter (graded wrong). */
  results: QuizResult[];
  /**
   * What the answers cost, each paid once: an answer reused from an earlier attempt of this
   * activity brings the cost it was paid with (that attempt failed, so reported nothing).
   */
  usage: Usage;
}

/** What is kept per answered quiz, next to the image it was answered from. */
interface StoredAnswer {
  quiz: Quiz;
  answer: string;
  chosen: OptionLetter | null;
  correct: boolean;
  usage: Usage;
}

/**
 * Answers every quiz of one image from the image alone (the problem text is deliberately not
 * sent), the calls concurrent. Each answer is stored as it arrives, and a retried activity reuses
 * the stored ones, so a crash half-way never pays twice for an answer. A call that fails for good
 * fails the activity with that call's failure, after the others have finished and been stored.
 */
export function createAnswerQuizzes(dependencies: ModelStepDependencies) {
  const { store } = dependencies;

  async function storedAnswer(key: string, quiz: Quiz): Promise<StoredAnswer | null> {
    try {
      const stored = JSON.parse(await store.getText(key)) as StoredAnswer;
      // Answers to another quiz set (the same image key in an older build layout) are not reused.
      return stored.quiz.question === quiz.question && stored.quiz.correct_option === quiz.correct_option
        ? stored
        : null;
    } catch (error) {
      if (error instanceof ArtifactNotFoundError || error instanceof SyntaxError) return null;
      throw error;
    }
  }

  return async function answerQuizzes(input: AnswerQuizzesInput): Promise<AnswerQuizzesOutput> {
    let image: Uint8Array | undefined;
    const loadImage = async () => (image ??= await store.get(input.imageKey));
    const system = dependencies.prompts.render('answer.system');

    async function answerOne(quiz: Quiz, index: number): Promise<StoredAnswer> {
      const key = quizAnswerKey(input.imageKey, index);
      const earlier = await storedAnswer(key, quiz);
      if (earlier) return earlier;
      const answer = await callModel(dependencies.model, {
        step: 'answer',
        problemId: input.problemId,
        system,
        parts: [
          storedImagePart(await loadImage()),
          {
            type: 'text',
            text: dependencies.prompts.render('answer.user', {
              question: quiz.question,
              options: Object.entries(quiz.options)
                .map(([letter, option]) => `${letter}. ${option}`)
                .join('\n'),
            }),
          },
        ],
      });
      const letters = Object.keys(quiz.options);
      const parsed = parseAnswer('answer', answer, (text) => parseAnswerLetter(text, letters));
      const chosen = parsed.ok ? parsed.value : null;
      const stored: StoredAnswer = {
        quiz,
        answer: answer.text,
        chosen,
        correct: chosen === quiz.correct_option,
        usage: answer.usage,
      };
      await store.put(key, JSON.stringify(stored, null, 2), 'application/json');
      return stored;
    }

    const quizzes = await readQuizzes(store, input);
    const settled = await Promise.allSettled(quizzes.map((quiz, index) => answerOne(quiz, index)));
    let usage = ZERO_USAGE;
    const results: QuizResult[] = [];
    for (const outcome of settled) {
      if (outcome.status === 'rejected') {
        const failure = outcome.reason;
        // What the finished calls cost is not lost: it rides in the failure's details (see providers/errors.ts).
        if (failure instanceof ApplicationFailure) throw withBilledUsage(failure, settled);
        throw failure;
      }
      usage = addUsage(usage, outcome.value.usage ?? ZERO_USAGE);
      const { quiz, chosen } = outcome.value;
      results.push({ question: quiz.question, correct_option: quiz.correct_option, chosen });
    }
    return { results, usage };
  };
}

/** The failure of one answer, its billed usage raised by what the other, finished answers cost. */
function withBilledUsage(
  failure: ApplicationFailure,
  settled: PromiseSettledResult<StoredAnswer>[],
): ApplicationFailure {
  const finished = settled.reduce(
    (sum, outcome) => (outcome.status === 'fulfilled' ? addUsage(sum, outcome.value.usage ?? ZERO_USAGE) : sum),
    ZERO_USAGE,
  );
  const details = failure.details?.[0];
  const previous = typeof details === 'object' && details !== null ? (details as { usage?: Usage }).usage : undefined;
  const usage = addUsage(finished, previous ?? ZERO_USAGE);
  return ApplicationFailure.create({
    type: failure.type ?? 'ModelCallFailed',
    message: failure.message,
    nonRetryable: failure.nonRetryable ?? false,
    details: [{ ...(typeof details === 'object' && details !== null ? details : {}), usage }],
    ...(failure.nextRetryDelay === undefined ? {} : { nextRetryDelay: failure.nextRetryDelay }),
    cause: failure,
  });
}

/** The quiz set of a problem: the generated one when there is one, else the quizzes the problem brought. */
async function readQuizzes(store: ArtifactStore, input: AnswerQuizzesInput): Promise<Quiz[]> {
  if (input.quizKey !== null) return (JSON.parse(await store.getText(input.quizKey)) as { quizzes: Quiz[] }).quizzes;
  return (await readStagedProblem(store, input)).quizzes ?? [];
}
