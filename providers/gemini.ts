import { GoogleGenAI } from '@google/genai';
import type { GenerateContentResponse, Part } from '@google/genai';
import type { ApplicationFailure } from '@temporalio/common';
import { createProviderFailure, sortGeminiError } from './errors.ts';
import type { ProviderErrorContext } from './errors.ts';
import type { ModelPart, ModelProvider, ModelRequest, ModelResponse } from './provider.ts';

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
      const context: ProviderErrorContext = { step: request.step, problemId: request.problemId, secrets: [options.apiKey] };
      let response: GenerateContentResponse;
      try {
        response = await client.models.generateContent({
          model: request.model,
          contents: [{ role: 'user', parts: request.parts.map(toGeminiPart) }],
          config: {
            ...(request.system ? { systemInstruction: request.system } : {}),
            ...(request.temperature === undefined ? {} : { temperature: request.temperature }),
            // Continuation would send follow-up requests on its own; one call must stay one request.
            automaticContinuation: false,
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

const SAFETY_REASONS = new Set([
  'SAFETY',
  'BLOCKLIST',
  'PROHIBITED_CONTENT',
  'SPII',
  'IMAGE_SAFETY',
  'IMAGE_PROHIBITED_CONTENT',
  'JAILBREAK',
  'MODEL_ARMOR',
]);
const RECITATION_REASONS = new Set(['RECITATION', 'IMAGE_RECITATION']);

/**
 * Turns a generateContent response into a ModelResponse, or the failure that explains why it
 * holds no usable answer.
 */
export function readGeminiResponse(
  response: GenerateContentResponse,
  requestedModel: string,
  context: ProviderErrorContext,
): ModelResponse {
  const blockReason = response.promptFeedback?.blockReason;
  if (blockReason && blockReason !== 'BLOCKED_REASON_UNSPECIFIED') {
    throw refusedFailure(RECITATION_REASONS.has(blockReason) ? 'recitation' : 'safety', blockReason, context);
  }
  const candidate = response.candidates?.[0];
  const finishReason = candidate?.finishReason;
  if (finishReason && SAFETY_REASONS.has(finishReason)) throw refusedFailure('safety', finishReason, context);
  if (finishReason && RECITATION_REASONS.has(finishReason)) throw refusedFailure('recitation', finishReason, context);
  const text = candidate ? response.text : undefined;
  if (!text) {
    const reason = candidate ? `finish reason: ${finishReason ?? 'none'}` : 'no candidates';
    throw createProviderFailure({
      provider: 'gemini',
      type: 'ProviderEmptyAnswer',
      message: `gemini gave an empty answer at step ${context.step} (${reason})`,
      context,
    });
  }
  const usage = response.usageMetadata;
  return {
    text,
    usage: {
      inputTokens: usage?.promptTokenCount ?? 0,
      // Thinking tokens are billed as output, and OpenAI's completion_tokens include them too.
      outputTokens: (usage?.candidatesTokenCount ?? 0) + (usage?.thoughtsTokenCount ?? 0),
    },
    model: response.modelVersion || requestedModel,
  };
}

function toGeminiPart(part: ModelPart): Part {
  if (part.type === 'text') return { text: part.text };
  return { inlineData: { mimeType: part.mimeType, data: Buffer.from(part.data).toString('base64') } };
}

function refusedFailure(reason: string, providerReason: string, context: ProviderErrorContext): ApplicationFailure {
  return createProviderFailure({
    provider: 'gemini',
    type: 'ProviderRefused',
    message: `model refused: ${reason} (gemini, step ${context.step}, ${providerReason})`,
    context,
    providerCode: providerReason,
  });
}
