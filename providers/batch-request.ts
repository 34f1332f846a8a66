import { ApplicationFailure } from '@temporalio/common';
import { parseBatchCustomId } from '../domain/batch.ts';
import type { Step } from '../domain/types.ts';
import type { BatchFailure, BatchKind, BatchLine } from './batch.ts';

/**
 * The kind of a batch's lines. Both services take one endpoint per batch, so a mix of kinds is a
 * caller's mistake (a plain Error); one model per batch is left to the service, whose words say it.
 */
export function batchKindOf(lines: readonly BatchLine[]): BatchKind {
  const first = lines[0];
  if (!first) throw new Error('a batch needs at least one line');
  const other = lines.find((line) => line.kind !== first.kind);
  if (other)
    throw new Error(`a batch holds one kind of request: ${other.customId} is ${other.kind}, not ${first.kind}`);
  return first.kind;
}

/** What the step and problem of a result were, for the error context, read back from its custom_id. */
export function resultErrorContext(
  customId: string,
  model: string | undefined,
  apiKey: string,
): { step: Step; problemId: string; model?: string; secrets: string[] } {
  const parsed = parseBatchCustomId(customId);
  return {
    // A custom_id scigen did not write still gets a context: the failure must be reported, not lost.
    step: parsed?.step ?? 'classify',
    problemId: parsed?.problemId ?? customId,
    ...(model ? { model } : {}),
    secrets: [apiKey],
  };
}

/**
 * A request's outcome as a BatchFailure, when reading its response threw what real time would have
 * thrown (a refusal); anything else is a bug and is thrown on.
 */
export function batchFailureOf(error: unknown): BatchFailure {
  if (!(error instanceof ApplicationFailure)) throw error;
  return {
    type: error.type ?? 'ProviderUnexpectedError',
    message: error.message,
    nonRetryable: error.nonRetryable === true,
  };
}
