import { createGeminiProvider } from './gemini.ts';
import { createOpenAiProvider } from './openai.ts';
import type { ModelProvider } from './provider.ts';

export interface ProviderSettings {
  provider: 'openai' | 'gemini';
  /** @default env OPENAI_BASE_URL, else the OpenAI API */
  openAiBaseUrl?: string;
  /** @default env SCIGEN_GEMINI_BASE_URL, else the Gemini API */
  geminiBaseUrl?: string;
  /** Deadline for one HTTP request, in milliseconds. */
  timeoutMs: number;
}

/**
 * Builds the configured provider. API keys come from the environment only, so they never pass
 * through config files, workflow inputs or history.
 */
export function createProvider(settings: ProviderSettings, env: NodeJS.ProcessEnv = process.env): ModelProvider {
  if (settings.provider === 'openai') {
    const apiKey = readVariable(env, 'OPENAI_API_KEY');
    if (!apiKey) {
      throw new Error(
        'OPENAI_API_KEY is not set; export it (and OPENAI_BASE_URL for an OpenAI-compatible server), ' +
          'or choose SCIGEN_PROVIDER=gemini with GEMINI_API_KEY.',
      );
    }
    const baseURL = settings.openAiBaseUrl || readVariable(env, 'OPENAI_BASE_URL');
    return createOpenAiProvider({ apiKey, timeoutMs: settings.timeoutMs, ...(baseURL ? { baseURL } : {}) });
  }
  const apiKey = readVariable(env, 'GEMINI_API_KEY') ?? readVariable(env, 'GOOGLE_API_KEY');
  if (!apiKey) {
    throw new Error(
      'GEMINI_API_KEY is not set (GOOGLE_API_KEY is accepted too); export it, ' +
        'or choose SCIGEN_PROVIDER=openai with OPENAI_API_KEY.',
    );
  }
  const baseUrl = settings.geminiBaseUrl || readVariable(env, 'SCIGEN_GEMINI_BASE_URL');
  return createGeminiProvider({ apiKey, timeoutMs: settings.timeoutMs, ...(baseUrl ? { baseUrl } : {}) });
}

function readVariable(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const value = env[name]?.trim();
  return value ? value : undefined;
}
