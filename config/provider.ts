import type { Config } from './schema.ts';

/** Who answers a build's model calls; `scripted` is the bundled demo endpoint. */
export type ResolvedProvider = 'gemini' | 'openai' | 'scripted';

/** Thrown when no provider can be used; the message says what to set. */
export class ProviderNotConfiguredError extends Error {
  override readonly name = 'ProviderNotConfiguredError';
}

/**
 * The one decision of which provider answers (CONTRACT.md, LLM wire contract), made where a build
 * starts and where an llm worker starts: an explicit `provider` (SCIGEN_PROVIDER) wins; `auto`
 * means gemini with a Gemini key, else openai with an OpenAI key, else the scripted demo endpoint
 * when the caller allows it (`npm start`), else a clear error. The build records the answer in
 * its settings, since its model calls go to that provider's task queue.
 */
export function chooseProvider(config: Config, options: { allowScripted: boolean }): ResolvedProvider {
  if (config.provider !== 'auto') return config.provider;
  if (config.credentials.geminiApiKey) return 'gemini';
  if (config.credentials.openAiApiKey) return 'openai';
  if (options.allowScripted) return 'scripted';
  throw new ProviderNotConfiguredError(
    'no model provider configured: set GEMINI_API_KEY or OPENAI_API_KEY (with OPENAI_BASE_URL for an ' +
      'OpenAI-compatible server), or SCIGEN_PROVIDER=gemini|openai (or "provider" in the config) where the build ' +
      'starts when dedicated llm workers hold the key, or SCIGEN_PROVIDER=scripted for the bundled scripted ' +
      'endpoint (canned answers for the sample problems only)',
  );
}
