import OpenAI from 'openai';
import type { ClientOptions } from 'openai';
import type {
  ChatCompletion,
  ChatCompletionContentPart,
  ChatCompletionMessageParam,
} from 'openai/resources/chat/completions';
import type { ApplicationFailure } from '@temporalio/common';
import { createProviderFailure, sortOpenAiError } from './errors.ts';
import type { ProviderErrorContext } from './errors.ts';
import type { ModelPart, ModelProvider, ModelRequest, ModelResponse } from './provider.ts';

export interface OpenAiProviderOptions {
  apiKey: string;
  /**
   * Any OpenAI-compatible server (vLLM, Ollama, a proxy, the scripted endpoint).
   * @default process.env.OPENAI_BASE_URL, else the OpenAI API (the SDK reads the variable itself)
   */
  baseURL?: string;
  /** Deadline for one HTTP request, in milliseconds. */
  timeoutMs: number;
  /** A fetch to send requests with instead of the global one (tests, proxies). */
  fetch?: ClientOptions['fetch'];
}

export function createOpenAiProvider(options: OpenAiProviderOptions): ModelProvider {
  const client = new OpenAI({
    apiKey: options.apiKey,
    // An empty option must not hide OPENAI_BASE_URL: undefined lets the SDK read the variable.
    baseURL: options.baseURL || undefined,
    timeout: options.timeoutMs,
    // Temporal is the only retry layer; SDK retries would hide attempts from the workflow history.
    maxRetries: 0,
    ...(options.fetch ? { fetch: options.fetch } : {}),
  });

  return {
    name: 'openai',
    async generate(request: ModelRequest): Promise<ModelResponse> {
      const context: ProviderErrorContext = { step: request.step, problemId: request.problemId, secrets: [options.apiKey] };
      let completion: ChatCompletion;
      try {
        completion = await client.chat.completions.create(
          {
            model: request.model,
            messages: toOpenAiMessages(request),
            ...(request.temperature === undefined ? {} : { temperature: request.temperature }),
          },
          {
            headers: { 'x-scigen-step': request.step, 'x-scigen-problem': request.problemId },
            signal: request.signal,
          },
        );
      } catch (error) {
        // Cancellation is not a provider fault: hand Temporal its own reason (a CancelledFailure
        // inside an activity) so the activity reports cancelled instead of failed.
        if (request.signal?.aborted) throw request.signal.reason ?? error;
        throw sortOpenAiError(error, context);
      }
      return readOpenAiCompletion(completion, request.model, context);
    },
  };
}

/**
 * Turns a chat completion into a ModelResponse, or the failure that explains why it holds no
 * usable answer.
 */
export function readOpenAiCompletion(
  completion: ChatCompletion,
  requestedModel: string,
  context: ProviderErrorContext,
): ModelResponse {
  const choice = completion.choices?.[0];
  const refusal = choice?.message?.refusal;
  if (refusal) throw refusedFailure(truncate(refusal, 200), context);
  if (choice?.finish_reason === 'content_filter') throw refusedFailure('safety', context);
  const text = choice?.message?.content;
  if (!text) {
    const reason = choice ? `finish reason: ${choice.finish_reason}` : 'no choices';
    throw createProviderFailure({
      provider: 'openai',
      type: 'ProviderEmptyAnswer',
      message: `openai gave an empty answer at step ${context.step} (${reason})`,
      context,
    });
  }
  return {
    text,
    usage: {
      inputTokens: completion.usage?.prompt_tokens ?? 0,
      outputTokens: completion.usage?.completion_tokens ?? 0,
    },
    model: completion.model || requestedModel,
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
  const base64 = Buffer.from(part.data).toString('base64');
  return { type: 'image_url', image_url: { url: `data:${part.mimeType};base64,${base64}` } };
}

function refusedFailure(reason: string, context: ProviderErrorContext): ApplicationFailure {
  return createProviderFailure({
    provider: 'openai',
    type: 'ProviderRefused',
    message: `model refused: ${reason} (openai, step ${context.step})`,
    context,
  });
}

function truncate(text: string, limit: number): string {
  return text.length <= limit ? text : `${text.slice(0, limit - 1)}…`;
}
