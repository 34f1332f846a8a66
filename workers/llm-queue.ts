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
 * The queue of one provider's batch-mode work: model steps that only store their requests or read
 * stored answers, and the batcher's submit / check / read activities. No request rate: none of it
 * is a real-time model call (a step's real-time fallback goes to llmTaskQueue).
 */
export function batchTaskQueue(prefix: string, provider: ResolvedProvider): string {
  return `${llmTaskQueue(prefix, provider)}-batch`;
}

/** The provider whose model calls an llm task queue of llmTaskQueue's naming carries; undefined for another name. */
export function providerOfLlmTaskQueue(name: string): ResolvedProvider | undefined {
  return /-llm-(gemini|openai|scripted)$/.exec(name)?.[1] as ResolvedProvider | undefined;
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

/** Calls at once for a model server on this machine or a private network, unless configured (config `maxConcurrency`). */
export const LOCAL_SERVER_CONCURRENCY = 4;

/**
 * Model calls one llm worker has in flight. `maxConcurrency` always holds; a base URL on localhost
 * or a private address with no `requestsPerMinute` gets LOCAL_SERVER_CONCURRENCY, so a build's
 * window does not flood a server that answers a few requests at a time; anything else gets
 * `workers.llmConcurrency`.
 */
export function llmConcurrency(config: Config, provider: ResolvedProvider): number {
  const workerLimit = config.workers.llmConcurrency;
  if (provider === 'scripted') return workerLimit;
  const { maxConcurrency, requestsPerMinute, baseUrl } = config[provider];
  if (maxConcurrency !== undefined) return Math.min(maxConcurrency, workerLimit);
  if (baseUrl !== undefined && requestsPerMinute === undefined && isLocalAddress(baseUrl))
    return Math.min(LOCAL_SERVER_CONCURRENCY, workerLimit);
  return workerLimit;
}

/** True for a URL whose host is this machine or a private network (RFC 1918, link-local, unique-local IPv6). */
export function isLocalAddress(url: string): boolean {
  const host = new URL(url).hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (host === 'localhost' || host.endsWith('.localhost') || host === '::1' || host === '0.0.0.0') return true;
  if (/^(fc|fd)[0-9a-f]{2}:/.test(host) || host.startsWith('fe80:')) return true;
  const octets = host.split('.').map(Number);
  if (octets.length !== 4 || octets.some((octet) => !Number.isInteger(octet) || octet < 0 || octet > 255)) return false;
  const [first, second] = octets as [number, number, number, number];
  return (
    first === 127 ||
    first === 10 ||
    (first === 172 && second >= 16 && second <= 31) ||
    (first === 192 && second === 168) ||
    (first === 169 && second === 254)
  );
}
