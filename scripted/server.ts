import http from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { STEPS } from '../domain/types.ts';
import { geminiProtocol } from './gemini-protocol.ts';
import { openAiImagesProtocol } from './openai-images-protocol.ts';
import { createOpenAiProtocol, type ResponseFormatDialect } from './openai-protocol.ts';
import { viewImage, type ImageView } from './image-view.ts';
import { scriptedImageBytes } from './placeholder-image.ts';
import {
  countTokens,
  isRequestProblem,
  TOKENS_PER_IMAGE,
  type ErrorFacts,
  type ProtocolHandler,
  type ScriptedAnswer,
} from './protocol.ts';
import { ScriptedReplies, type FaultTarget } from './replies.ts';
import type { Script, ScriptedFault, ScriptedImage } from './script.ts';
import { answerDoctor } from './vision.ts';
import { isRecord } from './wire-checks.ts';
import {
  BatchJobs,
  type BatchAnswer,
  type BatchJob,
  type BatchRecord,
  type BatchedRequest,
  type ExpiryPlan,
} from './batch-jobs.ts';
import { createGeminiBatchRoutes, GEMINI_BATCH_CREATE_PATH } from './gemini-batches.ts';
import { createOpenAiBatchRoutes, type RouteAnswer } from './openai-batches.ts';
import { DOCTOR_PROBLEM_ID } from '../doctor/canary.ts';

export type WireProtocol = 'openai' | 'gemini';

/** One request the endpoint received, whatever came of it. */
export interface RequestLogEntry {
  /** ISO time the request arrived. */
  at: string;
  protocol: WireProtocol | 'unknown';
  step: string | null;
  problem: string | null;
  /** The model asked for; null until the request passed the protocol's checks. */
  model: string | null;
  /** HTTP status answered; null when no answer was sent (a 'reset' or 'hang' fault). */
  status: number | null;
  /** Whether a scripted fault answered instead of a reply. */
  faulted: boolean;
  /** The fault kind, when one answered. */
  fault: ScriptedFault['kind'] | null;
  /** Answered 429 by the endpoint's own requests-per-minute limit. */
  rateLimited: boolean;
  /** The request asked for JSON in the API's schema mode. */
  structured: boolean;
  /** Why a 4xx was answered, in the API's words. */
  rejection: string | null;
  /** Tokens reported in the answer's usage; null when no whole answer body was sent. */
  usage: { inputTokens: number; outputTokens: number } | null;
  /**
   * A batch API call (`operation` is its method and path), or a request answered inside a batch
   * (`operation` 'request'); absent for real-time model requests.
   */
  batch?: { id: string | null; operation: string };
  /** The request headers and parsed body, when the endpoint records bodies. */
  headers?: Record<string, string>;
  body?: unknown;
}

export interface RequestFilter {
  step?: string;
  problem?: string;
  protocol?: WireProtocol;
  status?: number;
  /** true: only batch calls and batched requests; false: only real-time requests. @default both */
  batch?: boolean;
  /** false: leave out scigen's doctor (its probes and vision canaries); true: only those. @default both */
  doctor?: boolean;
}

export interface ScriptedEndpointOptions {
  script: Script;
  /** @default 0 (any free port) */
  port?: number;
  /** @default '127.0.0.1' */
  host?: string;
  /** Added before every scripted answer, to make concurrency visible. @default 0 */
  latencyMs?: number;
  /**
   * Admit at most this many model requests in any 60-second window and answer the rest 429 with
   * Retry-After (and Gemini's RetryInfo), as a provider's requests-per-minute limit does.
   * @default no limit
   */
  requestsPerMinute?: number;
  /** Keep every request's headers and parsed body in the log (request shape tests). @default false */
  recordBodies?: boolean;
  /**
   * Whether the "model" sees the images it is sent. `sees`: a question about a picture from scigen's
   * doctor (the vision canary) is answered from the decoded pixels (scripted/vision.ts); `blind`:
   * images are dropped, as a text-only model behind a lenient server drops them, and such a
   * question gets a guess. @default 'sees'
   */
  vision?: 'sees' | 'blind';
  /** The models the server has; a request for another is answered 404 in the API's words. @default any model */
  models?: readonly string[];
  /** Which `response_format`s the chat completions side takes (openai-protocol.ts). @default 'openai' */
  responseFormats?: ResponseFormatDialect;
  /**
   * How long a batch (OpenAI Batch API, Gemini batch mode) takes from its creation to completed;
   * its requests are answered over that time. @default 1000
   */
  batchDurationMs?: number;
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
  /** Every batch created (both APIs), oldest first, with its current status. */
  batches(): BatchRecord[];
  /** The duration of batches created from now on (see ScriptedEndpointOptions.batchDurationMs). */
  setBatchDuration(milliseconds: number): void;
  /** Makes the next batch (or `count` batches, of `step` when given) expire at its deadline with part of it answered. */
  expireBatches(plan?: ExpiryPlan): void;
  /** Clears the request log, fault counters, the rate window, batches and files. */
  reset(): void;
  close(): Promise<void>;
}

const OPENAI_CHAT_PATH = '/v1/chat/completions';
const OPENAI_IMAGES_PATH = '/v1/images/generations';
// The path @google/genai builds: {baseUrl}/{apiVersion}/models/{model}:generateContent.
const GEMINI_GENERATE_PATH = /^\/(v1|v1beta|v1alpha)\/models\/([^/:]+):generateContent$/;
const MAX_BODY_BYTES = 64 * 1024 * 1024;
/** A batch input file of up to 200 MB, with room for its multipart framing. */
const MAX_UPLOAD_BYTES = 201 * 1024 * 1024;
const OPENAI_BATCH_PATH = /^\/v1\/(files|batches)(\/|$)/;
const GEMINI_BATCHES_PATH = /^\/(v1|v1beta|v1alpha)\/batches(\/|$)/;
const RATE_WINDOW_MS = 60_000;

/**
 * A protocol-faithful stand-in for the OpenAI chat completions and image generation APIs and the
 * Gemini generateContent API (text, and pictures from image models),
 * driven by the real SDKs: it checks requests the way the APIs do (roles, parts, image bytes,
 * unknown fields, response schemas; see openai-protocol.ts and gemini-protocol.ts), answers from
 * a script, and can inject every fault a provider produces (the fault kinds in script.ts).
 */
export async function startScriptedEndpoint(options: ScriptedEndpointOptions): Promise<ScriptedEndpoint> {
  const host = options.host ?? '127.0.0.1';
  const latencyMs = options.latencyMs ?? 0;
  const requests: RequestLogEntry[] = [];
  const hanging = new Set<ServerResponse>();
  /** Arrival times of the admitted requests of the last minute, oldest first. */
  const admitted: number[] = [];
  const replies = new ScriptedReplies(options.script);
  const protocols: Record<WireProtocol, ProtocolHandler> = {
    openai: createOpenAiProtocol(options.responseFormats),
    gemini: geminiProtocol,
  };
  const sees = (options.vision ?? 'sees') === 'sees';
  let sequence = 0;
  const jobs = new BatchJobs((job, request) => answerBatchedRequest(job, request), options.batchDurationMs ?? 1000);
  const openAiBatches = createOpenAiBatchRoutes(jobs, {
    [OPENAI_CHAT_PATH]: protocols.openai,
    [OPENAI_IMAGES_PATH]: openAiImagesProtocol,
  });
  const geminiBatches = createGeminiBatchRoutes(jobs, protocols.gemini);

  /**
   * One request of a batch, answered as real time answers it: the step and problem come from its
   * custom_id (`scigen:<step>:<problem-id>:<attempt>`, CONTRACT.md) instead of headers. A fault
   * that would drop the connection becomes a 500 inside the batch, as the services report a
   * request their backend failed.
   */
  async function answerBatchedRequest(job: BatchJob, batched: BatchedRequest): Promise<BatchAnswer> {
    const protocolName: WireProtocol = job.provider;
    const protocol =
      job.provider === 'gemini'
        ? protocols.gemini
        : job.endpoint === OPENAI_IMAGES_PATH
          ? openAiImagesProtocol
          : protocols.openai;
    const match = /^scigen:([a-z-]+):(.+):\d+$/.exec(batched.customId);
    const entry = logEntry(protocolName);
    entry.batch = { id: job.id, operation: 'request' };
    entry.step = match?.[1] ?? null;
    entry.problem = match?.[2] ?? null;
    if (options.recordBodies) entry.body = batched.body;
    const errorAnswer = (facts: ErrorFacts): BatchAnswer => {
      recordError(entry, facts);
      return { status: facts.status, body: protocol.errorResponse(facts).body };
    };
    if (!match || !(STEPS as readonly string[]).includes(match[1]!))
      return errorAnswer({
        status: 400,
        message: `A batched scigen request has the custom_id scigen:<step>:<problem-id>:<attempt>, not "${batched.customId}".`,
        param: 'custom_id',
      });
    const outcome = await answerModelRequest(
      { protocolName, protocol, entry, pathModel: job.model, step: match[1]!, problem: match[2]!, delayMs: 0 },
      batched.body,
    );
    if (outcome.type === 'answer') return { status: 200, body: outcome.body };
    if (outcome.type === 'error')
      return { status: outcome.facts.status, body: protocol.errorResponse(outcome.facts).body };
    return errorAnswer({ status: 500, message: defaultFaultMessage(500) });
  }

  function logEntry(protocol: WireProtocol | 'unknown'): RequestLogEntry {
    const entry: RequestLogEntry = {
      at: new Date().toISOString(),
      protocol,
      step: null,
      problem: null,
      model: null,
      status: null,
      faulted: false,
      fault: null,
      rateLimited: false,
      structured: false,
      rejection: null,
      usage: null,
    };
    requests.push(entry);
    return entry;
  }

  /** A call of the OpenAI Files / Batch API or of Gemini's batches resource. */
  async function handleBatchCall(
    request: IncomingMessage,
    response: ServerResponse,
    url: URL,
    protocolName: WireProtocol,
  ): Promise<void> {
    const entry = logEntry(protocolName);
    entry.batch = { id: null, operation: `${request.method ?? 'GET'} ${url.pathname}` };
    const protocol = protocols[protocolName];
    const send = (answer: RouteAnswer): void => {
      entry.status = answer.status;
      if ('text' in answer) {
        response.writeHead(answer.status, { 'content-type': 'application/octet-stream' }).end(answer.text);
        return;
      }
      sendJson(response, answer.status, answer.json);
    };
    const sendError = (facts: ErrorFacts): void => {
      recordError(entry, facts);
      send({ status: facts.status, json: protocol.errorResponse(facts).body });
    };
    const body = await readBodyBytes(request, MAX_UPLOAD_BYTES);
    if (body === undefined)
      return sendError({ status: 413, message: `Request payload size exceeds the limit: ${MAX_UPLOAD_BYTES} bytes.` });
    if (!hasCredentials(request, protocolName)) return sendError(missingCredentials(protocolName));
    const method = request.method ?? 'GET';
    const contentType = headerValue(request, 'content-type') ?? '';
    const answer =
      protocolName === 'openai'
        ? openAiBatches.handle(method, url, body, contentType)
        : geminiBatches.handle(method, url, body);
    if (!answer)
      return sendError({
        status: 404,
        message: `Unknown request: ${method} ${url.pathname}`,
        openAiCode: 'unknown_url',
      });
    const answered = await answer;
    const json = 'json' in answered ? answered.json : undefined;
    const id = isRecord(json) ? (json['id'] ?? json['name']) : undefined;
    if (typeof id === 'string') entry.batch.id = id;
    if (answered.status >= 400 && answered.status < 500 && isRecord(json) && isRecord(json['error']))
      entry.rejection = String(json['error']['message']);
    send(answered);
  }

  /** Admits a request under the requests-per-minute limit, or says how long until one would be. */
  function admit(now: number): { admitted: true } | { admitted: false; retryAfterMs: number } {
    const limit = options.requestsPerMinute;
    if (limit === undefined) return { admitted: true };
    while (admitted.length > 0 && admitted[0]! <= now - RATE_WINDOW_MS) admitted.shift();
    if (admitted.length < limit) {
      admitted.push(now);
      return { admitted: true };
    }
    return { admitted: false, retryAfterMs: Math.max(1, admitted[0]! + RATE_WINDOW_MS - now) };
  }

  async function handleModelRequest(
    request: IncomingMessage,
    response: ServerResponse,
    protocolName: WireProtocol,
    protocol: ProtocolHandler,
    entry: RequestLogEntry,
    pathModel: string,
  ): Promise<void> {
    const answerError = (facts: ErrorFacts): void => {
      recordError(entry, facts);
      const { body, headers } = protocol.errorResponse(facts);
      sendJson(response, facts.status, body, { ...headers, ...rateHeaders(protocolName) });
    };

    const body = await readBody(request);
    if (body === undefined)
      return answerError({ status: 413, message: 'Request payload size exceeds the limit: 67108864 bytes.' });
    if (options.recordBodies) entry.headers = headerRecord(request);

    if (!hasCredentials(request, protocolName)) return answerError(missingCredentials(protocolName));

    const step = headerValue(request, 'x-scigen-step');
    const problem = headerValue(request, 'x-scigen-problem');
    entry.step = step ?? null;
    entry.problem = problem ?? null;
    if (!step || !problem) {
      return answerError({
        status: 400,
        message: 'Every scigen request carries the x-scigen-step and x-scigen-problem headers.',
        param: step ? 'x-scigen-problem' : 'x-scigen-step',
      });
    }
    if (!(STEPS as readonly string[]).includes(step)) {
      return answerError({
        status: 400,
        message: `Unknown x-scigen-step "${step}"; expected one of ${STEPS.join(', ')}.`,
        param: 'x-scigen-step',
      });
    }

    const admission = admit(Date.now());
    if (!admission.admitted) {
      entry.rateLimited = true;
      return answerError({
        status: 429,
        message: `Rate limit reached: ${options.requestsPerMinute} requests per minute. Please try again in ${openAiRetryWording(admission.retryAfterMs)}.`,
        retryAfterSeconds: Math.ceil(admission.retryAfterMs / 1000),
        ...(protocolName === 'openai' ? { retryAfterMs: admission.retryAfterMs } : {}),
      });
    }

    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch {
      return answerError({
        status: 400,
        message: 'We could not parse the JSON body of your request: it is not valid JSON.',
      });
    }
    if (options.recordBodies) entry.body = parsed;
    const outcome = await answerModelRequest(
      { protocolName, protocol, entry, pathModel, step, problem, delayMs: latencyMs },
      parsed,
    );
    switch (outcome.type) {
      case 'error': {
        const { body: errorBody, headers } = protocol.errorResponse(outcome.facts);
        sendJson(response, outcome.facts.status, errorBody, { ...headers, ...rateHeaders(protocolName) });
        return;
      }
      case 'answer':
        sendJson(response, 200, outcome.body, rateHeaders(protocolName));
        return;
      case 'cut':
        sendHalfBody(response, outcome.body, () => response.destroy());
        return;
      case 'stall':
        hanging.add(response);
        response.on('close', () => hanging.delete(response));
        sendHalfBody(response, outcome.body, () => {});
        return;
      case 'reset':
        request.socket.destroy();
        return;
      case 'hang':
        hanging.add(response);
        response.on('close', () => hanging.delete(response));
        return;
    }
  }

  /**
   * What the endpoint answers a model request with once its transport has been checked (credentials,
   * step and problem): the protocol's checks, then the script's reply or fault as an answer body.
   * Real-time requests and batched ones both come through here, so they get the same answers.
   */
  async function answerModelRequest(request: ModelRequestContext, parsed: unknown): Promise<ModelOutcome> {
    const { protocolName, protocol, entry, step, problem } = request;
    const fail = (facts: ErrorFacts): ModelOutcome => {
      recordError(entry, facts);
      return { type: 'error', facts };
    };
    const read = protocol.readRequest(parsed, request.pathModel);
    if (isRequestProblem(read))
      return fail({
        status: read.status ?? 400,
        message: read.problem,
        param: read.param,
        openAiCode: read.code ?? null,
      });
    entry.model = read.model;
    entry.structured = read.structured;
    if (options.models && !options.models.includes(read.model)) return fail(unknownModel(protocolName, read.model));
    // A blind model's server accepts the image parts and the model never gets them.
    const shape = sees ? read : { ...read, imageCount: 0, images: [] };

    // A question about the image must come with the image: the fake would otherwise answer blind.
    if (step === 'visual-answer' && read.imageCount === 0) {
      return fail({
        status: 400,
        message: 'The visual-answer step answers a question from an image, and this request carries none.',
        param: protocolName === 'openai' ? 'messages' : 'contents',
      });
    }
    const firstImage = shape.images?.[0];
    let seen: ImageView | undefined;
    const seeImage = () => (seen ??= firstImage ? viewImage(firstImage) : undefined);
    const reply = replies.select(problem, step, shape.text, seeImage);
    if (request.delayMs > 0) await delay(request.delayMs);
    if (!reply && problem !== DOCTOR_PROBLEM_ID) {
      return fail({
        status: 404,
        message: `The scripted endpoint has no reply for problem "${problem}" at step "${step}".`,
        openAiCode: 'no_scripted_reply',
      });
    }

    const inputTokens = countTokens(shape.text) + shape.imageCount * TOKENS_PER_IMAGE;
    /** `cut`: half the body, then the connection drops; `stall`: half the body, then nothing more. */
    const answerWith = (answer: ScriptedAnswer, cut?: 'cut' | 'stall'): ModelOutcome => {
      const refusedWithStatus = protocol.answerAsError?.(answer);
      if (refusedWithStatus) return fail(refusedWithStatus);
      const outputText =
        answer.kind === 'text' || answer.kind === 'truncated' || answer.kind === 'refusal' || answer.kind === 'image'
          ? answer.text
          : '';
      const imageOutputTokens =
        answer.kind === 'image' && answer.image && shape.imageOutput ? shape.imageOutput.tokens : 0;
      const outputTokens = countTokens(outputText) + imageOutputTokens;
      sequence += 1;
      const id = protocolName === 'openai' ? `chatcmpl-scripted-${sequence}` : `scripted-${sequence}`;
      entry.status = 200;
      // A body cut short never tells the client its usage, so it is not counted as reported.
      entry.usage = cut === undefined ? { inputTokens, outputTokens } : null;
      const body = protocol.answerBody(answer, {
        id,
        model: shape.model,
        inputTokens,
        outputTokens,
        imageOutputTokens,
        imageOutput: shape.imageOutput,
      });
      return cut === undefined ? { type: 'answer', body } : { type: cut, body };
    };

    // scigen's doctor asks what no script answers: it gets the endpoint's own answers (vision.ts).
    if (!reply) return answerWith({ kind: 'text', text: answerDoctor({ ...read, images: read.images ?? [] }, sees) });

    const requestedImage = shape.imageOutput;
    /** An image request's answer: the scripted picture (none: words only) and the text sent along. */
    const imageAnswer = async (image: ScriptedImage | undefined, text: string): Promise<ScriptedAnswer> => ({
      kind: 'image',
      image: image && requestedImage ? await scriptedImageBytes(image, requestedImage) : null,
      text: requestedImage?.withText ? text : '',
    });
    const fault = reply.fault;
    if (!fault) {
      if (requestedImage) return answerWith(await imageAnswer(reply.image, reply.text ?? ''));
      return answerWith({ kind: 'text', text: reply.text ?? '' });
    }
    entry.faulted = true;
    entry.fault = fault.kind ?? 'http';
    switch (fault.kind ?? 'http') {
      case 'reset':
        return { type: 'reset' };
      case 'hang':
        return { type: 'hang' };
      case 'cut-body':
      case 'stall-body': {
        const cut = fault.kind === 'cut-body' ? 'cut' : 'stall';
        if (requestedImage) return answerWith(await imageAnswer(replies.image(problem, step, shape.text), ''), cut);
        return answerWith(
          { kind: 'text', text: replies.text(problem, step, shape.text) ?? 'The answer would have been here.' },
          cut,
        );
      }
      case 'truncated': {
        const whole = fault.text ?? replies.text(problem, step, shape.text) ?? '{"answer": "cut off here';
        return answerWith({
          kind: 'truncated',
          text: fault.text ?? whole.slice(0, Math.max(1, Math.floor(whole.length / 2))),
        });
      }
      case 'empty':
        return answerWith({ kind: 'empty' });
      case 'safety':
        return answerWith({ kind: 'safety' });
      case 'refusal':
        return answerWith({ kind: 'refusal', text: fault.message ?? "I'm sorry, but I can't help with that request." });
      case 'http': {
        const status = fault.status ?? 500;
        return fail({
          status,
          message: fault.message ?? defaultFaultMessage(status),
          ...(fault.retryAfterSeconds === undefined ? {} : { retryAfterSeconds: fault.retryAfterSeconds }),
          ...(fault.retryAfterMs === undefined ? {} : { retryAfterMs: fault.retryAfterMs }),
        });
      }
    }
  }

  /** OpenAI's rate limit headers, on every answer, as the real API sends them. */
  function rateHeaders(protocolName: WireProtocol): Record<string, string> {
    const limit = options.requestsPerMinute;
    if (protocolName !== 'openai' || limit === undefined) return {};
    const now = Date.now();
    const inWindow = admitted.filter((time) => time > now - RATE_WINDOW_MS);
    const resetMs = inWindow.length === 0 ? 0 : inWindow[0]! + RATE_WINDOW_MS - now;
    return {
      'x-ratelimit-limit-requests': String(limit),
      'x-ratelimit-remaining-requests': String(Math.max(0, limit - inWindow.length)),
      'x-ratelimit-reset-requests': `${Math.max(0, resetMs)}ms`,
    };
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

    const batchProtocol: WireProtocol | undefined = OPENAI_BATCH_PATH.test(url.pathname)
      ? 'openai'
      : GEMINI_BATCH_CREATE_PATH.test(url.pathname) || GEMINI_BATCHES_PATH.test(url.pathname)
        ? 'gemini'
        : undefined;
    if (batchProtocol) {
      handleBatchCall(request, response, url, batchProtocol).catch((error: unknown) => {
        if (response.headersSent || response.destroyed) return;
        sendJson(
          response,
          500,
          protocols[batchProtocol].errorResponse({
            status: 500,
            message: `The scripted endpoint failed: ${error instanceof Error ? error.message : String(error)}`,
          }).body,
        );
      });
      return;
    }

    const geminiMatch = GEMINI_GENERATE_PATH.exec(url.pathname);
    const openAiPath = url.pathname === OPENAI_CHAT_PATH || url.pathname === OPENAI_IMAGES_PATH;
    const protocol: WireProtocol | 'unknown' = openAiPath ? 'openai' : geminiMatch ? 'gemini' : 'unknown';
    const entry = logEntry(protocol);

    if (protocol === 'unknown' || request.method !== 'POST') {
      const status = protocol === 'unknown' ? 404 : 405;
      entry.status = status;
      request.resume();
      const { body } = protocols[protocol === 'gemini' ? 'gemini' : 'openai'].errorResponse({
        status,
        message: `Unknown request: ${request.method} ${url.pathname}`,
        openAiCode: 'unknown_url',
      });
      sendJson(response, status, body);
      return;
    }

    const pathModel = geminiMatch?.[2] === undefined ? '' : decodeURIComponent(geminiMatch[2]);
    const handler = url.pathname === OPENAI_IMAGES_PATH ? openAiImagesProtocol : protocols[protocol];
    handleModelRequest(request, response, protocol, handler, entry, pathModel).catch((error: unknown) => {
      if (response.headersSent || response.destroyed) return;
      entry.status = 500;
      const { body } = protocols[protocol].errorResponse({
        status: 500,
        message: `The scripted endpoint failed: ${error instanceof Error ? error.message : String(error)}`,
      });
      sendJson(response, 500, body);
    });
  });
  // Many SDK clients keep connections alive across requests; a burst must not hit a backlog limit.
  server.maxConnections = 10_000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, 511, () => {
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
          (filter.protocol === undefined || entry.protocol === filter.protocol) &&
          (filter.status === undefined || entry.status === filter.status) &&
          (filter.batch === undefined || (entry.batch !== undefined) === filter.batch) &&
          (filter.doctor === undefined || (entry.problem === DOCTOR_PROBLEM_ID) === filter.doctor),
      ).length;
    },
    addFaults(target: FaultTarget, ...faults: ScriptedFault[]): void {
      replies.addFaults(target, faults);
    },
    setScript(script: Script): void {
      replies.replace(script);
    },
    batches(): BatchRecord[] {
      return jobs.records();
    },
    setBatchDuration(milliseconds: number): void {
      jobs.durationMs = milliseconds;
    },
    expireBatches(plan: ExpiryPlan = {}): void {
      jobs.expireNext(plan);
    },
    reset(): void {
      requests.length = 0;
      jobs.reset();
      openAiBatches.reset();
      replies.resetUses();
      admitted.length = 0;
    },
    async close(): Promise<void> {
      for (const response of hanging) response.destroy();
      hanging.clear();
      const closed = new Promise<void>((resolve, reject) =>
        server.close((error) => (error ? reject(error) : resolve())),
      );
      // Keep-alive sockets would hold close() open until their idle timeout.
      server.closeAllConnections();
      await closed;
    },
  };
}

/** What one model request is answered with, whichever way it came (an HTTP request or a batch line). */
export type ModelOutcome =
  | { type: 'answer'; body: unknown }
  | { type: 'error'; facts: ErrorFacts }
  /** Transport faults: the socket is destroyed, no answer ever comes, or half a body does. */
  | { type: 'reset' }
  | { type: 'hang' }
  | { type: 'cut' | 'stall'; body: unknown };

/** A model request as answerModelRequest needs it: its protocol, log entry, and the step and problem it is for. */
interface ModelRequestContext {
  protocolName: WireProtocol;
  protocol: ProtocolHandler;
  entry: RequestLogEntry;
  /** The model named in the URL (Gemini); '' where the body names it. */
  pathModel: string;
  step: string;
  problem: string;
  /** Added before the answer (the endpoint's latency; none for batched requests). */
  delayMs: number;
}

function recordError(entry: RequestLogEntry, facts: ErrorFacts): void {
  entry.status = facts.status;
  if (facts.status >= 400 && facts.status < 500 && facts.status !== 429) entry.rejection = facts.message;
}

/** The API's answer to a request without credentials. */
function missingCredentials(protocolName: WireProtocol): ErrorFacts {
  return protocolName === 'openai'
    ? {
        status: 401,
        message:
          "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
        openAiCode: 'missing_api_key',
      }
    : {
        status: 403,
        message:
          "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.",
      };
}

/** The API's answer to a model the server does not have. */
function unknownModel(protocolName: WireProtocol, model: string): ErrorFacts {
  return protocolName === 'openai'
    ? {
        status: 404,
        message: `The model \`${model}\` does not exist or you do not have access to it.`,
        openAiCode: 'model_not_found',
      }
    : {
        status: 404,
        message: `models/${model} is not found for API version v1beta, or is not supported for generateContent.`,
      };
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

/** The wait as OpenAI's 429 message words it ("Please try again in 1.234s"), which clients parse. */
function openAiRetryWording(milliseconds: number): string {
  return `${(milliseconds / 1000).toFixed(3)}s`;
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

/** Promises a whole JSON body and sends half of it; `then` runs once that half is written. */
function sendHalfBody(response: ServerResponse, body: unknown, then: () => void): void {
  const text = Buffer.from(JSON.stringify(body));
  response.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': text.byteLength });
  response.write(text.subarray(0, Math.floor(text.byteLength / 2)), then);
}

/** The whole body as text, or undefined when it passes MAX_BODY_BYTES. */
async function readBody(request: IncomingMessage): Promise<string | undefined> {
  return (await readBodyBytes(request, MAX_BODY_BYTES))?.toString('utf8');
}

/** The whole body, or undefined when it passes `limit` bytes. */
async function readBodyBytes(request: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    const buffer = chunk as Buffer;
    size += buffer.length;
    if (size > limit) return undefined;
    chunks.push(buffer);
  }
  return Buffer.concat(chunks);
}

function hasCredentials(request: IncomingMessage, protocol: WireProtocol): boolean {
  if (protocol === 'openai') return /^Bearer\s+\S+/i.test(headerValue(request, 'authorization') ?? '');
  const key =
    headerValue(request, 'x-goog-api-key') ??
    new URL(request.url ?? '/', 'http://scripted.invalid').searchParams.get('key');
  return Boolean(key);
}

function headerValue(request: IncomingMessage, name: string): string | undefined {
  const value = request.headers[name];
  const first = Array.isArray(value) ? value[0] : value;
  return first?.trim() ? first.trim() : undefined;
}

/** The request headers without credentials: the log is served over HTTP. */
function headerRecord(request: IncomingMessage): Record<string, string> {
  const record: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    if (value === undefined) continue;
    record[name] =
      name === 'authorization' || name === 'x-goog-api-key'
        ? '[present]'
        : Array.isArray(value)
          ? value.join(', ')
          : value;
  }
  return record;
}
