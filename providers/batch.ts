import type { ImageRequest, ImageResponse, ModelRequest, ModelResponse } from './provider.ts';
import { geminiInlinedRequestBytes } from './gemini-batch.ts';
import { openAiBatchLineBytes } from './openai-batch.ts';

export type BatchKind = 'text' | 'image';

/** One request of a batch: its custom_id (`scigen:<step>:<problem-id>:<attempt>`) and the request (no signal). */
export type BatchLine =
  | { customId: string; kind: 'text'; request: Omit<ModelRequest, 'signal'> }
  | { customId: string; kind: 'image'; request: Omit<ImageRequest, 'signal'> };

export type BatchStatus =
  'validating' | 'in_progress' | 'finalizing' | 'completed' | 'failed' | 'expired' | 'cancelling' | 'cancelled';

export interface BatchState {
  id: string;
  status: BatchStatus;
  /**
   * What the provider reports. Gemini's SDK passes on no counts while a batch runs (batchStats is
   * not mapped), so there they are counted from the inlined responses once the batch has ended.
   */
  counts: { total: number; completed: number; failed: number };
  /** true once no further change will come (completed, failed, expired, cancelled). */
  ended: boolean;
  /** The provider's own words when the whole batch failed (validation errors etc.). */
  errors: string[];
}

/** Why one request of a batch failed, as the same error would have failed it in real time. */
export interface BatchFailure {
  /** The ApplicationFailure type real time would throw (ProviderRateLimited, ProviderBadRequest, …). */
  type: string;
  message: string;
  nonRetryable: boolean;
}

/** A finished request's outcome. Requests that never ran (expired/cancelled batch) have no entry. */
export type BatchResult =
  | { customId: string; ok: true; kind: 'text'; response: ModelResponse }
  | { customId: string; ok: true; kind: 'image'; response: ImageResponse }
  | { customId: string; ok: false; failure: BatchFailure };

export interface BatchClient {
  readonly provider: 'openai' | 'gemini';
  /** Limits of one batch on this provider (requests, bytes of the upload / inlined body). */
  readonly limits: { maxRequests: number; maxBytes: number };
  /**
   * Every line must have the same kind and model (both services require one model per batch).
   * Idempotent by submissionKey: if a batch with this key already exists (found through the
   * provider's list call and the batch's metadata / display name), returns it instead of creating
   * another.
   */
  submit(lines: BatchLine[], options: { submissionKey: string; signal?: AbortSignal }): Promise<{ id: string }>;
  find(submissionKey: string): Promise<{ id: string } | null>;
  get(id: string): Promise<BatchState>;
  results(id: string): Promise<BatchResult[]>;
  cancel(id: string): Promise<void>;
}

/** The bytes a line takes in this provider's upload (for cutting batches by size). */
export function batchLineBytes(provider: 'openai' | 'gemini', line: BatchLine): number {
  return provider === 'openai' ? openAiBatchLineBytes(line) : geminiInlinedRequestBytes(line);
}
