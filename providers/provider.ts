import type { Step } from '../domain/types.ts';

/** A piece of a model request: text, or an image sent inline. */
export type ModelPart =
  | { type: 'text'; text: string }
  | { type: 'image'; mimeType: 'image/png' | 'image/jpeg'; data: Uint8Array };

export interface ModelRequest {
  /** Which pipeline step asks; sent as the `x-scigen-step` header. */
  step: Step;
  /** The problem this request is for; sent as the `x-scigen-problem` header. */
  problemId: string;
  model: string;
  /** Instructions, sent as the system message / systemInstruction. */
  system?: string;
  /** The user turn. */
  parts: ModelPart[];
  temperature?: number;
  /** Aborts the HTTP request (activity cancellation). */
  signal?: AbortSignal;
}

export interface ModelResponse {
  text: string;
  usage: { inputTokens: number; outputTokens: number };
  /** The model that answered, as the provider reports it. */
  model: string;
}

/**
 * One small interface over every model provider. Implementations make exactly one HTTP
 * request per call (SDK retries off) and throw an ApplicationFailure sorted by
 * `sortProviderError`: Temporal is the only retry layer.
 */
export interface ModelProvider {
  readonly name: 'openai' | 'gemini';
  generate(request: ModelRequest): Promise<ModelResponse>;
}
