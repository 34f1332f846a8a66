import OpenAI, { APIConnectionTimeoutError } from 'openai';
import type { ClientOptions } from 'openai';
import type {
  ChatCompletion,
  ChatCompletionContentPart,
  ChatCompletionCreateParamsNonStreaming,
  ChatCompletionMessageParam,
} from 'openai/resources/chat/completions';
import type { ImageGenerateParamsNonStreaming, ImagesResponse } from 'openai/resources/images';
import type { ApplicationFailure } from '@temporalio/common';
import {
  billedUsage,
  createProviderFailure,
  failureOfRequest,
  requestErrorContext,
  sortOpenAiError,
} from './errors.ts';
import type { ProviderErrorContext } from './errors.ts';
import {
  requestDeadline,
  requestDeadlineMs,
  scigenHeaders,
  type ImageAspect,
  type ImageRequest,
  type ImageResponse,
  type ModelPart,
  type ModelProvider,
  type ModelRequest,
  type ModelResponse,
  type ResponseSchema,
  type TokenUsage,
} from './provider.ts';
import { toOpenAiResponseFormat } from './response-schema.ts';
import type { ResponseFormatJSONObject } from 'openai/resources/shared';
import type { RequestedJsonMode } from './structured-output.ts';

export interface OpenAiProviderOptions {
  apiKey: string;
  /**
   * Any OpenAI-compatible server (vLLM, Ollama, a proxy, the scripted endpoint); config's
   * `openai.baseUrl`, which OPENAI_BASE_URL sets.
   * @default the OpenAI API
   */
  baseURL?: string;
  /** Deadline for one HTTP request, in milliseconds. */
  timeoutMs: number;
  /** A fetch to send requests with instead of the global one (tests, proxies). */
  fetch?: ClientOptions['fetch'];
}

export const OPENAI_API_BASE_URL = 'https://api.openai.com/v1';

export function createOpenAiProvider(options: OpenAiProviderOptions): ModelProvider {
  const client = new OpenAI({
    apiKey: options.apiKey,
    // Always given: left undefined, the SDK would read OPENAI_BASE_URL itself, behind the config's back.
    baseURL: options.baseURL || OPENAI_API_BASE_URL,
    timeout: options.timeoutMs,
    // Temporal is the only retry layer; SDK retries would hide attempts from the workflow history.
    maxRetries: 0,
    ...(options.fetch ? { fetch: options.fetch } : {}),
  });

  const errorContext = (request: ModelRequest | ImageRequest) =>
    requestErrorContext(request, { ...options, timeoutMs: requestDeadlineMs(request, options.timeoutMs) });
  /** One SDK call with the scigen headers, the cancellation signal and the deadline; its errors sorted. */
  async function send<T>(
    request: ModelRequest | ImageRequest,
    call: (requestOptions: OpenAI.RequestOptions) => Promise<T>,
  ): Promise<T> {
    const timeoutMs = requestDeadlineMs(request, options.timeoutMs);
    // The SDK's `timeout` stops waiting once the response headers are in (client.ts fetchWithTimeout
    // clears it there); this deadline also ends a server that sends headers and then stalls the body.
    const deadline = requestDeadline(timeoutMs, request.signal);
    try {
      return await call({ headers: scigenHeaders(request), signal: deadline.signal, timeout: timeoutMs });
    } catch (error) {
      const sort = (unsorted: unknown) => sortOpenAiError(unsorted, errorContext(request));
      if (deadline.expired()) throw sort(new APIConnectionTimeoutError());
      throw failureOfRequest(error, request.signal, sort);
    } finally {
      deadline.dispose();
    }
  }

  return {
    name: 'openai',
    async generate(request: ModelRequest): Promise<ModelResponse> {
      const completion = await send(request, (requestOptions) =>
        client.chat.completions.create(toOpenAiBody(request), requestOptions),
      );
      return readOpenAiCompletion(completion, request.model, errorContext(request));
    },
    async generateImage(request: ImageRequest): Promise<ImageResponse> {
      const images = await send(request, (requestOptions) =>
        client.images.generate(toOpenAiImageBody(request), requestOptions),
      );
      return readOpenAiImages(images, request.model);
    },
  };
}

/** The sizes the GPT image models accept, by aspect. */
const OPENAI_IMAGE_SIZES: Record<ImageAspect, '1024x1024' | '1536x1024' | '1024x1536'> = {
  square: '1024x1024',
  landscape: '1536x1024',
  portrait: '1024x1536',
};

/** The images.generate request body for an ImageRequest; exported for request shape tests. */
export function toOpenAiImageBody(request: ImageRequest): ImageGenerateParamsNonStreaming {
  return {
    model: request.model,
    prompt: request.prompt,
    n: 1,
    size: OPENAI_IMAGE_SIZES[request.aspect ?? 'square'],
    // GPT image models always answer base64 (`response_format` is refused for them); PNG keeps
    // thin lines and small labels free of compression artefacts.
    output_format: 'png',
  };
}

/**
 * Turns an images.generate answer into an ImageResponse. The GPT image models answer with
 * `b64_json`; an answer without it (no data, or a URL from a DALL·E model) holds no usable image.
 */
export function readOpenAiImages(images: ImagesResponse, requestedModel: string): ImageResponse {
  const first = images.data?.[0];
  const base64 = first?.b64_json;
  const format = images.output_format ?? 'png';
  return {
    image: base64 ? { mimeType: `image/${format}`, data: new Uint8Array(Buffer.from(base64, 'base64')) } : null,
    text: first?.revised_prompt ?? '',
    usage: readImageUsage(images),
    // The images API does not name the model that answered.
    model: requestedModel,
    finishReason: base64 ? 'stop' : first?.url ? 'url-only' : null,
  };
}

function readImageUsage(images: ImagesResponse): TokenUsage {
  const usage = images.usage;
  const outputTokens = usage?.output_tokens ?? 0;
  // output_tokens_details is optional; a GPT image model's output is the image, so without the
  // split every output token is an image token.
  const imageOutputTokens = usage?.output_tokens_details?.image_tokens ?? outputTokens;
  return {
    inputTokens: usage?.input_tokens ?? 0,
    outputTokens,
    cachedInputTokens: 0,
    ...(imageOutputTokens > 0 ? { imageOutputTokens } : {}),
  };
}

/** The chat completions request body for a ModelRequest; exported for request shape tests. */
export function toOpenAiBody(request: ModelRequest): ChatCompletionCreateParamsNonStreaming {
  return {
    model: request.model,
    messages: toOpenAiMessages(request),
    ...(request.temperature === undefined ? {} : { temperature: request.temperature }),
    ...(request.responseSchema
      ? { response_format: toOpenAiJsonFormat(request.responseSchema, request.structuredOutput) }
      : {}),
  };
}

/** The `response_format` of a request with a schema, in its structured-output mode. */
function toOpenAiJsonFormat(responseSchema: ResponseSchema, mode: RequestedJsonMode = 'json_schema') {
  const strict = toOpenAiResponseFormat(responseSchema);
  switch (mode) {
    case 'json_schema':
      return strict;
    case 'json_object_schema': {
      // Not in the OpenAI API (it refuses the extra field), but llama.cpp's server and
      // llama-cpp-python's turn this schema into a grammar the answer must follow.
      const withSchema: ResponseFormatJSONObject & { schema: unknown } = {
        type: 'json_object',
        schema: strict.json_schema.schema,
      };
      return withSchema;
    }
    case 'json_object':
      return { type: 'json_object' } satisfies ResponseFormatJSONObject;
  }
}

/**
 * Turns a chat completion into a ModelResponse, or the failure that explains why the model would
 * not answer. An empty or cut-off answer is returned as it is: the step's parser judges it.
 */
export function readOpenAiCompletion(
  completion: ChatCompletion,
  requestedModel: string,
  context: ProviderErrorContext,
): ModelResponse {
  const usage = readUsage(completion);
  // `choices` is required by the API but missing from some compatible servers' error-ish answers.
  const choice = completion.choices?.[0];
  // Structured outputs put a model's refusal here instead of in `content` (chat completions API).
  const refusal = choice?.message?.refusal;
  if (refusal) throw refusedFailure(truncate(refusal.trim(), 200), context, usage, 'refusal');
  if (choice?.finish_reason === 'content_filter') throw refusedFailure('safety', context, usage, 'content_filter');
  return {
    text: choice?.message?.content ?? '',
    usage,
    model: completion.model || requestedModel,
    finishReason: choice ? (choice.finish_reason ?? 'none') : null,
    truncated: choice?.finish_reason === 'length',
  };
}

function readUsage(completion: ChatCompletion): TokenUsage {
  // prompt_tokens counts cached tokens too; completion_tokens includes reasoning tokens.
  return {
    inputTokens: completion.usage?.prompt_tokens ?? 0,
    outputTokens: completion.usage?.completion_tokens ?? 0,
    cachedInputTokens: completion.usage?.prompt_tokens_details?.cached_tokens ?? 0,
  };
}

function toOpenAiMessages(request: ModelRequest): ChatCompletionMessageParam[] {
  const messages: ChatCompletionMessageParam[] = [];
  if (request.system) messages.push({ role: 'system', content: request.system });
  const onlyPart = request.parts.length === 1 ? request.parts[0] : undefined;
  // A lone text part goes as a plain string: older OpenAI-compatible servers accept only that.
  if (onlyPart?.type === 'text') messages.push({ role: 'user', content: onlyPart.text });
  else messages.push({ role: 'user', content: request.parts.map(toOpenAiPart) });
  return messages;
}

function toOpenAiPart(part: ModelPart): ChatCompletionContentPart {
  if (part.type === 'text') return { type: 'text', text: part.text };
  // Images go inline as a base64 data URL; "high" detail because a figure's small labels matter.
  const base64 = Buffer.from(part.data).toString('base64');
  return { type: 'image_url', image_url: { url: `data:${part.mimeType};base64,${base64}`, detail: 'high' } };
}

function refusedFailure(
  reason: string,
  context: ProviderErrorContext,
  usage: TokenUsage,
  providerCode: string,
): ApplicationFailure {
  return createProviderFailure({
    provider: 'openai',
    type: 'ProviderRefused',
    message: `model refused: ${reason} (openai)`,
    context,
    providerCode,
    usage: billedUsage(usage),
  });
}

function truncate(text: string, limit: number): string {
  return text.length <= limit ? text : `${text.slice(0, limit - 1)}…`;
}
