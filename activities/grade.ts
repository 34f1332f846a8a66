import { ApplicationFailure } from '@temporalio/common';
import { ANSWER_SCHEMAS, parseGrade } from '../domain/parse-model-output.ts';
import { visualAnswerGradeKey } from '../storage/build-layout.ts';
import { callModel, parseAnswer } from './model-call.ts';
import { readStagedProblem, type GeneratorRef, type ModelStepDependencies, type StepOutcome } from './types.ts';
import type { StoredVisualAnswer } from './visual-answer.ts';

export interface GradeVisualAnswerInput extends GeneratorRef {
  /** The image that was asked (its `answers/` folder holds the grade). */
  imageKey: string;
  /** The visual-answer step's stored answer. */
  answerKey: string;
}

export interface GradeVisualAnswerOutput {
  correct: boolean;
  /** The grader's reason, capped so the workflow history stays small (the artifact keeps all of it). */
  reason: string;
  gradeKey: string;
}

/** Longest reason passed back to the workflow. */
const REASON_LIMIT = 500;

/**
 * Grades the VE answer against the problem's `answer` with a text model (no image): structured
 * output `{correct, reason}`. The question, the reference answer and the answer are all it is sent.
 */
export function createGradeVisualAnswer(dependencies: ModelStepDependencies) {
  const { store } = dependencies;
  return async function gradeVisualAnswer(
    input: GradeVisualAnswerInput,
  ): Promise<StepOutcome<GradeVisualAnswerOutput>> {
    const [problem, stored] = await Promise.all([
      readStagedProblem(store, input),
      store.getText(input.answerKey).then((text) => JSON.parse(text) as StoredVisualAnswer),
    ]);
    if (problem.answer === undefined || problem.answer.trim() === '') {
      throw ApplicationFailure.create({
        type: 'NoReferenceAnswer',
        message: `problem ${String(problem.id)} has no answer to grade against`,
        nonRetryable: true,
      });
    }
    const answer = await callModel(dependencies.model, {
      step: 'grade',
      problemId: input.problemId,
      system: dependencies.prompts.render('grade.system'),
      parts: [
        {
          type: 'text',
          text: dependencies.prompts.render('grade.user', {
            question: stored.question,
            reference: problem.answer,
            answer: stored.answer.trim(),
          }),
        },
      ],
      responseSchema: { name: 'grade', schema: ANSWER_SCHEMAS.grade },
    });
    const parsed = parseAnswer('grade', answer, parseGrade);
    const gradeKey = visualAnswerGradeKey(input.imageKey);
    await store.put(
      gradeKey,
      JSON.stringify(
        {
          question: stored.question,
          reference_answer: problem.answer,
          answer: stored.answer,
          reply: answer.text,
          correct: parsed.ok ? parsed.value.correct : null,
          reason: parsed.ok ? parsed.value.reason : null,
          parse_error: parsed.ok ? null : parsed.reason,
        },
        null,
        2,
      ),
      'application/json',
    );
    if (!parsed.ok) return { ok: false, reason: parsed.reason, usage: answer.usage };
    const reason =
      parsed.value.reason.length > REASON_LIMIT
        ? `${parsed.value.reason.slice(0, REASON_LIMIT)}…`
        : parsed.value.reason;
    return { ok: true, value: { correct: parsed.value.correct, reason, gradeKey }, usage: answer.usage };
  };
}
