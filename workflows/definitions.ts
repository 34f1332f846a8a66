import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import { defineQuery } from '@temporalio/workflow';
import type { FilterPolicy, Problem, Usage, Verdict } from '../domain/types.ts';

/** Search attributes on every problem workflow, so users can list "every failed physics problem of a build". */
export const searchAttributes = {
  buildId: defineSearchAttributeKey('ScigenBuildId', SearchAttributeType.KEYWORD),
  subject: defineSearchAttributeKey('ScigenSubject', SearchAttributeType.KEYWORD),
  imageType: defineSearchAttributeKey('ScigenImageType', SearchAttributeType.KEYWORD),
  stage: defineSearchAttributeKey('ScigenStage', SearchAttributeType.KEYWORD),
  verdict: defineSearchAttributeKey('ScigenVerdict', SearchAttributeType.KEYWORD),
  renderAttempts: defineSearchAttributeKey('ScigenRenderAttempts', SearchAttributeType.INT),
  rInv: defineSearchAttributeKey('ScigenRInv', SearchAttributeType.DOUBLE),
} as const;

/** The same attributes by name and type, for registering them on a server. */
export const SEARCH_ATTRIBUTE_TYPES: Record<string, 'Keyword' | 'Int' | 'Double'> = {
  ScigenBuildId: 'Keyword',
  ScigenSubject: 'Keyword',
  ScigenImageType: 'Keyword',
  ScigenStage: 'Keyword',
  ScigenVerdict: 'Keyword',
  ScigenRenderAttempts: 'Int',
  ScigenRInv: 'Double',
};

export interface TaskQueues {
  workflows: string;
  llm: string;
  render: string;
}

/** The per-problem settings a build hands each child; small, and free of secrets. */
export interface ProblemSettings {
  policy: FilterPolicy;
  /** First code plus repairs. */
  maxRenderAttempts: number;
  dpi: number;
  renderTimeoutSeconds: number;
  llmMaxAttempts: number;
  llmTimeoutSeconds: number;
  taskQueues: TaskQueues;
}

export interface ProblemWorkflowInput {
  buildId: string;
  /** Filesystem- and id-safe form of problem.id (domain/input.ts problemKey). */
  problemKey: string;
  problem: Problem;
  settings: ProblemSettings;
}

export interface ProblemWorkflowOutput {
  id: string | number;
  verdict: Verdict;
  usage: Usage;
}

export interface DatasetBuildInput {
  buildId: string;
  /** Artifact key of the staged, validated problems (JSONL), read in pages by an activity. */
  inputKey: string;
  problemCount: number;
  /** Invalid input lines recorded with verdict `invalid` (--skip-invalid). */
  invalidCount: number;
  /** Children in flight at once. */
  concurrency: number;
  settings: ProblemSettings;
}

export interface DatasetBuildOutput {
  buildId: string;
  manifestUri: string;
  summaryUri: string;
  counts: Record<Verdict, number>;
  usage: Usage;
}

export interface BuildProgress {
  buildId: string;
  total: number;
  completed: number;
  inFlight: number;
  counts: Record<Verdict, number>;
  usage: Usage;
  phase: 'running' | 'finalizing' | 'finished';
}

export const progressQuery = defineQuery<BuildProgress>('progress');

export function buildWorkflowId(buildId: string): string {
  return `build/${buildId}`;
}

export function problemWorkflowId(buildId: string, problemKey: string): string {
  return `build/${buildId}/problem/${problemKey}`;
}
