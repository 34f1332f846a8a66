/** What the scripted endpoint needs from a request once its protocol has accepted it. */
export interface RequestShape {
  model: string;
  /** All text parts, system first, joined by newlines: what `when` is matched against. */
  text: string;
  imageCount: number;
  /** The request asked for JSON in the API's schema mode. */
  structured: boolean;
}

/** Why a protocol refused a request: a 400 in the provider's error shape. */
export interface RequestProblem {
  problem: string;
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
  | { kind: 'refusal'; text: string };

export interface AnswerFacts {
  id: string;
  model: string;
  inputTokens: number;
  outputTokens: number;
}

export interface ErrorFacts {
  status: number;
  message: string;
  param?: string | null;
  openAiCode?: string | null;
  retryAfterSeconds?: number;
  retryAfterMs?: number;
}

export interface ProtocolHandler {
  readRequest(body: unknown, pathModel: string): RequestShape | RequestProblem;
  answerBody(answer: ScriptedAnswer, facts: AnswerFacts): unknown;
  /** The error body, and headers that go with it (Retry-After). */
  errorResponse(facts: ErrorFacts): { body: unknown; headers: Record<string, string> };
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
