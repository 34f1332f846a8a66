import { setTimeout as sleep } from 'node:timers/promises';
import { ApplicationFailure } from '@temporalio/common';
import { createProviderFailure, formatSeconds, providerFailureDetails } from './errors.ts';
import type { ImageRequest, ImageResponse, ModelProvider, ModelRequest, ModelResponse } from './provider.ts';

export interface RateLimitCooldownOptions {
  /**
   * Longest a call waits inside its activity for a cooldown to end; beyond it the call is handed
   * back to Temporal with the remaining time as nextRetryDelay, freeing the worker slot.
   * @default 20000
   */
  maxWaitMs?: number;
  /** Cooldown after a 429 that named no delay. @default 1000 */
  defaultCooldownMs?: number;
  /**
   * Gap between the calls released when a cooldown ends, so they do not all arrive in the same
   * instant and trip the limit again. Set it to the configured request interval. @default 0
   */
  releaseSpacingMs?: number;
  /** For tests. */
  now?: () => number;
}

/**
 * Makes a 429 slow this worker down instead of letting its other calls run into the same limit.
 * The task queue's server-side rate (maxTaskQueueActivitiesPerSecond) paces what all workers
 * start; this covers what that cannot see: the provider saying "too fast" (a lower real limit,
 * other clients on the same key). After a 429 for a model, later calls for that model wait until
 * the provider's Retry-After has passed and then go one `releaseSpacingMs` apart. The failed call
 * itself goes back to Temporal with nextRetryDelay, as sorted. Nothing here retries a request.
 */
export function withRateLimitCooldown(provider: ModelProvider, options: RateLimitCooldownOptions = {}): ModelProvider {
  const maxWaitMs = options.maxWaitMs ?? 20_000;
  const defaultCooldownMs = options.defaultCooldownMs ?? 1_000;
  const releaseSpacingMs = options.releaseSpacingMs ?? 0;
  const now = options.now ?? Date.now;
  /** Per model: no request before this time. */
  const cooldownUntil = new Map<string, number>();
  /** Per model: the latest start time handed to a waiting call. */
  const lastRelease = new Map<string, number>();

  async function waitForCooldown(request: ModelRequest | ImageRequest): Promise<void> {
    const until = cooldownUntil.get(request.model);
    if (until === undefined || until <= now()) return;
    const slot = Math.max(until, (lastRelease.get(request.model) ?? 0) + releaseSpacingMs);
    const wait = slot - now();
    if (wait > maxWaitMs) {
      throw createProviderFailure({
        provider: provider.name,
        type: 'ProviderRateLimited',
        message: `rate limited by ${provider.name} (429 earlier on this worker), retry after ${formatSeconds(wait)}`,
        context: { step: request.step, problemId: request.problemId, model: request.model },
        retryAfterMs: wait,
      });
    }
    lastRelease.set(request.model, slot);
    try {
      await sleep(wait, undefined, request.signal ? { signal: request.signal } : {});
    } catch (error) {
      if (request.signal?.aborted) throw request.signal.reason ?? error;
      throw error;
    }
  }

  async function paced<T>(request: ModelRequest | ImageRequest, call: () => Promise<T>): Promise<T> {
    await waitForCooldown(request);
    try {
      return await call();
    } catch (error) {
      if (error instanceof ApplicationFailure && error.type === 'ProviderRateLimited') {
        const delay = providerFailureDetails(error)?.retryAfterMs ?? defaultCooldownMs;
        const until = now() + delay;
        if (until > (cooldownUntil.get(request.model) ?? 0)) cooldownUntil.set(request.model, until);
      }
      throw error;
    }
  }

  return {
    name: provider.name,
    generate: (request: ModelRequest): Promise<ModelResponse> => paced(request, () => provider.generate(request)),
    generateImage: (request: ImageRequest): Promise<ImageResponse> =>
      paced(request, () => provider.generateImage(request)),
  };
}
