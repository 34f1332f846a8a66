import { MockActivityEnvironment } from '@temporalio/testing';
import { describe, expect, it } from 'vitest';
import { createAnswerQuizzes, type AnswerQuizzesOutput } from '../../activities/answer.ts';
import type { ModelCallSettings } from '../../activities/model-call.ts';
import { loadPrompts } from '../../activities/prompts.ts';
import { createGenerateQuizzes } from '../../activities/quiz.ts';
import type { Problem } from '../../domain/types.ts';
import type { ModelProvider, ModelRequest } from '../../providers/provider.ts';
import { quizzesKey, stagedProblemKey } from '../../storage/build-layout.ts';
import { createFileStore } from '../../storage/file-store.ts';
import { makePng } from '../helpers/png.ts';
import { useTemporaryDirectory } from '../helpers/temporary-directory.ts';

const steps = ['classify', 'plan', 'code', 'repair', 'judge', 'quiz', 'answer'] as const;

/** A model that answers every quiz with the same text, and keeps the prompts it was sent. */
function fakeModel(answer: string): { settings: ModelCallSettings; requests: ModelRequest[] } {
  const requests: ModelRequest[] = [];
  const provider: ModelProvider = {
    name: 'openai',
    async generate(request) {
      requests.push(request);
      return {
        text: answer,
        usage: { inputTokens: 1, outputTokens: 1, cachedInputTokens: 0 },
        model: request.model,
        finishReason: 'stop',
        truncated: false,
      };
    },
    generateImage() {
      throw new Error('not used');
    },
  };
  return {
    settings: {
      provider,
      models: Object.fromEntries(steps.map((step) => [step, 'fake-model'])) as ModelCallSettings['models'],
      temperatures: Object.fromEntries(steps.map((step) => [step, 0])) as ModelCallSettings['temperatures'],
      prices: {},
    },
    requests,
  };
}

describe('answerQuizzes with the input quizzes of SciGenBench', () => {
  const directory = useTemporaryDirectory('answer-quizzes');

  it('lists every option the quiz has and grades a letter beyond D', async () => {
    const store = createFileStore(`file://${directory.path}`);
    const location = { buildId: 'b', problemKey: 'wi-lens-0001' };
    const problem: Problem = {
      id: 'wi-lens-0001',
      question: 'Draw the ray diagram.',
      quizzes: [
        {
          question: 'Which kind of lens is shown?',
          options: { A: 'diverging', B: 'plano-concave', C: 'meniscus', D: 'cylindrical', E: 'converging' },
          correct_option: 'E',
        },
      ],
      extra: {},
    };
    await store.put(stagedProblemKey(location), JSON.stringify(problem), 'application/json');
    const imageKey = 'builds/b/problems/wi-lens-0001/imgcoder/image.png';
    await store.put(imageKey, makePng(8, 8), 'image/png');

    const model = fakeModel('Not D: the lens is drawn bulging. Answer: E');
    const answerQuizzes = createAnswerQuizzes({ model: model.settings, prompts: loadPrompts(), store });
    const output: AnswerQuizzesOutput = await new MockActivityEnvironment().run(answerQuizzes, {
      ...location,
      problemId: problem.id,
      imageKey,
      quizKey: null,
    });

    expect(output.results).toEqual([{ question: 'Which kind of lens is shown?', correct_option: 'E', chosen: 'E' }]);
    const prompt = model.requests[0]!.parts.find((part) => part.type === 'text');
    expect(prompt?.type === 'text' && prompt.text).toBe(
      'Question: Which kind of lens is shown?\nA. diverging\nB. plano-concave\nC. meniscus\nD. cylindrical\nE. converging',
    );
  });
});

describe('generateQuizzes for a problem none of whose own quizzes was usable', () => {
  const directory = useTemporaryDirectory('generate-quizzes');

  it("writes the input's dropped quizzes and their reasons into quizzes.json beside the generated ones", async () => {
    const store = createFileStore(`file://${directory.path}`);
    const location = { buildId: 'b', problemKey: 'wi-graph-0003' };
    const dropped = [{ index: 0, reason: 'options: has keys "1", expected single uppercase letters (A, B, C, …)' }];
    const problem: Problem = {
      id: 'wi-graph-0003',
      question: 'Plot y = x^2 - 4.',
      dropped_quizzes: dropped,
      extra: {},
    };
    await store.put(stagedProblemKey(location), JSON.stringify(problem), 'application/json');
    const generated = {
      question: 'Which curve is plotted?',
      options: { A: 'a line', B: 'a parabola', C: 'a circle', D: 'a hyperbola' },
      correct_option: 'B',
    };
    const model = fakeModel(JSON.stringify({ quizzes: [generated] }));
    const generateQuizzes = createGenerateQuizzes({ model: model.settings, prompts: loadPrompts(), store });
    const outcome = await new MockActivityEnvironment().run(generateQuizzes, { ...location, problemId: problem.id });

    expect(outcome).toMatchObject({ ok: true, value: { quizzes: [generated], dropped: 0 } });
    const written = JSON.parse(await store.getText(quizzesKey(location))) as Record<string, unknown>;
    expect(written).toMatchObject({ generated: true, quizzes: [generated], dropped: [], dropped_from_input: dropped });
  });
});
