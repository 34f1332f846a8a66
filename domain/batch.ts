/**
 * What a model step and its problem workflow tell each other in batch mode (activities/batch-calls.ts,
 * workflows/batched-steps.ts), and the custom_id that names a batched request to the provider. Pure
 * types and functions: imported by workflow code.
 */
import { STEPS, type Step } from './types.ts';

/** The parts of a batched request's custom_id: the step, its problem, and the problem's count of that step's batched calls. */
export interface BatchCustomId {
  step: Step;
  problemId: string;
  attempt: number;
}

/** The custom_id of a batched request (CONTRACT.md): `scigen:<step>:<problem-id>:<attempt>`. */
export function batchCustomId(request: BatchCustomId): string {
  return `scigen:${request.step}:${request.problemId}:${request.attempt}`;
}

/** The parts of a custom_id; the problem id may itself hold colons. Undefined for another shape. */
export function parseBatchCustomId(customId: string): BatchCustomId | undefined {
  const match = /^scigen:([a-z-]+):(.+):(\d+)$/.exec(customId);
  const step = match?.[1];
  if (!match || !step || !(STEPS as readonly string[]).includes(step)) return undefined;
  return { step: step as Step, problemId: match[2]!, attempt: Number(match[3]) };
}

/** What a problem workflow adds to a model step's input in batch mode. */
export interface BatchCallOptions {
  /** The problem's sequence number of this step invocation: the same request asked in another invocation is a new call. */
  seq: number;
  /** Calls without a stored answer go to the provider in real time (the batch gave up on them). */
  realtime?: boolean;
}

/** A request the step could not answer yet: stored at `requestKey`, waiting for a batch. */
export interface DeferredCall {
  requestKey: string;
  kind: 'text' | 'image';
  step: Step;
  model: string;
  /** The request's size as stored (about what it takes in a batch upload). */
  bytes: number;
}

/** A model step's result in batch mode when some of its calls wait for a batch. */
export interface Deferred {
  deferred: DeferredCall[];
}

export function isDeferred(value: unknown): value is Deferred {
  return typeof value === 'object' && value !== null && Array.isArray((value as Partial<Deferred>).deferred);
}

const MEBIBYTE = 1024 * 1024;

/**
 * What one batch may hold on each provider: OpenAI's Batch API takes up to 50,000 requests in an
 * input file of up to 200 MB; Gemini's batch mode takes inlined requests up to 20 MB in all.
 */
export const BATCH_LIMITS = {
  openai: { maxRequests: 50_000, maxBytes: 200 * MEBIBYTE },
  gemini: { maxRequests: 50_000, maxBytes: 20 * MEBIBYTE },
} as const;

/** Batches are cut this far below a provider's byte limit: a request's size in the upload differs a little from its stored size. */
export const BATCH_BYTES_MARGIN = 0.85;
