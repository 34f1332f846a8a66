import type { ResolvedProvider } from '../config/provider.ts';
import { DEFAULT_REQUESTS_PER_MINUTE, type Config } from '../config/schema.ts';

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
