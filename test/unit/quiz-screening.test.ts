import { describe, expect, it } from 'vitest';
import { screenQuizzes } from '../../domain/quiz-screening.ts';
import type { Quiz } from '../../domain/types.ts';
import { critiqueOf } from '../../domain/critique.ts';

const quiz = (question: string, correct: string, correctOption: Quiz['correct_option'] = 'A'): Quiz => {
  const others = ['w1', 'w2', 'w3'];
  const options = { A: '', B: '', C: '', D: '' } as Record<Quiz['correct_option'], string>;
  for (const letter of ['A', 'B', 'C', 'D'] as const)
    options[letter] = letter === correctOption ? correct : others.shift()!;
  return { question, options, correct_option: correctOption };
};

describe('screenQuizzes', () => {
  it('keeps well-formed, distinct quizzes about the setup, in order', () => {
    const quizzes = [
      quiz('What mass is labelled on the block?', '5.0 kg'),
      quiz('What angle does the incline make?', '30°', 'C'),
    ];
    expect(screenQuizzes(quizzes, { answer: 'a = 1.2 m/s²' })).toEqual({ kept: quizzes, dropped: [] });
  });

  it('drops a quiz whose correct option is the problem answer, however it is spaced or cased', () => {
    const leaking = quiz('What is the acceleration of the block?', 'A = 1.2 m/s²', 'B');
    const result = screenQuizzes([quiz('What mass is labelled?', '5.0 kg'), leaking], { answer: 'a = 1.2m/s².' });
    expect(result.kept).toHaveLength(1);
    expect(result.dropped).toEqual([
      { index: 1, reason: "its correct option is the problem's answer: it tests the solution, not the given setup" },
    ]);
  });

  it('drops a question asked twice (it would count twice in R_inv)', () => {
    const result = screenQuizzes(
      [quiz('What mass is labelled?', '5.0 kg'), quiz('what mass is  labelled?', '5 kg', 'D')],
      {},
    );
    expect(result.kept).toHaveLength(1);
    expect(result.dropped).toEqual([{ index: 1, reason: 'asks the same question as an earlier quiz' }]);
  });

  it('checks no answer leak when the problem brings no answer', () => {
    expect(screenQuizzes([quiz('Q?', '')], {}).kept).toHaveLength(1);
  });
});

describe('critiqueOf (what a refinement round is asked to fix)', () => {
  const perfect = {
    correctness_fidelity: 2,
    layout_precision: 2,
    readability_occlusion: 2,
    scientific_plausibility: 2,
    expressiveness_richness: 2,
  };

  it('is null for a flawless image: no refinement round runs', () => {
    expect(critiqueOf({ judge: perfect, reasoning: { overall: 'Fine.', dimensions: {} }, findings: [] })).toBeNull();
  });

  it('names each dimension below 2 with the judge’s words for it, then the overall assessment', () => {
    const critique = critiqueOf({
      judge: { ...perfect, readability_occlusion: 1, layout_precision: 0 },
      reasoning: {
        overall: 'Cramped figure.',
        dimensions: { readability_occlusion: 'the label F overlaps the arrow' },
      },
      findings: [],
    });
    expect(critique).toBe(
      "- Layout & Precision scored 0 of 2\n- Readability & Occlusion scored 1 of 2: the label F overlaps the arrow\n\nThe reviewer's overall assessment: Cramped figure.",
    );
  });

  it('refines on what the renderer measured even when the judge gave full marks', () => {
    expect(critiqueOf({ judge: perfect, reasoning: null, findings: ["label 'N' overlaps a line"] })).toBe(
      "- measured in the rendered figure: label 'N' overlaps a line",
    );
  });
});
