import { ApplicationFailure } from '@temporalio/common';
import { storedImagePart } from '../providers/image.ts';
import { visualAnswerKey } from '../storage/build-layout.ts';
import { callModel, parseAnswer } from './model-call.ts';
import { readStagedProblem, type GeneratorRef, type ModelStepDependencies, type StepOutcome } from './types.ts';

export interface AnswerVisualQuestionInput extends GeneratorRef {
  /** The image the question is asked of (the generator's chosen version). */
  imageKey: string;
}

export interface AnswerVisualQuestionOutput {
  /** The stored answer (`ve-answer.json`: question, image, answer); the grade step reads it there. */
  answerKey: string;
}

/** What `ve-answer.json` holds. */
export interface StoredVisualAnswer {
  question: string;
  image: string;
  answer: string;
}

/**
 * The VE question (SciGenBench's ve_infer): a vision model answers the problem's
 * `multimodal_question` from the image alone — the problem text is deliberately not sent. The
 * answer is free text, stored for the grade step; an empty answer is a parse failure of the step.
 */
export function createAnswerVisualQuestion(dependencies: ModelStepDependencies) {
  return async function answerVisualQuestion(
    input: AnswerVisualQuestionInput,
  ): Promise<StepOutcome<AnswerVisualQuestionOutput>> {
    const [problem, image] = await Promise.all([
      readStagedProblem(dependencies.store, input),
      dependencies.store.get(input.imageKey),
    ]);
    const question = problem.multimodal_question;
    if (!question) {
      throw ApplicationFailure.create({
        type: 'NoVisualQuestion',
        message: `problem ${String(problem.id)} has no multimodal_question to answer`,
        nonRetryable: true,
      });
    }
    const answer = await callModel(dependencies.model, {
      step: 'visual-answer',
      problemId: input.problemId,
      system: dependencies.prompts.render('visual-answer.system'),
      parts: [
        storedImagePart(image),
        { type: 'text', text: dependencies.prompts.render('visual-answer.user', { question }) },
      ],
    });
    const parsed = parseAnswer('visual-answer', answer, (text) => ({ ok: true, value: text.trim() }));
    const answerKey = visualAnswerKey(input.imageKey);
    const stored: StoredVisualAnswer = { question, image: input.imageKey, answer: answer.text };
    await dependencies.store.put(answerKey, JSON.stringify(stored, null, 2), 'application/json');
    if (!parsed.ok) return { ok: false, reason: parsed.reason, usage: answer.usage };
    return { ok: true, value: { answerKey }, usage: answer.usage };
  };
}
