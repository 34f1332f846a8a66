/** What the scripted endpoint needs from a request once its protocol has accepted it. */
export interface RequestShape {
  model: string;
  /** All text parts, system first, joined by newlines: what `when` is matched against. */
  text: string;
  imageCount: number;
  /** The bytes of the images sent inline, in order (what a vision model would look at). */
  images?: Uint8Array[];
  /** The request asked for JSON in the API's schema mode. */
  structured: boolean;
  /** The request asks for a picture: the size the API would draw and the output tokens it bills for it. */
  imageOutput?: {
    width: number;
    height: number;
    tokens: number;
    /** Text may come along (Gemini's TEXT modality). */ withText: boolean;
  };
}

/** Why a protocol refused a request: a 400 (or `status`) in the provider's error shape. */
export interface RequestProblem {
  problem: string;
  /** The status the server answers it with, where not 400 (llama-cpp-python's 500 on a validation error). */
  status?: number;
  /** The offending field, as the API names it in its error body. */
  param: string | null;
  /** OpenAI's `error.code` for it, where the API sets one. */
  code?: string;
}

/** What the "model" answers. */
export type ScriptedAnswer =
  | { kind: 'text'; text: string }
  | { kind: 'truncated'; text: string }
  | { kind: 'empty' }
  | { kind: 'safety' }
  | { kind: 'refusal'; text: string }
  /** An image request's answer: the picture (null: the model sent words only) and any text. */
  | { kind: 'image'; image: { data: Uint8Array; mimeType: string } | null; text: string };

export interface AnswerFacts {
  id: string;
  model: string;
  inputTokens: number;
  /** All output tokens, the image's included. */
  outputTokens: number;
  /** The part of outputTokens that is the picture; 0 for text answers. */
  imageOutputTokens: number;
  /** What the request asked to draw, when it asked for a picture (a safety block then names the image). */
  imageOutput: RequestShape['imageOutput'];
}

export interface ErrorFacts {
  status: number;
  message: string;
  param?: string | null;
  openAiCode?: string | null;
  /** OpenAI's `error.type`, where it is not the one the status implies. */
  openAiType?: string;
  retryAfterSeconds?: number;
  retryAfterMs?: number;
}

export interface ProtocolHandler {
  readRequest(body: unknown, pathModel: string): RequestShape | RequestProblem;
  answerBody(answer: ScriptedAnswer, facts: AnswerFacts): unknown;
  /** The error body, and headers that go with it (Retry-After). */
  errorResponse(facts: ErrorFacts): { body: unknown; headers: Record<string, string> };
  /** An answer this API sends as an HTTP error instead of a 200 (the images API's safety block). */
  answerAsError?(answer: ScriptedAnswer): ErrorFacts | undefined;
}

export function isRequestProblem(shape: RequestShape | RequestProblem): shape is RequestProblem {
  return 'problem' in shape;
}

/** Roughly what the real tokenizers give for English: four characters a token. */
export function countTokens(text: string): number {
  return Math.ceil(text.length / 4);
}

/** A fixed token charge per image, close to what the real APIs bill for a small image. */
export const TOKENS_PER_IMAGE = 258;

/** Inline images above this are refused by both APIs (20 MB request limits). */
export const MAX_INLINE_IMAGE_BYTES = 20 * 1024 * 1024;

export function retryAfterHeaders(facts: ErrorFacts): Record<string, string> {
  const headers: Record<string, string> = {};
  if (facts.retryAfterSeconds !== undefined) headers['retry-after'] = String(facts.retryAfterSeconds);
  if (facts.retryAfterMs !== undefined) headers['retry-after-ms'] = String(facts.retryAfterMs);
  return headers;
}
