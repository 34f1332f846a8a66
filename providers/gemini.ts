import { GoogleGenAI } from '@google/genai';
import type { GenerateContentParameters, GenerateContentResponse, Part } from '@google/genai';
import type { ApplicationFailure } from '@temporalio/common';
import { billedUsage, createProviderFailure, sortGeminiError } from './errors.ts';
import type { ProviderErrorContext } from './errors.ts';
import type { ModelPart, ModelProvider, ModelRequest, ModelResponse, TokenUsage } from './provider.ts';
import { toGeminiResponseJsonSchema } from './response-schema.ts';

export interface GeminiProviderOptions {
  apiKey: string;
  /**
   * Where the Gemini API lives (a proxy, the scripted endpoint).
   * @default process.env.SCIGEN_GEMINI_BASE_URL, else the SDK's default
   */
  baseUrl?: string;
  /** Deadline for one HTTP request, in milliseconds. */
  timeoutMs: number;
}

export function createGeminiProvider(options: GeminiProviderOptions): ModelProvider {
  const baseUrl = options.baseUrl || process.env['SCIGEN_GEMINI_BASE_URL']?.trim() || undefined;
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

  return {
    name: 'gemini',
    async generate(request: ModelRequest): Promise<ModelResponse> {
      const context: ProviderErrorContext = {
        step: request.step,
        problemId: request.problemId,
        model: request.model,
        timeoutMs: options.timeoutMs,
        secrets: [options.apiKey],
      };
      const parameters = toGeminiParameters(request);
      let response: GenerateContentResponse;
      try {
        response = await client.models.generateContent({
          ...parameters,
          config: {
            ...parameters.config,
            // Request-level httpOptions are merged over the client's (ApiClient.patchHttpOptions),
            // so the timeout and the single attempt above still hold.
            httpOptions: { headers: { 'x-scigen-step': request.step, 'x-scigen-problem': request.problemId } },
            ...(request.signal ? { abortSignal: request.signal } : {}),
          },
        });
      } catch (error) {
        // Cancellation is not a provider fault: hand Temporal its own reason (a CancelledFailure
        // inside an activity) so the activity reports cancelled instead of failed.
        if (request.signal?.aborted) throw request.signal.reason ?? error;
        throw sortGeminiError(error, context);
      }
      return readGeminiResponse(response, request.model, context);
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
      ...(request.responseSchema
        ? { responseMimeType: 'application/json', responseJsonSchema: toGeminiResponseJsonSchema(request.responseSchema) }
        : {}),
      // Continuation would send follow-up requests on its own; one call must stay one request.
      automaticContinuation: false,
    },
  };
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
  // A blocked prompt comes back with promptFeedback.blockReason and no candidates at all.
  const blockReason = response.promptFeedback?.blockReason;
  if (blockReason && blockReason !== 'BLOCKED_REASON_UNSPECIFIED') {
    throw refusedFailure(REFUSAL_WORDS[blockReason] ?? 'blocked by the provider', blockReason, context, usage);
  }
  const candidate = response.candidates?.[0];
  const finishReason = candidate?.finishReason;
  // OTHER as a finish reason is not a refusal: the candidate just ended; its text (if any) is judged.
  if (finishReason && finishReason !== 'OTHER' && REFUSAL_WORDS[finishReason]) {
    throw refusedFailure(REFUSAL_WORDS[finishReason]!, finishReason, context, usage);
  }
  return {
    // `text` joins the first candidate's text parts and skips thought parts (GenerateContentResponse.text).
    text: candidate ? response.text ?? '' : '',
    usage,
    model: response.modelVersion || requestedModel,
    finishReason: candidate ? finishReason ?? 'none' : null,
    truncated: finishReason === 'MAX_TOKENS',
  };
}

function readUsage(response: GenerateContentResponse): TokenUsage {
  const usage = response.usageMetadata;
  return {
    // promptTokenCount includes the cached part (cachedContentTokenCount), as OpenAI's prompt_tokens does.
    inputTokens: usage?.promptTokenCount ?? 0,
    // Thinking tokens are billed as output, and OpenAI's completion_tokens include them too.
    outputTokens: (usage?.candidatesTokenCount ?? 0) + (usage?.thoughtsTokenCount ?? 0),
    cachedInputTokens: usage?.cachedContentTokenCount ?? 0,
  };
}

function toGeminiPart(part: ModelPart): Part {
  if (part.type === 'text') return { text: part.text };
  return { inlineData: { mimeType: part.mimeType, data: Buffer.from(part.data).toString('base64') } };
}

function refusedFailure(reason: string, providerReason: string, context: ProviderErrorContext, usage: TokenUsage): ApplicationFailure {
  return createProviderFailure({
    provider: 'gemini',
    type: 'ProviderRefused',
    message: `model refused: ${reason} (gemini ${providerReason})`,
    context,
    providerCode: providerReason,
    usage: billedUsage(usage),
  });
}
