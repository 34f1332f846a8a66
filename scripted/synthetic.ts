import type { Script } from './script.ts';

/**
 * A synthetic dataset for scale tests and benchmarks: `count` problems, of which every `drawEvery`-th goes through
 * the whole pipeline (classify … answer, with a real render) and the rest are judged not
 * visualizable — so the build's own machinery, not rendering, is what a test of hundreds exercises.
 */
export function syntheticProblems(count: number, drawEvery: number): Array<{ id: string; question: string }> {
  return Array.from({ length: count }, (_, index) => ({
    id: `p${String(index).padStart(5, '0')}`,
    question:
      index % drawEvery === 0
        ? `[draw] A ball of mass ${(index % 9) + 1} kg hangs from a string. Draw the setup.`
        : `[abstract] Discuss the meaning of energy conservation in general (problem ${index}).`,
  }));
}

const CLASSIFY_DRAW =
  '{"visualizable": true, "reason": "a concrete setup", "subject": "Physics", "image_type": "Physics - Mechanical"}';
const CLASSIFY_ABSTRACT =
  '{"visualizable": false, "reason": "abstract discussion", "subject": "Physics", "image_type": "Physics - Mechanical"}';
const PLAN = '{"content": ["a ball on a string"], "layout": ["centre"], "labels": ["m"], "constraints": ["no answer"]}';
const CODE =
  '```python\nimport matplotlib.pyplot as plt\nfig, ax = plt.subplots(figsize=(3, 3))\nax.plot([0, 0], [0, -1], color="black")\nax.add_patch(plt.Circle((0, -1.1), 0.1))\nax.text(0.15, -1.1, "m")\nax.set_xlim(-1, 1)\nax.set_ylim(-1.5, 0.2)\n```';
const JUDGE =
  'Clear. {"Correctness_Fidelity": 2, "Layout_Precision": 2, "Readability_Occlusion": 2, "Scientific_Plausibility": 2, "Expressiveness_Richness": 2}';
const QUIZ =
  '{"quizzes": [{"question": "What hangs from the string?", "options": {"A": "a ball", "B": "a box", "C": "a spring", "D": "nothing"}, "correct_option": "A"}]}';

export const syntheticScript: Script = {
  problems: {
    '*': {
      classify: [
        { when: '[draw]', text: CLASSIFY_DRAW },
        { when: '[abstract]', text: CLASSIFY_ABSTRACT },
      ],
      plan: PLAN,
      code: CODE,
      repair: CODE,
      judge: JUDGE,
      quiz: QUIZ,
      answer: 'A ball is drawn. Answer: A',
    },
  },
};
