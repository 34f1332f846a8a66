import type { Credentials } from '../config/environment.ts';
import { createGeminiProvider } from './gemini.ts';
import { createOpenAiProvider } from './openai.ts';
import type { ModelProvider } from './provider.ts';
import type { BatchClient } from './batch.ts';
import { createGeminiBatchClient } from './gemini-batch.ts';
import { createOpenAiBatchClient } from './openai-batch.ts';

export interface ProviderSettings {
  provider: 'openai' | 'gemini';
  /** The API keys the environment gave (config/environment.ts); only the provider's own is used. */
  credentials: Credentials;
  /** Another server speaking the provider's API (`openai.baseUrl` / `gemini.baseUrl`). @default the provider's API */
  baseUrl?: string;
  /** Deadline for one HTTP request, in milliseconds. */
  timeoutMs: number;
}

/**
 * Builds the configured provider. API keys come from the environment only, so they never pass
 * through config files, workflow inputs or history.
 */
export function createProvider(settings: ProviderSettings): ModelProvider {
  const { baseUrl, timeoutMs } = settings;
  if (settings.provider === 'openai') {
    const apiKey = settings.credentials.openAiApiKey;
    if (!apiKey) {
      throw new Error(
        'OPENAI_API_KEY is not set; export it (and OPENAI_BASE_URL for an OpenAI-compatible server), ' +
          'or choose SCIGEN_PROVIDER=gemini with GEMINI_API_KEY.',
      );
    }
    return createOpenAiProvider({ apiKey, timeoutMs, ...(baseUrl ? { baseURL: baseUrl } : {}) });
  }
  const apiKey = settings.credentials.geminiApiKey;
  if (!apiKey) {
    throw new Error(
      'GEMINI_API_KEY is not set (GOOGLE_API_KEY is accepted too); export it, ' +
        'or choose SCIGEN_PROVIDER=openai with OPENAI_API_KEY.',
    );
  }
  return createGeminiProvider({ apiKey, timeoutMs, ...(baseUrl ? { baseUrl } : {}) });
}

/**
 * The configured provider's batch interface (batch mode), under the same rules as createProvider:
 * the key from the environment only.
 */
export function createBatchClient(settings: ProviderSettings): BatchClient {
  const { baseUrl, timeoutMs } = settings;
  if (settings.provider === 'openai') {
    const apiKey = settings.credentials.openAiApiKey;
    if (!apiKey) throw new Error('OPENAI_API_KEY is not set; batch mode needs it');
    return createOpenAiBatchClient({ apiKey, timeoutMs, ...(baseUrl ? { baseUrl } : {}) });
  }
  const apiKey = settings.credentials.geminiApiKey;
  if (!apiKey) throw new Error('GEMINI_API_KEY is not set (GOOGLE_API_KEY is accepted too); batch mode needs it');
  return createGeminiBatchClient({ apiKey, timeoutMs, ...(baseUrl ? { baseUrl } : {}) });
}
