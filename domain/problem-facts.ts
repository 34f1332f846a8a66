/**
 * What the problem workflow branches on, read from the problem where it is staged. The workflow
 * never holds the problem's texts: its history would carry them in every run of every problem,
 * and a problem may be as large as a payload allows. Pure, for workflow code too.
 */
import { givenTaxonomy, type Taxonomy } from './taxonomy.ts';
import type { Problem } from './types.ts';

export interface ProblemFacts {
  /** The data's own subject and image type (domain/taxonomy.ts `givenTaxonomy`). */
  given: Taxonomy;
  /** Usable quizzes the problem brought; 0: the quiz step writes them. */
  quizCount: number;
  /** A `multimodal_question` and a non-blank `answer`: the VE step can ask the question and grade the answer. */
  visualQuestion: boolean;
  /** The staged reference image to compare against, when the problem has one. */
  referenceImageKey: string | null;
}

export function problemFacts(problem: Problem): ProblemFacts {
  const { multimodal_question: question, answer } = problem;
  return {
    given: givenTaxonomy(problem),
    quizCount: problem.quizzes?.length ?? 0,
    visualQuestion: question !== undefined && answer !== undefined && answer.trim() !== '',
    referenceImageKey: problem.reference_image_key ?? null,
  };
}
