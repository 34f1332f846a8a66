import { ANSWER_SCHEMAS, parseJudgement } from '../domain/parse-model-output.ts';
import type { JudgeReasoning } from '../domain/problem-result.ts';
import type { JudgeScores } from '../domain/types.ts';
import { storedImagePart } from '../providers/image.ts';
import { callModel, parseAnswer } from './model-call.ts';
import { judgeKey as judgeKeyOf } from '../storage/build-layout.ts';
import { readStagedProblem, type GeneratorRef, type StepOutcome, type ModelStepDependencies } from './types.ts';

export interface JudgeImageInput extends GeneratorRef {
  imageKey: string;
  /** The refinement round of the image (0: the first image). */
  round: number;
}

export interface JudgeImageOutput {
  scores: JudgeScores;
  /** The judge's words, also in the judge artifact; capped so the workflow history stays small. */
  reasoning: JudgeReasoning;
  judgeKey: string;
}

/** Longest reasoning text passed back to the workflow (the artifact keeps all of it). */
const REASONING_LIMIT = 2000;

function capped(text: string): string {
  return text.length > REASONING_LIMIT ? `${text.slice(0, REASONING_LIMIT)}…` : text;
}

export function createJudgeImage(dependencies: ModelStepDependencies) {
  return async function judgeImage(input: JudgeImageInput): Promise<StepOutcome<JudgeImageOutput>> {
    const [problem, image] = await Promise.all([
      readStagedProblem(dependencies.store, input),
      dependencies.store.get(input.imageKey),
    ]);
    const answer = await callModel(dependencies.model, {
      step: 'judge',
      problemId: input.problemId,
      system: dependencies.prompts.render('judge.system'),
      parts: [
        { type: 'text', text: dependencies.prompts.render('judge.user', { question: problem.question }) },
        storedImagePart(image),
      ],
      responseSchema: { name: 'judgement', schema: ANSWER_SCHEMAS.judge },
    });
    const { text, usage } = answer;
    const parsed = parseAnswer('judge', answer, parseJudgement);
    const judgeKey = judgeKeyOf(input, input.round);
    await dependencies.store.put(
      judgeKey,
      JSON.stringify(
        {
          image: input.imageKey,
          answer: text,
          scores: parsed.ok ? parsed.value.scores : null,
          reasoning: parsed.ok ? parsed.value.reasoning : null,
          dimension_reasoning: parsed.ok ? parsed.value.dimension_reasoning : null,
        },
        null,
        2,
      ),
      'application/json',
    );
    if (!parsed.ok) return { ok: false, reason: parsed.reason, usage };
    const dimensions = Object.fromEntries(
      Object.entries(parsed.value.dimension_reasoning).map(([dimension, words]) => [dimension, capped(words)]),
    );
    const reasoning: JudgeReasoning = { overall: capped(parsed.value.reasoning), dimensions };
    return { ok: true, value: { scores: parsed.value.scores, reasoning, judgeKey }, usage };
  };
}
