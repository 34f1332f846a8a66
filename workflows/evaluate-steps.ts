/**
 * How a generator's image is evaluated: judged on the five dimensions, its quizzes answered from
 * the image alone (R_inv), the VE question answered and graded, compared with the reference image.
 * Each step takes what it needs and returns what it found.
 */
import { ActivityFailure, isCancellation } from '@temporalio/workflow';
import { computeRInv } from '../domain/filter-policy.ts';
import type { JudgeReasoning, ReferenceComparison, VisualAnswer } from '../domain/problem-result.ts';
import type { GeneratorSpec, JudgeScores, QuizResult } from '../domain/types.ts';
import { isStepFailure, reasonOf, type ProblemContext } from './problem-context.ts';

/** An image made and not yet judged. */
export interface DrawnImage {
  /** 0 for the first image, R for refinement round R. */
  round: number;
  imageKey: string;
  codeKey: string | null;
  /** The flaws the renderer measured in this image (overlapping texts, blank figure); none for pixel images. */
  findings: readonly string[];
  /** What the refinement that made it was asked to fix. */
  critique: string | null;
}

/** An image with the judge's verdict on it. */
export interface JudgedImage extends DrawnImage {
  judge: JudgeScores;
  reasoning: JudgeReasoning;
  judgeKey: string;
}

/** The quizzes every generator's image is asked, and where they are stored when they were generated. */
export interface QuizSet {
  /** How many quizzes the set holds (the set itself is read by the answer step). */
  count: number;
  /** null: the quizzes the problem brought. */
  quizKey: string | null;
}

export async function judgeImage(
  context: ProblemContext,
  generator: GeneratorSpec,
  image: DrawnImage,
): Promise<JudgedImage> {
  const { llm, ledger, progress } = context;
  const round = image.round === 0 ? '' : ` (refinement ${image.round})`;
  progress.enter('judge', `five dimensions, 0–2 each${round}`, generator);
  const judged = await ledger.modelStep(
    'judge',
    () =>
      llm.judgeImage.executeWithOptions(
        { summary: progress.summary(`judge${round}: five dimensions, 0–2 each`, generator) },
        [{ ...context.problem, generator: generator.name, imageKey: image.imageKey, round: image.round }],
      ),
    generator,
  );
  return { ...image, judge: judged.scores, reasoning: judged.reasoning, judgeKey: judged.judgeKey };
}

/** Every quiz answered from the image alone; an answer without a readable letter counts as wrong, as the benchmark grades it. */
export async function answerQuizzes(
  context: ProblemContext,
  generator: GeneratorSpec,
  imageKey: string,
  quizSet: QuizSet,
): Promise<{ quizResults: QuizResult[]; rInv: number }> {
  const { llm, ledger, progress } = context;
  const { count } = quizSet;
  progress.enter('answer', `${count} quizzes answered from the image alone`, generator);
  const answered = await ledger.invoke(
    'answer',
    () =>
      llm.answerQuizzes.executeWithOptions(
        { summary: progress.summary(`answer ${count} quizzes from the image alone`, generator) },
        [{ ...context.problem, imageKey, quizKey: quizSet.quizKey }],
      ),
    generator,
  );
  const rInv = computeRInv(
    answered.results.map((answer) => ({ chosen: answer.chosen, correct: answer.correct_option })),
  );
  return { quizResults: answered.results, rInv };
}

/**
 * SciGenBench's VE question: the problem's `multimodal_question` answered from the image alone
 * (step `visual-answer`), the answer graded against the problem's `answer` by a text model (step
 * `grade`). A measurement beside the verdict, which the filter policy does not read: a step that
 * fails (an unusable answer or grade, a call given up on) leaves `ve` null with a note.
 */
export async function askVisualQuestion(
  context: ProblemContext,
  generator: GeneratorSpec,
  imageKey: string,
): Promise<{ ve: VisualAnswer | null; notes: string[] }> {
  const { llm, ledger, progress } = context;
  const ref = { ...context.problem, generator: generator.name, imageKey };
  try {
    progress.enter('visual-answer', "the problem's question answered from the image alone", generator);
    const answered = await ledger.modelStep(
      'visual-answer',
      () =>
        llm.answerVisualQuestion.executeWithOptions(
          { summary: progress.summary("visual-answer: the problem's question from the image alone", generator) },
          [ref],
        ),
      generator,
    );
    progress.enter('grade', "the visual answer checked against the problem's answer", generator);
    const graded = await ledger.modelStep(
      'grade',
      () =>
        llm.gradeVisualAnswer.executeWithOptions(
          { summary: progress.summary("grade: the visual answer against the problem's answer", generator) },
          [{ ...ref, answerKey: answered.answerKey }],
        ),
      generator,
    );
    return {
      ve: { answerKey: answered.answerKey, correct: graded.correct, reason: graded.reason },
      notes: [],
    };
  } catch (error) {
    if (!isStepFailure(error)) throw error;
    return { ve: null, notes: [`no VE result: ${reasonOf(error)}`] };
  }
}

/**
 * PSNR and SSIM against the problem's reference image: a measurement beside the verdict, so a
 * comparison that cannot be made is a note, never the generator's failure.
 */
export async function compareWithReference(
  context: ProblemContext,
  generator: GeneratorSpec,
  imageKey: string,
  referenceKey: string,
): Promise<{ reference: ReferenceComparison | null; notes: string[] }> {
  const { renderer, progress } = context;
  progress.enter('compare', 'PSNR and SSIM against the reference image', generator);
  try {
    const compared = await renderer.compareWithReference.executeWithOptions(
      { summary: progress.summary('compare with the reference image: PSNR, SSIM', generator) },
      [{ buildId: context.problem.buildId, problemKey: context.problem.problemKey, imageKey, referenceKey }],
    );
    if (compared.ok) return { reference: { psnr: compared.psnr, ssim: compared.ssim }, notes: [] };
    return { reference: null, notes: [`no comparison with the reference image: ${compared.reason}`] };
  } catch (error) {
    if (!(error instanceof ActivityFailure) || isCancellation(error)) throw error;
    return {
      reference: null,
      notes: [`no comparison with the reference image: ${error.cause?.message ?? error.message}`],
    };
  }
}
