import http from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFile } from 'node:fs/promises';
import { setTimeout as delay } from 'node:timers/promises';
import { z } from 'zod';
import { STEPS } from '../domain/types.ts';
import type { Script, ScriptedFault, ScriptedReply, ScriptedStepReplies } from './script.ts';

export type WireProtocol = 'openai' | 'gemini';

/** One request the endpoint received, whatever came of it. */
export interface RequestLogEntry {
  /** ISO time the request arrived. */
  at: string;
  protocol: WireProtocol | 'unknown';
  step: string | null;
  problem: string | null;
  model: string | null;
  /** HTTP status answered; null when no answer was sent (a 'reset' or 'hang' fault). */
  status: number | null;
  /** Whether a scripted fault answered instead of a reply. */
  faulted: boolean;
}

export interface RequestFilter {
  step?: string;
  problem?: string;
  protocol?: WireProtocol;
}

export interface ScriptedEndpointOptions {
  script: Script;
  /** @default 0 (any free port) */
  port?: number;
  /** @default '127.0.0.1' */
  host?: string;
  /** Added before every scripted answer, to make concurrency visible. @default 0 */
  latencyMs?: number;
}

/** Where faults added at run time apply. */
export interface FaultTarget {
  problem: string;
  step: string;
  /** Only requests whose text contains this. */
  when?: string;
}

export interface ScriptedEndpoint {
  /** e.g. http://127.0.0.1:8799 */
  readonly url: string;
  /** For the openai SDK's baseURL / OPENAI_BASE_URL. */
  readonly openAiBaseUrl: string;
  /** For @google/genai's httpOptions.baseUrl / SCIGEN_GEMINI_BASE_URL. */
  readonly geminiBaseUrl: string;
  /** Every model request received, oldest first; cleared in place by reset(). */
  readonly requests: readonly RequestLogEntry[];
  count(filter?: RequestFilter): number;
  /** Puts faults ahead of the scripted replies of one problem and step. */
  addFaults(target: FaultTarget, ...faults: ScriptedFault[]): void;
  /** Replaces the script; faults start counting afresh. */
  setScript(script: Script): void;
  /** Clears the request log and fault counters. */
  reset(): void;
  close(): Promise<void>;
}

const OPENAI_CHAT_PATH = '/v1/chat/completions';
// The path @google/genai builds: {baseUrl}/{apiVersion}/models/{model}:generateContent.
const GEMINI_GENERATE_PATH = /^\/(v1|v1beta|v1alpha)\/models\/([^/:]+):generateContent$/;
const MAX_BODY_BYTES = 64 * 1024 * 1024;
/** A fixed token charge per image, close to what the real APIs bill for a small image. */
const TOKENS_PER_IMAGE = 258;
const OPENAI_ROLES = ['system', 'developer', 'user', 'assistant', 'tool'];
const GEMINI_ROLES = ['user', 'model'];
const DATA_URL = /^data:image\/[a-z0-9.+-]+;base64,[A-Za-z0-9+/]+={0,2}$/i;
const BASE64 = /^[A-Za-z0-9+/_-]+={0,2}$/;

export async function startScriptedEndpoint(options: ScriptedEndpointOptions): Promise<ScriptedEndpoint> {
  const host = options.host ?? '127.0.0.1';
  const latencyMs = options.latencyMs ?? 0;
  const requests: RequestLogEntry[] = [];
  const faultUses = new Map<ScriptedReply, number>();
  const hanging = new Set<ServerResponse>();
  let replies = normalizeScript(options.script);
  let sequence = 0;

  function selectReply(problem: string, step: string, text: string): ScriptedReply | undefined {
    // Problem-specific replies first, then the '*' fallback, so a problem can script one step
    // (or one `when`) and leave the rest to the shared answers.
    const candidates = [...(replies.get(problem)?.get(step) ?? [])];
    if (problem !== '*') candidates.push(...(replies.get('*')?.get(step) ?? []));
    for (const reply of candidates) {
      if (reply.when !== undefined && !text.includes(reply.when)) continue;
      if (reply.fault) {
        const used = faultUses.get(reply) ?? 0;
        if (used >= (reply.fault.times ?? 1)) continue;
        faultUses.set(reply, used + 1);
        return reply;
      }
      if (reply.text !== undefined) return reply;
    }
    return undefined;
  }

  async function handleModelRequest(
    request: IncomingMessage,
    response: ServerResponse,
    protocol: WireProtocol,
    entry: RequestLogEntry,
    pathModel: string | undefined,
  ): Promise<void> {
    const answerError = (status: number, message: string, extra: ErrorExtra = {}): void => {
      entry.status = status;
      sendError(response, protocol, status, message, extra);
    };

    const body = await readBody(request);
    if (body === undefined) return answerError(413, 'Request body too large.');

    if (!hasCredentials(request, protocol)) {
      return answerError(
        401,
        protocol === 'openai'
          ? 'No API key provided: send it as a bearer token in the Authorization header.'
          : 'No API key provided: send it in the x-goog-api-key header.',
        { openAiCode: 'missing_api_key' },
      );
    }

    const step = headerValue(request, 'x-scigen-step');
    const problem = headerValue(request, 'x-scigen-problem');
    entry.step = step ?? null;
    entry.problem = problem ?? null;
    if (!step || !problem) {
      return answerError(400, 'Every scigen request carries the x-scigen-step and x-scigen-problem headers.', {
        param: step ? 'x-scigen-problem' : 'x-scigen-step',
      });
    }
    if (!(STEPS as readonly string[]).includes(step)) {
      return answerError(400, `Unknown x-scigen-step "${step}"; expected one of ${STEPS.join(', ')}.`, { param: 'x-scigen-step' });
    }

    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch {
      return answerError(400, 'The request body is not valid JSON.');
    }
    const shape = protocol === 'openai' ? readOpenAiRequest(parsed) : readGeminiRequest(parsed, pathModel ?? '');
    if ('problem' in shape) return answerError(400, shape.problem, { param: shape.param });
    entry.model = shape.model;

    const reply = selectReply(problem, step, shape.text);
    if (latencyMs > 0) await delay(latencyMs);
    if (!reply) {
      return answerError(404, `The scripted endpoint has no reply for problem "${problem}" at step "${step}".`, {
        openAiCode: 'no_scripted_reply',
      });
    }

    if (reply.fault) {
      entry.faulted = true;
      const kind = reply.fault.kind ?? 'http';
      if (kind === 'reset') {
        request.socket.destroy();
        return;
      }
      if (kind === 'hang') {
        hanging.add(response);
        response.on('close', () => hanging.delete(response));
        return;
      }
      const status = reply.fault.status ?? 500;
      return answerError(status, reply.fault.message ?? defaultFaultMessage(status), {
        retryAfterSeconds: reply.fault.retryAfterSeconds,
      });
    }

    const answer = reply.text ?? '';
    const inputTokens = countTokens(shape.text) + shape.imageCount * TOKENS_PER_IMAGE;
    const outputTokens = countTokens(answer);
    sequence += 1;
    entry.status = 200;
    sendJson(
      response,
      200,
      protocol === 'openai'
        ? openAiCompletion(`chatcmpl-scripted-${sequence}`, shape.model, answer, inputTokens, outputTokens)
        : geminiResponse(`scripted-${sequence}`, shape.model, answer, inputTokens, outputTokens),
    );
  }

  const server = http.createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://scripted.invalid');
    if (request.method === 'GET' && url.pathname === '/_scigen/health') {
      response.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
      return;
    }
    if (request.method === 'GET' && url.pathname === '/_scigen/requests') {
      sendJson(response, 200, requests);
      return;
    }

    const geminiMatch = GEMINI_GENERATE_PATH.exec(url.pathname);
    const protocol: WireProtocol | 'unknown' =
      url.pathname === OPENAI_CHAT_PATH ? 'openai' : geminiMatch ? 'gemini' : 'unknown';
    const entry: RequestLogEntry = {
      at: new Date().toISOString(),
      protocol,
      step: null,
      problem: null,
      model: null,
      status: null,
      faulted: false,
    };
    requests.push(entry);

    if (protocol === 'unknown' || request.method !== 'POST') {
      const status = protocol === 'unknown' ? 404 : 405;
      entry.status = status;
      request.resume();
      sendError(response, protocol === 'gemini' ? 'gemini' : 'openai', status, `Unknown request: ${request.method} ${url.pathname}`, {
        openAiCode: 'unknown_url',
      });
      return;
    }

    const pathModel = geminiMatch?.[2] === undefined ? undefined : decodeURIComponent(geminiMatch[2]);
    handleModelRequest(request, response, protocol, entry, pathModel).catch((error: unknown) => {
      if (response.headersSent || response.destroyed) return;
      entry.status = 500;
      sendError(response, protocol, 500, `The scripted endpoint failed: ${error instanceof Error ? error.message : String(error)}`);
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${address.port}`;

  return {
    url,
    openAiBaseUrl: `${url}/v1`,
    geminiBaseUrl: url,
    requests,
    count(filter: RequestFilter = {}): number {
      return requests.filter(
        (entry) =>
          (filter.step === undefined || entry.step === filter.step) &&
          (filter.problem === undefined || entry.problem === filter.problem) &&
          (filter.protocol === undefined || entry.protocol === filter.protocol),
      ).length;
    },
    addFaults(target: FaultTarget, ...faults: ScriptedFault[]): void {
      const steps = replies.get(target.problem) ?? new Map<string, ScriptedReply[]>();
      replies.set(target.problem, steps);
      const added = faults.map((fault): ScriptedReply => (target.when === undefined ? { fault } : { when: target.when, fault }));
      steps.set(target.step, [...added, ...(steps.get(target.step) ?? [])]);
    },
    setScript(script: Script): void {
      replies = normalizeScript(script);
      faultUses.clear();
    },
    reset(): void {
      requests.length = 0;
      faultUses.clear();
    },
    async close(): Promise<void> {
      for (const response of hanging) response.destroy();
      hanging.clear();
      const closed = new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
      // Keep-alive sockets would hold close() open until their idle timeout.
      server.closeAllConnections();
      await closed;
    },
  };
}

function normalizeScript(script: Script): Map<string, Map<string, ScriptedReply[]>> {
  const problems = new Map<string, Map<string, ScriptedReply[]>>();
  for (const [problem, steps] of Object.entries(script.problems)) {
    const normalizedSteps = new Map<string, ScriptedReply[]>();
    for (const [step, stepReplies] of Object.entries(steps)) {
      if (stepReplies !== undefined) normalizedSteps.set(step, normalizeReplies(stepReplies));
    }
    problems.set(problem, normalizedSteps);
  }
  return problems;
}

function normalizeReplies(stepReplies: ScriptedStepReplies): ScriptedReply[] {
  if (typeof stepReplies === 'string') return [{ text: stepReplies }];
  return Array.isArray(stepReplies) ? stepReplies : [stepReplies];
}

interface RequestShape {
  model: string;
  /** All text parts, system first, joined by newlines: what `when` is matched against. */
  text: string;
  imageCount: number;
}

interface ShapeProblem {
  problem: string;
  param: string;
}

function readOpenAiRequest(body: unknown): RequestShape | ShapeProblem {
  if (!isRecord(body)) return { problem: 'The request body must be a JSON object.', param: '' };
  const model = body['model'];
  if (typeof model !== 'string' || model === '') {
    return { problem: "Missing required parameter: 'model'.", param: 'model' };
  }
  const messages = body['messages'];
  if (!Array.isArray(messages) || messages.length === 0) {
    return { problem: "Invalid 'messages': expected a non-empty array of messages.", param: 'messages' };
  }
  const temperature = body['temperature'];
  if (temperature !== undefined && temperature !== null && (typeof temperature !== 'number' || temperature < 0 || temperature > 2)) {
    return { problem: "Invalid 'temperature': expected a number from 0 to 2.", param: 'temperature' };
  }
  const texts: string[] = [];
  let imageCount = 0;
  for (const [messageIndex, message] of messages.entries()) {
    const at = `messages[${messageIndex}]`;
    if (!isRecord(message)) return { problem: `Invalid '${at}': expected an object.`, param: at };
    const role = message['role'];
    if (typeof role !== 'string' || !OPENAI_ROLES.includes(role)) {
      return {
        problem: `Invalid value for '${at}.role': ${JSON.stringify(role)}; expected one of ${OPENAI_ROLES.join(', ')}.`,
        param: `${at}.role`,
      };
    }
    const content = message['content'];
    if (typeof content === 'string') {
      texts.push(content);
      continue;
    }
    if (!Array.isArray(content)) {
      return { problem: `Invalid '${at}.content': expected a string or an array of parts.`, param: `${at}.content` };
    }
    for (const [partIndex, part] of content.entries()) {
      const partAt = `${at}.content[${partIndex}]`;
      if (isRecord(part) && part['type'] === 'text' && typeof part['text'] === 'string') {
        texts.push(part['text']);
      } else if (isRecord(part) && part['type'] === 'image_url') {
        const image = part['image_url'];
        const imageUrl = isRecord(image) ? image['url'] : undefined;
        if (typeof imageUrl !== 'string' || !DATA_URL.test(imageUrl)) {
          return {
            problem: `Invalid '${partAt}.image_url.url': expected a data: URL with base64 image data.`,
            param: `${partAt}.image_url.url`,
          };
        }
        imageCount += 1;
      } else {
        return { problem: `Invalid '${partAt}': expected a text or image_url part.`, param: partAt };
      }
    }
  }
  return { model, text: texts.join('\n'), imageCount };
}

function readGeminiRequest(body: unknown, model: string): RequestShape | ShapeProblem {
  if (!isRecord(body)) return { problem: 'The request body must be a JSON object.', param: '' };
  const contents = body['contents'];
  if (!Array.isArray(contents) || contents.length === 0) {
    return { problem: '* GenerateContentRequest.contents: contents is not specified', param: 'contents' };
  }
  const generationConfig = body['generationConfig'];
  if (generationConfig !== undefined) {
    const temperature = isRecord(generationConfig) ? generationConfig['temperature'] : null;
    if (temperature !== undefined && (typeof temperature !== 'number' || temperature < 0 || temperature > 2)) {
      return { problem: 'Invalid value at generation_config.temperature: expected a number from 0 to 2.', param: 'generationConfig.temperature' };
    }
  }
  const texts: string[] = [];
  let imageCount = 0;
  const systemInstruction = body['systemInstruction'];
  if (systemInstruction !== undefined) {
    const systemParts = isRecord(systemInstruction) ? systemInstruction['parts'] : undefined;
    if (!Array.isArray(systemParts) || !systemParts.every((part) => isRecord(part) && typeof part['text'] === 'string')) {
      return { problem: 'Invalid value at system_instruction: expected text parts.', param: 'systemInstruction' };
    }
    for (const part of systemParts as Record<string, unknown>[]) texts.push(String(part['text']));
  }
  for (const [contentIndex, content] of contents.entries()) {
    const at = `contents[${contentIndex}]`;
    if (!isRecord(content)) return { problem: `Invalid value at ${at}: expected an object.`, param: at };
    const role = content['role'];
    if (role !== undefined && (typeof role !== 'string' || !GEMINI_ROLES.includes(role))) {
      return {
        problem: `Invalid value at ${at}.role: ${JSON.stringify(role)}; please use a valid role: user, model.`,
        param: `${at}.role`,
      };
    }
    const parts = content['parts'];
    if (!Array.isArray(parts) || parts.length === 0) {
      return { problem: `* GenerateContentRequest.${at}.parts: contents.parts must not be empty.`, param: `${at}.parts` };
    }
    for (const [partIndex, part] of parts.entries()) {
      const partAt = `${at}.parts[${partIndex}]`;
      if (isRecord(part) && typeof part['text'] === 'string') {
        texts.push(part['text']);
      } else if (isRecord(part) && part['inlineData'] !== undefined) {
        const inlineData = part['inlineData'];
        const mimeType = isRecord(inlineData) ? inlineData['mimeType'] : undefined;
        const data = isRecord(inlineData) ? inlineData['data'] : undefined;
        if (typeof mimeType !== 'string' || mimeType === '') {
          return { problem: `* GenerateContentRequest.${partAt}.inline_data.mime_type: mime_type is not specified.`, param: `${partAt}.inlineData.mimeType` };
        }
        if (typeof data !== 'string' || !BASE64.test(data)) {
          return { problem: `Invalid value at '${partAt}.inline_data.data': expected base64 data.`, param: `${partAt}.inlineData.data` };
        }
        imageCount += 1;
      } else {
        return { problem: `* GenerateContentRequest.${partAt}.data: required oneof field 'data' must have one initialized field`, param: partAt };
      }
    }
  }
  return { model, text: texts.join('\n'), imageCount };
}

function openAiCompletion(id: string, model: string, answer: string, inputTokens: number, outputTokens: number): unknown {
  return {
    id,
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model,
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content: answer, refusal: null, annotations: [] },
        logprobs: null,
        finish_reason: 'stop',
      },
    ],
    usage: { prompt_tokens: inputTokens, completion_tokens: outputTokens, total_tokens: inputTokens + outputTokens },
    system_fingerprint: null,
  };
}

function geminiResponse(id: string, model: string, answer: string, inputTokens: number, outputTokens: number): unknown {
  return {
    candidates: [{ content: { role: 'model', parts: [{ text: answer }] }, finishReason: 'STOP', index: 0 }],
    usageMetadata: {
      promptTokenCount: inputTokens,
      candidatesTokenCount: outputTokens,
      totalTokenCount: inputTokens + outputTokens,
    },
    modelVersion: model,
    responseId: id,
  };
}

interface ErrorExtra {
  param?: string;
  openAiCode?: string;
  retryAfterSeconds?: number;
}

const GOOGLE_STATUS: Record<number, string> = {
  400: 'INVALID_ARGUMENT',
  401: 'UNAUTHENTICATED',
  403: 'PERMISSION_DENIED',
  404: 'NOT_FOUND',
  405: 'UNIMPLEMENTED',
  408: 'DEADLINE_EXCEEDED',
  409: 'ABORTED',
  413: 'INVALID_ARGUMENT',
  429: 'RESOURCE_EXHAUSTED',
  499: 'CANCELLED',
  500: 'INTERNAL',
  501: 'UNIMPLEMENTED',
  503: 'UNAVAILABLE',
  504: 'DEADLINE_EXCEEDED',
};

const OPENAI_ERROR_TYPE: Record<number, string> = {
  401: 'invalid_request_error',
  403: 'invalid_request_error',
  404: 'invalid_request_error',
  429: 'requests',
};

const OPENAI_ERROR_CODE: Record<number, string> = {
  401: 'invalid_api_key',
  403: 'unsupported_country_region_territory',
  429: 'rate_limit_exceeded',
};

/** Answers an error in the body shape of the protocol the request used. */
function sendError(response: ServerResponse, protocol: WireProtocol, status: number, message: string, extra: ErrorExtra = {}): void {
  const headers: Record<string, string> = {};
  if (extra.retryAfterSeconds !== undefined) headers['retry-after'] = String(extra.retryAfterSeconds);
  if (protocol === 'openai') {
    sendJson(
      response,
      status,
      {
        error: {
          message,
          type: OPENAI_ERROR_TYPE[status] ?? (status >= 500 ? 'server_error' : 'invalid_request_error'),
          param: extra.param ?? null,
          code: extra.openAiCode ?? OPENAI_ERROR_CODE[status] ?? null,
        },
      },
      headers,
    );
    return;
  }
  const details: unknown[] = [];
  if (extra.retryAfterSeconds !== undefined) {
    // The Gemini API tells clients how long to wait in a RetryInfo detail, not only in a header.
    details.push({ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: `${extra.retryAfterSeconds}s` });
  }
  if (extra.param) {
    details.push({
      '@type': 'type.googleapis.com/google.rpc.BadRequest',
      fieldViolations: [{ field: extra.param, description: message }],
    });
  }
  const googleStatus = GOOGLE_STATUS[status] ?? (status >= 500 ? 'INTERNAL' : 'FAILED_PRECONDITION');
  sendJson(response, status, { error: { code: status, message, status: googleStatus, ...(details.length ? { details } : {}) } }, headers);
}

function defaultFaultMessage(status: number): string {
  if (status === 429) return 'Rate limit reached for requests. Please try again later.';
  if (status === 401) return 'Incorrect API key provided.';
  if (status === 403) return 'The API key is not allowed to use this model.';
  if (status === 400) return 'The request was malformed.';
  if (status === 404) return 'The model does not exist.';
  if (status === 503) return 'The model is overloaded. Please try again later.';
  if (status >= 500) return 'The server had an error while processing the request.';
  return `Scripted fault with status ${status}.`;
}

function sendJson(response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (response.destroyed) return;
  const text = JSON.stringify(body);
  response.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  response.end(text);
}

/** The whole body as text, or undefined when it passes MAX_BODY_BYTES. */
async function readBody(request: IncomingMessage): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    const buffer = chunk as Buffer;
    size += buffer.length;
    if (size > MAX_BODY_BYTES) return undefined;
    chunks.push(buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function hasCredentials(request: IncomingMessage, protocol: WireProtocol): boolean {
  if (protocol === 'openai') return /^Bearer\s+\S+/i.test(headerValue(request, 'authorization') ?? '');
  const key = headerValue(request, 'x-goog-api-key') ?? new URL(request.url ?? '/', 'http://scripted.invalid').searchParams.get('key');
  return Boolean(key);
}

function headerValue(request: IncomingMessage, name: string): string | undefined {
  const value = request.headers[name];
  const first = Array.isArray(value) ? value[0] : value;
  return first?.trim() ? first.trim() : undefined;
}

function countTokens(text: string): number {
  return Math.ceil(text.length / 4);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const faultSchema = z.strictObject({
  status: z.number().int().min(400).max(599).optional(),
  kind: z.enum(['http', 'reset', 'hang']).optional(),
  retryAfterSeconds: z.number().nonnegative().optional(),
  times: z.number().int().positive().optional(),
  message: z.string().optional(),
});

const replySchema = z
  .strictObject({
    when: z.string().min(1).optional(),
    text: z.string().optional(),
    fault: faultSchema.optional(),
  })
  .refine((reply) => reply.text !== undefined || reply.fault !== undefined, {
    message: 'a reply needs "text" or "fault"',
  });

/** The script file format of script.ts, checked strictly so a misspelt field is an error, not a silent default. */
export const scriptSchema = z.strictObject({
  problems: z.record(
    z.string(),
    z.partialRecord(z.enum(STEPS), z.union([z.string(), replySchema, z.array(replySchema)])),
  ),
});

/** Reads and checks a script file; errors name the file and the offending field. */
export async function loadScript(path: string): Promise<Script> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? (error instanceof Error ? error.message : String(error));
    throw new Error(`${path}: cannot read the script (${code})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new Error(`${path}: not valid JSON (${error instanceof Error ? error.message : String(error)})`);
  }
  const result = scriptSchema.safeParse(json);
  if (!result.success) {
    const issue = mostSpecificIssue(result.error.issues[0]);
    const field = formatPath(issue?.path ?? []);
    throw new Error(`${path}: ${field || '(top level)'}: ${issue?.message ?? 'invalid script'}`);
  }
  return result.data;
}

type Issue = z.core.$ZodIssue;

/** Within a union, the branch that got furthest into the value explains the mistake best. */
function mostSpecificIssue(issue: Issue | undefined): Issue | undefined {
  if (!issue || issue.code !== 'invalid_union') return issue;
  let best: Issue | undefined;
  for (const branch of issue.errors) {
    const candidate = mostSpecificIssue(branch[0]);
    if (candidate && (!best || candidate.path.length > best.path.length)) best = candidate;
  }
  return best ? { ...best, path: [...issue.path, ...best.path] } : issue;
}

function formatPath(path: readonly PropertyKey[]): string {
  let formatted = '';
  for (const key of path) {
    if (typeof key === 'number') formatted += `[${key}]`;
    else if (typeof key === 'string' && /^[A-Za-z_$][\w$]*$/.test(key)) formatted += formatted ? `.${key}` : key;
    else formatted += `[${JSON.stringify(String(key))}]`;
  }
  return formatted;
}
