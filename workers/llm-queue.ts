import { DEFAULT_REQUESTS_PER_MINUTE, type Config } from '../config/schema.ts';

export type ResolvedProvider = 'gemini' | 'openai' | 'scripted';

/** Thrown when no provider can be used; the message says what to set. */
export class ProviderNotConfiguredError extends Error {
  override readonly name = 'ProviderNotConfiguredError';
}

/**
 * The task queue of one provider's model calls. One queue per provider, because Temporal's
 * server-side rate (maxTaskQueueActivitiesPerSecond) is a property of a queue: every worker for
 * that provider then shares one limit, the provider's. The workflow sends each model step here.
 */
export function llmTaskQueue(prefix: string, provider: ResolvedProvider): string {
  return `${prefix}-llm-${provider}`;
}

/**
 * The server-side rate for a provider's queue, in activities per second; undefined = no limit.
 * An explicit `requestsPerMinute` always holds. Otherwise the provider's own API gets a default
 * below its entry-tier limit, while another server (a base URL of vLLM, Ollama, a proxy, the
 * scripted endpoint) gets none: its limits are its operator's, and a 429 still slows the worker.
 */
export function llmRequestsPerSecond(config: Config, provider: ResolvedProvider): number | undefined {
  if (provider === 'scripted') return undefined;
  const { requestsPerMinute, baseUrl } = config[provider];
  if (requestsPerMinute !== undefined) return requestsPerMinute / 60;
  return baseUrl === undefined ? DEFAULT_REQUESTS_PER_MINUTE[provider] / 60 : undefined;
}

/**
 * The provider a build's problems are sent to, decided where the build starts so the workflow
 * can name the queue. Without an explicit provider, API keys decide as they do for the workers;
 * an embedded build without keys only gets this far with the scripted demo allowed.
 */
export function providerForBuild(config: Config, environment: NodeJS.ProcessEnv = process.env): ResolvedProvider {
  if (config.provider !== 'auto') return config.provider;
  if (environment['GEMINI_API_KEY'] || environment['GOOGLE_API_KEY']) return 'gemini';
  if (environment['OPENAI_API_KEY']) return 'openai';
  if (config.temporal.address === undefined) return 'scripted';
  throw new ProviderNotConfiguredError(
    'cannot tell which provider the dedicated llm workers use: set SCIGEN_PROVIDER=gemini|openai (or "provider" in the config) ' +
      "where the build is started, so its model calls go to that provider's task queue",
  );
}
