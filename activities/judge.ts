import { judgementAnswerSchema, parseJudgement } from '../domain/parse-model-output.ts';
import type { JudgeScores, Problem } from '../domain/types.ts';
import { storedImagePart } from '../providers/image.ts';
import type { ArtifactStore } from '../storage/artifact-store.ts';
import { callModel, parseAnswer, type ModelCallSettings } from './model-call.ts';
import type { Prompts } from './prompts.ts';
import { problemPrefix, type ProblemRef, type StepOutcome } from './types.ts';

export interface JudgeImageInput extends ProblemRef {
  problem: Problem;
  imageKey: string;
}

export function createJudgeImage(dependencies: { model: ModelCallSettings; prompts: Prompts; store: ArtifactStore }) {
  return async function judgeImage(input: JudgeImageInput): Promise<StepOutcome<{ scores: JudgeScores; judgeKey: string }>> {
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
    const judgeKey = `${problemPrefix(input)}/judge.json`;
    await dependencies.store.put(
      judgeKey,
      JSON.stringify(
        { image: input.imageKey, answer: text, scores: parsed.ok ? parsed.value.scores : null, reasoning: parsed.ok ? parsed.value.reasoning : null },
        null,
        2,
      ),
      'application/json',
    );
    if (!parsed.ok) return { ok: false, reason: parsed.reason, usage };
    return { ok: true, value: { scores: parsed.value.scores, judgeKey }, usage };
  };
}
