import { judgementAnswerSchema, parseJudgement } from '../domain/parse-model-output.ts';
import type { GeneratorResult, JudgeScores, Problem } from '../domain/types.ts';
import { storedImagePart } from '../providers/image.ts';
import type { ArtifactStore } from '../storage/artifact-store.ts';
import { callModel, parseAnswer, type ModelCallSettings } from './model-call.ts';
import type { Prompts } from './prompts.ts';
import { generatorPrefix, problemPrefix, type ProblemRef, type StepOutcome } from './types.ts';

export interface JudgeImageInput extends ProblemRef {
  problem: Problem;
  imageKey: string;
  /** The generator that made the image, and its refinement round (0: the first image). */
  generator?: string;
  round?: number;
}

export type JudgeReasoning = NonNullable<GeneratorResult['judge_reasoning']>;

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

export function createJudgeImage(dependencies: { model: ModelCallSettings; prompts: Prompts; store: ArtifactStore }) {
  return async function judgeImage(input: JudgeImageInput): Promise<StepOutcome<JudgeImageOutput>> {
    const image = await dependencies.store.get(input.imageKey);
    const answer = await callModel(dependencies.model, {
      step: 'judge',
      problemId: input.problemId,
      system: dependencies.prompts.render('judge.system'),
      parts: [
        { type: 'text', text: dependencies.prompts.render('judge.user', { question: input.problem.question }) },
        storedImagePart(image),
      ],
      responseSchema: { name: 'judgement', schema: judgementAnswerSchema },
    });
    const { text, usage } = answer;
    const parsed = parseAnswer('judge', answer, parseJudgement);
    const judgeKey =
      input.generator === undefined
        ? `${problemPrefix(input)}/judge.json`
        : `${generatorPrefix({ ...input, generator: input.generator })}/judge-${input.round ?? 0}.json`;
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
