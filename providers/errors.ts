import { ApiError as GeminiApiError } from '@google/genai';
import { ApplicationFailure } from '@temporalio/common';
import { APIConnectionError, APIConnectionTimeoutError, APIError, APIUserAbortError, BadRequestError } from 'openai';
import type { Step, Usage } from '../domain/types.ts';
import type { TokenUsage } from './provider.ts';

/** Failure types Temporal should retry: the same request may well succeed a little later. */
export const RETRYABLE_PROVIDER_ERROR_TYPES = [
  'ProviderRateLimited',
  'ProviderUnavailable',
  'ProviderTimeout',
  'ProviderConnectionError',
  // Something the sorter did not recognise (a proxy answering HTML with 200, an SDK change);
  // retried a bounded number of times rather than failing the problem on the first surprise.
  'ProviderUnexpectedError',
] as const;

/**
 * Failure types that fail the step for good: asking again gives the same answer. An empty or
 * cut-off answer is neither: it is a parse failure of the step (activities/model-call.ts).
 * Only the server can overrule these lists, through OpenAI's `x-should-retry` header.
 */
export const NON_RETRYABLE_PROVIDER_ERROR_TYPES = [
  'ProviderAuthError',
  'ProviderBadRequest',
  'ProviderNotFound',
  'ProviderRefused',
] as const;

export type RetryableProviderErrorType = (typeof RETRYABLE_PROVIDER_ERROR_TYPES)[number];
export type NonRetryableProviderErrorType = (typeof NON_RETRYABLE_PROVIDER_ERROR_TYPES)[number];
export type ProviderErrorType = RetryableProviderErrorType | NonRetryableProviderErrorType;

export type ProviderName = 'openai' | 'gemini';

export interface ProviderErrorContext {
  step: Step;
  problemId: string;
  /** The model asked; named in messages where it is the likely cause (404, 403). */
  model?: string;
  /** The client's deadline for one request, named when it ran out. */
  timeoutMs?: number;
  /** Values that must never reach a message or detail (the API key); removed wherever they occur. */
  secrets?: readonly string[];
}

/** The one detail record every provider failure carries; plain JSON for Temporal's converter. */
export interface ProviderFailureDetails {
  provider: ProviderName;
  step: Step;
  problemId: string;
  model?: string;
  status?: number;
  retryAfterMs?: number;
  /** The provider's own explanation, with anything that looks like a key removed. */
  providerMessage?: string;
  providerCode?: string;
  requestId?: string;
  /** What the server's `x-should-retry` header said, when it said anything; it decided retryability. */
  serverSaysRetry?: boolean;
  /**
   * Tokens the provider billed for a response that still failed the step (a refusal). The
   * provider fills the tokens; callModel adds the cost; the workflow adds it to the problem.
   */
  usage?: Usage;
}

export interface ProviderFailureOptions {
  provider: ProviderName;
  type: ProviderErrorType;
  message: string;
  context: ProviderErrorContext;
  status?: number;
  retryAfterMs?: number;
  providerMessage?: string;
  providerCode?: string;
  requestId?: string;
  usage?: Usage;
  /** The server's own verdict (OpenAI's `x-should-retry`); wins over the type's retryability. */
  serverSaysRetry?: boolean;
  /** The SDK's error, kept as the failure's cause with secrets removed from its message and stack. */
  cause?: unknown;
}

export function isRetryableProviderErrorType(type: string): type is RetryableProviderErrorType {
  return (RETRYABLE_PROVIDER_ERROR_TYPES as readonly string[]).includes(type);
}

/**
 * Builds the ApplicationFailure for a provider problem. Retryability follows from the type, unless
 * the server said otherwise (`serverSaysRetry`), as the openai SDK's own retry logic lets it.
 * Messages are written for the manifest, where the workflow prefixes the step
 * ("plan: invalid API key for openai (401)").
 */
export function createProviderFailure(options: ProviderFailureOptions): ApplicationFailure {
  const { provider, type, context } = options;
  const retryable = options.serverSaysRetry ?? isRetryableProviderErrorType(type);
  const details: ProviderFailureDetails = { provider, step: context.step, problemId: context.problemId };
  if (context.model) details.model = context.model;
  if (options.status !== undefined) details.status = options.status;
  if (options.retryAfterMs !== undefined) details.retryAfterMs = options.retryAfterMs;
  if (options.providerMessage) details.providerMessage = redactSecrets(options.providerMessage, context.secrets);
  if (options.providerCode) details.providerCode = redactSecrets(options.providerCode, context.secrets);
  if (options.requestId) details.requestId = options.requestId;
  if (options.usage) details.usage = options.usage;
  if (options.serverSaysRetry !== undefined) details.serverSaysRetry = options.serverSaysRetry;
  return ApplicationFailure.create({
    type,
    message: redactSecrets(options.message, context.secrets),
    nonRetryable: !retryable,
    // A delay the server asked for only matters when Temporal will retry at all.
    nextRetryDelay: retryable ? options.retryAfterMs : undefined,
    details: [details],
    ...(options.cause === undefined ? {} : { cause: causeWithoutSecrets(options.cause, context.secrets) }),
  });
}

/** Token counts of a billed answer that failed the step, in the manifest's form; callModel fills in the cost. */
export function billedUsage(usage: TokenUsage): Usage {
  return { input_tokens: usage.inputTokens, output_tokens: usage.outputTokens, cost_usd: 0 };
}

/** The provider details of a failure built by createProviderFailure, if it is one. */
export function providerFailureDetails(failure: ApplicationFailure): ProviderFailureDetails | undefined {
  const first = failure.details?.[0];
  return isRecord(first) && (first['provider'] === 'openai' || first['provider'] === 'gemini')
    ? (first as unknown as ProviderFailureDetails)
    : undefined;
}

/** What a provider's request tells its errors: the step, the problem, the model, the client's deadline and its key (hidden). */
export function requestErrorContext(
  request: { step: Step; problemId: string; model?: string },
  client: { timeoutMs?: number; apiKey: string },
): ProviderErrorContext {
  return {
    step: request.step,
    problemId: request.problemId,
    ...(request.model === undefined ? {} : { model: request.model }),
    ...(client.timeoutMs === undefined ? {} : { timeoutMs: client.timeoutMs }),
    secrets: [client.apiKey],
  };
}

/**
 * A failed request as its activity should see it. Cancellation is not a provider fault: it keeps
 * Temporal's own reason (a CancelledFailure inside an activity), so the activity reports cancelled
 * instead of failed; anything else is sorted by the provider's sorter.
 */
export function failureOfRequest(
  error: unknown,
  signal: AbortSignal | undefined,
  sort: (error: unknown) => ApplicationFailure,
): unknown {
  if (signal?.aborted) return signal.reason ?? error;
  return sort(error);
}

/** Sorts anything the openai SDK threw into a provider failure, by the SDK's own error classes. */
export function sortOpenAiError(error: unknown, context: ProviderErrorContext): ApplicationFailure {
  if (error instanceof ApplicationFailure) return error;
  const provider = 'openai';
  // The connection classes extend APIError without a status: they are sorted before it.
  if (error instanceof APIConnectionTimeoutError) return timeoutFailure(provider, context, error);
  if (error instanceof APIUserAbortError) {
    return createProviderFailure({
      provider,
      type: 'ProviderConnectionError',
      message: `the request to ${provider} was aborted`,
      context,
      cause: error,
    });
  }
  if (error instanceof APIConnectionError) return failureForTransport(provider, context, error);
  if (error instanceof APIError && error.status !== undefined) {
    const body = isRecord(error.error) ? error.error : undefined;
    // llama.cpp's llama-server puts its HTTP status in `code` as a number, which the SDK types as a string.
    const code = codeText(error.code) ?? codeText(error.type);
    return failureForStatus({
      provider,
      context,
      status: error.status,
      kind: statusKind(error.status),
      retryAfterMs: retryDelayFromHeaders(error.headers),
      providerMessage: stringField(body, 'message'),
      providerCode: code,
      requestId: error.requestID ?? undefined,
      serverSaysRetry: shouldRetryHeader(error.headers),
      // The images API answers a prompt its safety system blocks with a 400 and one of these codes.
      refused: error instanceof BadRequestError && OPENAI_REFUSAL_CODES.has(error.code ?? ''),
      cause: error,
    });
  }
  return failureForTransport(provider, context, error);
}

/**
 * OpenAI's `x-should-retry` ("true" / "false"): the server's own word on whether asking again can
 * help, which the openai SDK obeys before looking at the status (client.ts shouldRetry).
 */
function shouldRetryHeader(headers: Headers | undefined): boolean | undefined {
  const value = headers?.get('x-should-retry');
  return value === 'true' ? true : value === 'false' ? false : undefined;
}

/** Sorts anything @google/genai (or its fetch) threw into a provider failure. */
export function sortGeminiError(error: unknown, context: ProviderErrorContext): ApplicationFailure {
  if (error instanceof ApplicationFailure) return error;
  const provider = 'gemini';
  if (error instanceof GeminiApiError) {
    // genai's ApiError keeps no headers (throwErrorIfNotOK stringifies the JSON body into the
    // message); the body is where the Gemini API puts retry hints (google.rpc.RetryInfo) and
    // the reason a key was rejected (google.rpc.ErrorInfo).
    const body = parseGoogleErrorBody(error.message);
    // The Gemini API answers a bad key with 400 INVALID_ARGUMENT, reason API_KEY_INVALID.
    const keyRejected = body.reason === 'API_KEY_INVALID' || /api key not valid/i.test(body.message ?? '');
    return failureForStatus({
      provider,
      context,
      status: error.status,
      kind: keyRejected ? 'auth' : statusKind(error.status),
      retryAfterMs: body.retryAfterMs,
      providerMessage: body.message,
      providerCode: body.reason ?? body.status,
      requestId: undefined,
      serverSaysRetry: undefined,
      refused: false,
      cause: error,
    });
  }
  return failureForTransport(provider, context, error);
}

/**
 * How long the server asked us to wait: `retry-after-ms`, else `Retry-After` (seconds or an
 * HTTP date), else, when a limit is exhausted, OpenAI's `x-ratelimit-reset-requests` /
 * `x-ratelimit-reset-tokens` ("1s", "6m0s", "20ms"). Undefined when absent or unreadable.
 */
export function retryDelayFromHeaders(headers: HeaderReader | undefined): number | undefined {
  if (!headers) return undefined;
  const milliseconds = Number.parseFloat(headers.get('retry-after-ms') ?? '');
  if (Number.isFinite(milliseconds) && milliseconds > 0) return Math.round(milliseconds);
  const retryAfter = headers.get('retry-after')?.trim();
  if (retryAfter) {
    if (/^\d+(\.\d+)?$/.test(retryAfter)) {
      const seconds = Number.parseFloat(retryAfter);
      if (seconds > 0) return Math.round(seconds * 1000);
    } else {
      const untilDate = Date.parse(retryAfter) - Date.now();
      if (untilDate > 0) return untilDate;
    }
  }
  let reset: number | undefined;
  for (const limit of ['requests', 'tokens']) {
    if (headers.get(`x-ratelimit-remaining-${limit}`)?.trim() !== '0') continue;
    const delay = parseResetDuration(headers.get(`x-ratelimit-reset-${limit}`));
    if (delay !== undefined) reset = Math.max(reset ?? 0, delay);
  }
  return reset;
}

/** "1s", "6m0s", "1h2m3.5s", "20ms" -> milliseconds. */
function parseResetDuration(value: string | null): number | undefined {
  const text = value?.trim();
  if (!text || !/^(\d+(\.\d+)?(h|ms|m|s))+$/.test(text)) return undefined;
  const unitMilliseconds: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1_000, ms: 1 };
  let total = 0;
  for (const match of text.matchAll(/(\d+(?:\.\d+)?)(h|ms|m|s)/g))
    total += Number.parseFloat(match[1]!) * unitMilliseconds[match[2]!]!;
  return total > 0 ? Math.round(total) : undefined;
}

/** Removes the given secrets and anything shaped like an API key or bearer token. */
export function redactSecrets(text: string, secrets: readonly string[] = []): string {
  let redacted = text;
  for (const secret of secrets) {
    if (secret.length >= 4) redacted = redacted.split(secret).join('[redacted]');
  }
  return redacted
    .replace(/Bearer\s+[^\s"',]+/gi, 'Bearer [redacted]')
    .replace(/\bsk-[A-Za-z0-9_*-]{6,}/g, '[redacted]')
    .replace(/\bAIza[A-Za-z0-9_-]{10,}/g, '[redacted]');
}

/** Reads response headers: the fetch Headers both SDKs use. */
interface HeaderReader {
  get(name: string): string | null;
}

/** What an HTTP error status means for scigen; both SDKs' errors are reduced to one of these. */
type StatusKind =
  | 'auth'
  | 'forbidden'
  | 'rate-limited'
  | 'not-found'
  | 'conflict'
  | 'unprocessable'
  | 'unavailable'
  | 'bad-request'
  | 'timeout'
  | 'too-large'
  | 'unexpected';

function statusKind(status: number): StatusKind {
  if (status === 401) return 'auth';
  if (status === 403) return 'forbidden';
  if (status === 429) return 'rate-limited';
  if (status === 404) return 'not-found';
  if (status === 408) return 'timeout';
  if (status === 409) return 'conflict';
  if (status === 413) return 'too-large';
  if (status === 422) return 'unprocessable';
  if (status >= 500) return 'unavailable';
  if (status >= 400) return 'bad-request';
  return 'unexpected';
}

interface StatusFacts {
  provider: ProviderName;
  context: ProviderErrorContext;
  status: number;
  kind: StatusKind;
  retryAfterMs: number | undefined;
  providerMessage: string | undefined;
  providerCode: string | undefined;
  requestId: string | undefined;
  serverSaysRetry: boolean | undefined;
  /** The provider declined the content (a safety block sent as an HTTP error). */
  refused: boolean;
  cause: unknown;
}

const OPENAI_REFUSAL_CODES = new Set(['moderation_blocked', 'content_policy_violation']);

/**
 * The words of a 5xx that says the request itself cannot be served, whatever the server's load:
 * the model cannot take an image, the request does not validate, the chat template rejects the
 * messages. Asking again gets the same answer, so such a 5xx is not retried. OpenAI-compatible
 * servers answer these with 500 rather than 400; the servers' own words are in
 * test/unit/providers.test.ts.
 */
const UNSERVABLE_REQUEST_PATTERNS: readonly RegExp[] = [
  // llama.cpp's llama-server without a vision projector: "image input is not supported - hint: …
  // you may need to provide the mmproj".
  /image input is not supported/i,
  /\bmmproj\b/i,
  // Request validation errors, which llama-cpp-python's server answers with 500: FastAPI's
  // "1 validation error:\n  {'type': 'literal_error', 'loc': ('body', 'response_format', 'type'),
  // 'msg': \"Input should be 'text' or 'json_object'\", …}" (0.3.36, test/integration/llama-server.test.ts),
  // pydantic's own "1 validation error for <model>".
  /\bvalidation errors?(?::| for\b)/i,
  /\bInput should be\b/,
  // Chat templates (Jinja in llama.cpp, llama-cpp-python and vLLM) refusing the messages.
  /\bchat template\b/i,
  /\bjinja\b/i,
  /\bconversation roles must alternate\b/i,
];

/** Whether a 5xx's message says the request can never be served (UNSERVABLE_REQUEST_PATTERNS). */
function isUnservableRequest(providerMessage: string | undefined): boolean {
  return providerMessage !== undefined && UNSERVABLE_REQUEST_PATTERNS.some((pattern) => pattern.test(providerMessage));
}

function failureForStatus(facts: StatusFacts): ApplicationFailure {
  const { provider, context, status, retryAfterMs } = facts;
  // The server's explanation, on one line: every reason in the manifest carries it (auth aside).
  const explanation = facts.providerMessage?.replace(/\s+/g, ' ').trim();
  const because = explanation ? `: ${truncate(explanation, 300)}` : '';
  const model = context.model ? ` "${context.model}"` : '';
  const build = (type: ProviderErrorType, message: string): ApplicationFailure =>
    createProviderFailure({
      provider,
      type,
      message,
      context,
      status,
      retryAfterMs,
      providerMessage: facts.providerMessage,
      providerCode: facts.providerCode,
      requestId: facts.requestId,
      ...(facts.serverSaysRetry === undefined ? {} : { serverSaysRetry: facts.serverSaysRetry }),
      cause: facts.cause,
    });
  const retryHint = retryAfterMs === undefined ? '' : `, retry after ${formatSeconds(retryAfterMs)}`;

  // Auth messages leave out the provider's text: some providers echo part of the key back.
  if (facts.kind === 'auth') return build('ProviderAuthError', `invalid API key for ${provider} (${status})`);
  if (facts.refused)
    return build('ProviderRefused', `model refused: safety (${provider} ${facts.providerCode ?? status})`);
  switch (facts.kind) {
    case 'forbidden':
      return build('ProviderAuthError', `API key for ${provider} may not use model${model} (${status})`);
    case 'rate-limited':
      return build('ProviderRateLimited', `rate limited by ${provider} (${status})${retryHint}${because}`);
    case 'timeout':
      return build('ProviderTimeout', `${provider} timed out on its side (${status})${retryHint}${because}`);
    case 'conflict':
      return build(
        'ProviderUnavailable',
        `${provider} busy with a conflicting request (${status})${retryHint}${because}`,
      );
    case 'unavailable':
      if (isUnservableRequest(explanation))
        return build('ProviderBadRequest', `${provider} cannot serve the request (${status})${because}`);
      return build('ProviderUnavailable', `${provider} unavailable (${status})${retryHint}${because}`);
    case 'not-found':
      return build('ProviderNotFound', `${provider} has no model${model} or no such endpoint (${status})${because}`);
    case 'too-large':
      return build('ProviderBadRequest', `request too large for ${provider} (${status})${because}`);
    case 'unprocessable':
      return build('ProviderBadRequest', `${provider} could not process the request (${status})${because}`);
    case 'bad-request':
      return build('ProviderBadRequest', `${provider} rejected the request (${status})${because}`);
    case 'unexpected':
      return build('ProviderUnexpectedError', `${provider} answered with unexpected status ${status}${because}`);
  }
}

function timeoutFailure(provider: ProviderName, context: ProviderErrorContext, cause: unknown): ApplicationFailure {
  const within = context.timeoutMs === undefined ? 'in time' : `within ${formatSeconds(context.timeoutMs)}`;
  const code = causeChain(cause)
    .map((link) => stringField(link, 'code'))
    .find((found) => found !== undefined);
  return createProviderFailure({
    provider,
    type: 'ProviderTimeout',
    message: `${provider} did not answer ${within}`,
    context,
    ...(code ? { providerCode: code } : {}),
    cause,
  });
}

// Below the SDKs, fetch (undici) fails with a TypeError whose cause chain holds Node's system
// error codes (ECONNRESET, …) or undici's own (UND_ERR_*), and a deadline aborts it with a
// DOMException named AbortError or TimeoutError. Those codes and names are Node's stable API.
const TIMEOUT_NAMES = new Set(['AbortError', 'TimeoutError']);
const TIMEOUT_CODES = new Set([
  'ETIMEDOUT',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);
const RESET_CODES = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED']);
const REFUSED_CODES = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EHOSTDOWN']);
const LOOKUP_CODES = new Set(['ENOTFOUND', 'EAI_AGAIN']);

function failureForTransport(
  provider: ProviderName,
  context: ProviderErrorContext,
  error: unknown,
): ApplicationFailure {
  const chain = causeChain(error);
  const codes = chain.map((link) => stringField(link, 'code')).filter((code): code is string => code !== undefined);
  const build = (type: ProviderErrorType, message: string, providerCode?: string): ApplicationFailure =>
    createProviderFailure({
      provider,
      type,
      message,
      context,
      cause: error,
      ...(providerCode ? { providerCode } : {}),
    });

  const timedOut =
    chain.some((link) => link instanceof Error && TIMEOUT_NAMES.has(link.name)) ||
    codes.some((code) => TIMEOUT_CODES.has(code));
  if (timedOut) return timeoutFailure(provider, context, error);
  const resetCode = codes.find((code) => RESET_CODES.has(code));
  if (resetCode) return build('ProviderConnectionError', `connection to ${provider} was reset`, resetCode);
  const refusedCode = codes.find((code) => REFUSED_CODES.has(code));
  if (refusedCode)
    return build('ProviderConnectionError', `could not connect to ${provider} (connection refused)`, refusedCode);
  const lookupCode = codes.find((code) => LOOKUP_CODES.has(code));
  if (lookupCode) return build('ProviderConnectionError', `could not resolve the ${provider} host`, lookupCode);
  if (
    error instanceof APIConnectionError ||
    chain.some((link) => link instanceof TypeError && /fetch failed|terminated/i.test(link.message))
  ) {
    return build('ProviderConnectionError', `could not reach ${provider}`, codes[0]);
  }
  // A 200 whose body is not the JSON the SDK expects (a proxy's HTML page, a body cut short).
  if (chain.some((link) => link instanceof SyntaxError)) {
    return build('ProviderUnexpectedError', `${provider} sent a response that is not valid JSON`);
  }
  const detail = error instanceof Error ? error.message : String(error);
  return build('ProviderUnexpectedError', `unexpected error from ${provider}: ${truncate(detail, 300)}`);
}

interface GoogleErrorFacts {
  message?: string;
  status?: string;
  reason?: string;
  retryAfterMs?: number;
}

function parseGoogleErrorBody(text: string | undefined): GoogleErrorFacts {
  if (!text) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return { message: text };
  }
  const body = objectField(parsed, 'error');
  const facts: GoogleErrorFacts = { message: stringField(body, 'message'), status: stringField(body, 'status') };
  const details = body && Array.isArray(body['details']) ? (body['details'] as unknown[]) : [];
  for (const detail of details) {
    const kind = stringField(detail, '@type') ?? '';
    if (kind.endsWith('google.rpc.ErrorInfo')) facts.reason = stringField(detail, 'reason');
    if (kind.endsWith('google.rpc.RetryInfo'))
      facts.retryAfterMs = parseGoogleDuration(stringField(detail, 'retryDelay'));
  }
  return facts;
}

/** google.protobuf.Duration in JSON form: "3s", "1.5s". */
function parseGoogleDuration(value: string | undefined): number | undefined {
  const match = value ? /^(\d+(?:\.\d+)?)s$/.exec(value.trim()) : null;
  if (!match?.[1]) return undefined;
  const milliseconds = Math.round(Number.parseFloat(match[1]) * 1000);
  return milliseconds > 0 ? milliseconds : undefined;
}

function causeChain(error: unknown): unknown[] {
  const chain: unknown[] = [];
  let link: unknown = error;
  while (link !== undefined && link !== null && chain.length < 6 && !chain.includes(link)) {
    chain.push(link);
    link = typeof link === 'object' ? (link as { cause?: unknown }).cause : undefined;
  }
  return chain;
}

/**
 * The SDK's error, fit to be a failure's cause. Temporal writes a cause's message and stack, and
 * those of the causes under it, into the workflow history, and an SDK's message can quote the key
 * (the body of a 401), so each link has its secrets removed, in place: the cause stays the SDK's
 * own error class for code that looks at it before it is serialized.
 */
function causeWithoutSecrets(cause: unknown, secrets: readonly string[] = []): Error {
  if (!(cause instanceof Error)) return new Error(redactSecrets(String(cause), secrets));
  const seen = new Set<Error>();
  for (let link: unknown = cause; link instanceof Error && !seen.has(link); link = link.cause) {
    seen.add(link);
    const message = redactSecrets(link.message, secrets);
    // defineProperty, not assignment: a DOMException's message is a getter on its prototype.
    if (message !== link.message)
      Object.defineProperty(link, 'message', { value: message, writable: true, configurable: true });
    if (link.stack !== undefined) {
      const stack = redactSecrets(link.stack, secrets);
      if (stack !== link.stack)
        Object.defineProperty(link, 'stack', { value: stack, writable: true, configurable: true });
    }
  }
  return cause;
}

function codeText(value: unknown): string | undefined {
  return typeof value === 'string' ? value : typeof value === 'number' ? String(value) : undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function objectField(value: unknown, key: string): Record<string, unknown> | undefined {
  if (!isRecord(value)) return undefined;
  const field = value[key];
  return typeof field === 'object' && field !== null ? (field as Record<string, unknown>) : undefined;
}

function stringField(value: unknown, key: string): string | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const field = (value as Record<string, unknown>)[key];
  return typeof field === 'string' ? field : undefined;
}

export function formatSeconds(milliseconds: number): string {
  return `${Math.round(milliseconds / 100) / 10}s`;
}

function truncate(text: string, limit: number): string {
  return text.length <= limit ? text : `${text.slice(0, limit - 1)}…`;
}
