import type { z } from 'zod';
import type { Step } from '../domain/types.ts';
import type { RequestedJsonMode } from './structured-output.ts';

/** A piece of a model request: text, or an image sent inline. */
export type ModelPart =
  | { type: 'text'; text: string }
  | { type: 'image'; mimeType: 'image/png' | 'image/jpeg' | 'image/webp'; data: Uint8Array };

/**
 * The JSON shape a step's answer must have, for the provider's native schema mode (OpenAI
 * `response_format: json_schema`, Gemini `responseJsonSchema`). The zod schema is the one that
 * validates the answer afterwards, so what is asked for and what is accepted cannot drift apart.
 */
export interface ResponseSchema {
  /** Names the schema for the API: letters, digits, "_" and "-", at most 64 characters. */
  name: string;
  /** An object schema whose JSON Schema form stays inside both APIs' supported subset. */
  schema: z.ZodObject;
}

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
  /** Ask for JSON of this shape, in `structuredOutput`'s mode; absent = free text. */
  responseSchema?: ResponseSchema;
  /**
   * How the request asks for JSON when it has a `responseSchema` (providers/structured-output.ts).
   * @default 'json_schema'
   */
  structuredOutput?: RequestedJsonMode;
  /** This request's deadline, when shorter than the client's (an activity close to its own timeout). */
  timeoutMs?: number;
  /** Aborts the HTTP request (activity cancellation). */
  signal?: AbortSignal;
}

export interface TokenUsage {
  /** Every input token, cached ones included. */
  inputTokens: number;
  /** Output tokens, reasoning/thinking tokens included (both APIs bill them as output). */
  outputTokens: number;
  /** The part of inputTokens served from the provider's prompt cache (billed at a lower rate). */
  cachedInputTokens: number;
  /** The part of outputTokens that is a generated image (billed at the image output rate); absent = none. */
  imageOutputTokens?: number;
}

export interface ModelResponse {
  /** The answer text; '' when the model gave none (see finishReason). */
  text: string;
  usage: TokenUsage;
  /** The model that answered, as the provider reports it. */
  model: string;
  /** The provider's finish reason ("stop", "length", "STOP", "MAX_TOKENS", …); null when there was no choice at all. */
  finishReason: string | null;
  /** The answer stopped at the output token limit, so it is likely cut off mid-way. */
  truncated: boolean;
}

/** The shape of a generated picture: each provider maps it to a size or aspect ratio it accepts. */
export type ImageAspect = 'square' | 'landscape' | 'portrait';

export interface ImageRequest {
  /** Which pipeline step asks (`image`); sent as the `x-scigen-step` header. */
  step: Step;
  /** The problem this request is for; sent as the `x-scigen-problem` header. */
  problemId: string;
  /** An image model: `gpt-image-1`, `gemini-2.5-flash-image`, … */
  model: string;
  /** The whole description of the picture (image APIs take one prompt, no system message). */
  prompt: string;
  /** @default 'square' */
  aspect?: ImageAspect;
  /** Aborts the HTTP request (activity cancellation). */
  signal?: AbortSignal;
}

/** Image bytes as the provider sent them; the mime type is the provider's label, not yet checked. */
export interface GeneratedImage {
  mimeType: string;
  data: Uint8Array;
}

export interface ImageResponse {
  /** The picture; null when the model answered without one (see finishReason and text). */
  image: GeneratedImage | null;
  /** Text the model sent along (Gemini's commentary, OpenAI's revised prompt); '' when none. */
  text: string;
  usage: TokenUsage;
  /** The model that answered, as the provider reports it. */
  model: string;
  /** The provider's finish reason ("STOP", "NO_IMAGE", …); null when it reports none. */
  finishReason: string | null;
}

/**
 * One small interface over every model provider. Implementations make exactly one HTTP
 * request per call (SDK retries off) and throw an ApplicationFailure sorted by the provider's
 * sorting function (providers/errors.ts): Temporal is the only retry layer. Refusals and safety
 * blocks throw too (non-retryable); an empty or cut-off answer is returned, because it is a
 * parse failure of the step, not a provider fault.
 */
export interface ModelProvider {
  readonly name: 'openai' | 'gemini';
  generate(request: ModelRequest): Promise<ModelResponse>;
  /**
   * One picture from an image model, under the same rules as `generate`: one HTTP request,
   * sorted failures, refusals thrown; an answer without a picture is returned (image null).
   */
  generateImage(request: ImageRequest): Promise<ImageResponse>;
}

/** The headers every model request carries (CONTRACT.md, LLM wire contract). */
export function scigenHeaders(request: { step: Step; problemId: string }): Record<string, string> {
  return { 'x-scigen-step': request.step, 'x-scigen-problem': request.problemId };
}

/**
 * One request's abort signal: aborted by the caller's signal (activity cancellation) or once
 * `timeoutMs` passes; `dispose` once the request is over. Built from a plain AbortController on
 * purpose: Node keeps an `AbortSignal.timeout()` or `AbortSignal.any()` signal that has an abort
 * listener (the OpenAI SDK adds one and never removes it) alive until it aborts, and `any()` over
 * a timeout signal that was collected first never does, so each request leaked its signals and the
 * SDK's controller (bench:scale: ~19 per second, the main heap growing without bound).
 */
export function requestDeadline(
  timeoutMs: number,
  callerSignal?: AbortSignal,
): { signal: AbortSignal; expired: () => boolean; dispose: () => void } {
  const controller = new AbortController();
  let expired = false;
  const timer = setTimeout(() => {
    expired = true;
    controller.abort(new DOMException(`no answer within ${timeoutMs} ms`, 'TimeoutError'));
  }, timeoutMs);
  const onCallerAbort = () => controller.abort(callerSignal?.reason);
  if (callerSignal?.aborted) onCallerAbort();
  else callerSignal?.addEventListener('abort', onCallerAbort, { once: true });
  return {
    signal: controller.signal,
    expired: () => expired && !callerSignal?.aborted,
    dispose: () => {
      clearTimeout(timer);
      callerSignal?.removeEventListener('abort', onCallerAbort);
    },
  };
}

/** A request's deadline in milliseconds: the client's, or the request's own when that is shorter. */
export function requestDeadlineMs(request: ModelRequest | ImageRequest, clientTimeoutMs: number): number {
  const own = 'timeoutMs' in request ? request.timeoutMs : undefined;
  return own === undefined ? clientTimeoutMs : Math.max(1, Math.min(own, clientTimeoutMs));
}
