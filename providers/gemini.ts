import { GoogleGenAI, Modality } from '@google/genai';
import type { GenerateContentParameters, GenerateContentResponse, Part } from '@google/genai';
import type { ApplicationFailure } from '@temporalio/common';
import {
  billedUsage,
  createProviderFailure,
  failureOfRequest,
  requestErrorContext,
  sortGeminiError,
} from './errors.ts';
import type { ProviderErrorContext } from './errors.ts';
import {
  requestDeadlineMs,
  scigenHeaders,
  type GeneratedImage,
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
import type { RequestedJsonMode } from './structured-output.ts';
import { toGeminiResponseJsonSchema } from './response-schema.ts';

export interface GeminiProviderOptions {
  apiKey: string;
  /**
   * Where the Gemini API lives (a proxy, the scripted endpoint); config's `gemini.baseUrl`.
   * @default the SDK's default, the Gemini API
   */
  baseUrl?: string;
  /** Deadline for one HTTP request, in milliseconds. */
  timeoutMs: number;
}

export function createGeminiProvider(options: GeminiProviderOptions): ModelProvider {
  const baseUrl = options.baseUrl || undefined;
  const client = new GoogleGenAI({
    apiKey: options.apiKey,
    // The SDK would switch to Vertex AI when GOOGLE_GENAI_USE_VERTEXAI is set; scigen speaks the
    // Gemini API with an API key only.
    vertexai: false,
    httpOptions: {
      ...(baseUrl ? { baseUrl } : {}),
      timeout: options.timeoutMs,
      // Temporal is the only retry layer. With retryOptions the SDK wraps fetch in p-retry;
      // attempts counts the first call, so 1 means exactly one HTTP request.
      retryOptions: { attempts: 1 },
    },
  });

  const errorContext = (request: ModelRequest | ImageRequest) =>
    requestErrorContext(request, { ...options, timeoutMs: requestDeadlineMs(request, options.timeoutMs) });
  /** One generateContent request with the scigen headers and the cancellation signal; its errors sorted. */
  async function send(
    request: ModelRequest | ImageRequest,
    parameters: GenerateContentParameters,
  ): Promise<GenerateContentResponse> {
    try {
      return await client.models.generateContent({
        ...parameters,
        config: {
          ...parameters.config,
          // Request-level httpOptions are merged over the client's (ApiClient.patchHttpOptions),
          // so the timeout and the single attempt above still hold.
          httpOptions: {
            headers: scigenHeaders(request),
            // Merged over the client's options: the shorter deadline of an activity near its end.
            timeout: requestDeadlineMs(request, options.timeoutMs),
          },
          ...(request.signal ? { abortSignal: request.signal } : {}),
        },
      });
    } catch (error) {
      throw failureOfRequest(error, request.signal, (unsorted) => sortGeminiError(unsorted, errorContext(request)));
    }
  }

  return {
    name: 'gemini',
    async generate(request: ModelRequest): Promise<ModelResponse> {
      const response = await send(request, toGeminiParameters(request));
      return readGeminiResponse(response, request.model, errorContext(request));
    },
    async generateImage(request: ImageRequest): Promise<ImageResponse> {
      const response = await send(request, toGeminiImageParameters(request));
      return readGeminiImageResponse(response, request.model, errorContext(request));
    },
  };
}

/** Aspect ratios the Gemini image models accept (ImageConfig.aspectRatio), by aspect. */
const GEMINI_ASPECT_RATIOS: Record<ImageAspect, string> = { square: '1:1', landscape: '3:2', portrait: '2:3' };

/** The generateContent parameters for an ImageRequest, without transport options; exported for request shape tests. */
export function toGeminiImageParameters(request: ImageRequest): GenerateContentParameters {
  return {
    model: request.model,
    contents: [{ role: 'user', parts: [{ text: request.prompt }] }],
    config: {
      // TEXT with IMAGE: every Gemini image model accepts the pair (some refuse IMAGE alone), and
      // the text is where a model says why it drew nothing.
      responseModalities: [Modality.TEXT, Modality.IMAGE],
      imageConfig: { aspectRatio: GEMINI_ASPECT_RATIOS[request.aspect ?? 'square'] },
      automaticContinuation: false,
    },
  };
}

/** The generateContent parameters for a ModelRequest, without transport options; exported for request shape tests. */
export function toGeminiParameters(request: ModelRequest): GenerateContentParameters {
  return {
    model: request.model,
    contents: [{ role: 'user', parts: request.parts.map(toGeminiPart) }],
    config: {
      ...(request.system ? { systemInstruction: request.system } : {}),
      ...(request.temperature === undefined ? {} : { temperature: request.temperature }),
      // responseJsonSchema takes JSON Schema as it is; the older responseSchema wants Google's
      // OpenAPI subset (upper-case types, no additionalProperties). The mime type is required with it.
      ...(request.responseSchema ? toGeminiJsonConfig(request.responseSchema, request.structuredOutput) : {}),
      // Continuation would send follow-up requests on its own; one call must stay one request.
      automaticContinuation: false,
    },
  };
}

/** The JSON part of a request's config, in its structured-output mode (json_object_schema is Gemini's schema mode). */
function toGeminiJsonConfig(
  responseSchema: ResponseSchema,
  mode: RequestedJsonMode = 'json_schema',
): { responseMimeType: string; responseJsonSchema?: unknown } {
  if (mode === 'json_object') return { responseMimeType: 'application/json' };
  return { responseMimeType: 'application/json', responseJsonSchema: toGeminiResponseJsonSchema(responseSchema) };
}

const REFUSAL_WORDS: Record<string, string> = {
  SAFETY: 'safety',
  IMAGE_SAFETY: 'safety',
  BLOCKLIST: 'blocked terms',
  PROHIBITED_CONTENT: 'prohibited content',
  IMAGE_PROHIBITED_CONTENT: 'prohibited content',
  SPII: 'sensitive personal information',
  JAILBREAK: 'safety',
  MODEL_ARMOR: 'safety',
  RECITATION: 'recitation',
  IMAGE_RECITATION: 'recitation',
  // A prompt blocked for "other" reasons is still the provider declining this prompt.
  OTHER: 'blocked by the provider',
};

/**
 * Turns a generateContent response into a ModelResponse, or the failure that explains why the
 * model would not answer. An empty or cut-off answer is returned as it is: the step's parser
 * judges it.
 */
export function readGeminiResponse(
  response: GenerateContentResponse,
  requestedModel: string,
  context: ProviderErrorContext,
): ModelResponse {
  const usage = readUsage(response);
  throwIfRefused(response, context, usage);
  const candidate = response.candidates?.[0];
  const finishReason = candidate?.finishReason;
  return {
    // `text` joins the first candidate's text parts and skips thought parts (GenerateContentResponse.text).
    text: candidate ? (response.text ?? '') : '',
    usage,
    model: response.modelVersion || requestedModel,
    finishReason: candidate ? (finishReason ?? 'none') : null,
    truncated: finishReason === 'MAX_TOKENS',
  };
}

/**
 * Turns an image model's generateContent response into an ImageResponse, or the failure that
 * explains why the model would not draw. An answer without a picture (NO_IMAGE, text only) is
 * returned with image null: the step decides what that means.
 */
export function readGeminiImageResponse(
  response: GenerateContentResponse,
  requestedModel: string,
  context: ProviderErrorContext,
): ImageResponse {
  const usage = readUsage(response);
  throwIfRefused(response, context, usage);
  const candidate = response.candidates?.[0];
  // Models that think in pictures send draft images as thought parts; the answer is the last
  // image that is not a thought.
  const imageParts = (candidate?.content?.parts ?? []).filter(
    (part) => !part.thought && part.inlineData?.data && (part.inlineData.mimeType ?? '').startsWith('image/'),
  );
  const inlineData = imageParts.at(-1)?.inlineData;
  const image: GeneratedImage | null = inlineData?.data
    ? { mimeType: inlineData.mimeType ?? 'image/png', data: new Uint8Array(Buffer.from(inlineData.data, 'base64')) }
    : null;
  return {
    image,
    text: candidate ? (response.text ?? '') : '',
    usage,
    model: response.modelVersion || requestedModel,
    finishReason: candidate ? (candidate.finishReason ?? 'none') : null,
  };
}

/** A blocked prompt or a refusing finish reason, as a non-retryable ProviderRefused carrying the billed tokens. */
function throwIfRefused(response: GenerateContentResponse, context: ProviderErrorContext, usage: TokenUsage): void {
  // A blocked prompt comes back with promptFeedback.blockReason and no candidates at all.
  const blockReason = response.promptFeedback?.blockReason;
  if (blockReason && blockReason !== 'BLOCKED_REASON_UNSPECIFIED') {
    throw refusedFailure(REFUSAL_WORDS[blockReason] ?? 'blocked by the provider', blockReason, context, usage);
  }
  const finishReason = response.candidates?.[0]?.finishReason;
  // OTHER as a finish reason is not a refusal: the candidate just ended; its text (if any) is judged.
  if (finishReason && finishReason !== 'OTHER' && REFUSAL_WORDS[finishReason]) {
    throw refusedFailure(REFUSAL_WORDS[finishReason]!, finishReason, context, usage);
  }
}

function readUsage(response: GenerateContentResponse): TokenUsage {
  const usage = response.usageMetadata;
  // Image models report the image's share of the output per modality; it has its own price.
  const imageOutputTokens = (usage?.candidatesTokensDetails ?? [])
    .filter((detail) => detail.modality === 'IMAGE')
    .reduce((sum, detail) => sum + (detail.tokenCount ?? 0), 0);
  return {
    // promptTokenCount includes the cached part (cachedContentTokenCount), as OpenAI's prompt_tokens does.
    inputTokens: usage?.promptTokenCount ?? 0,
    // Thinking tokens are billed as output, and OpenAI's completion_tokens include them too.
    outputTokens: (usage?.candidatesTokenCount ?? 0) + (usage?.thoughtsTokenCount ?? 0),
    cachedInputTokens: usage?.cachedContentTokenCount ?? 0,
    ...(imageOutputTokens > 0 ? { imageOutputTokens } : {}),
  };
}

function toGeminiPart(part: ModelPart): Part {
  if (part.type === 'text') return { text: part.text };
  return { inlineData: { mimeType: part.mimeType, data: Buffer.from(part.data).toString('base64') } };
}

function refusedFailure(
  reason: string,
  providerReason: string,
  context: ProviderErrorContext,
  usage: TokenUsage,
): ApplicationFailure {
  return createProviderFailure({
    provider: 'gemini',
    type: 'ProviderRefused',
    message: `model refused: ${reason} (gemini ${providerReason})`,
    context,
    providerCode: providerReason,
    usage: billedUsage(usage),
  });
}
