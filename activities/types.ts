import type { Problem, Usage } from '../domain/types.ts';
import type { ArtifactStore } from '../storage/artifact-store.ts';
import type { ModelCallSettings } from './model-call.ts';
import type { Prompts } from './prompts.ts';
import { stagedProblemKey, type GeneratorLocation, type ProblemLocation } from '../storage/build-layout.ts';

/**
 * What a model step returns: a value, or a reason the model's answer could not be used.
 * An unusable answer is a business outcome the workflow decides on, not a fault for Temporal to retry.
 */
export type StepOutcome<T> = ({ ok: true; value: T } | { ok: false; reason: string }) & { usage: Usage };

/**
 * Names one problem of a build: its place in the artifact store and its original id (sent as the
 * `x-scigen-problem` header). Activities read the problem itself from its staged record, so a
 * workflow's history holds the user's data once, in the problem workflow's input.
 */
export interface ProblemRef extends ProblemLocation {
  problemId: string | number;
}

/** Names one generator's work on one problem. */
export interface GeneratorRef extends ProblemRef, GeneratorLocation {}

/** The problem as the problem workflow staged it (activities/record.ts stageProblem). */
export async function readStagedProblem(store: ArtifactStore, problem: ProblemLocation): Promise<Problem> {
  return JSON.parse(await store.getText(stagedProblemKey(problem))) as Problem;
}

/** What every model step is built with: the model calls' settings, the prompts and the artifact store. */
export interface ModelStepDependencies {
  model: ModelCallSettings;
  prompts: Prompts;
  store: ArtifactStore;
}
