import { ApplicationFailure } from '@temporalio/common';
import type { BatchClient, BatchLine, BatchResult, BatchState, BatchStatus } from '../../providers/batch.ts';

/** What the fake answers to one request of an ended batch. */
export type FakeOutcome = 'ok' | 'retryable' | 'non-retryable' | 'missing';

/** How the fake treats the batches of one build (the submission key starts with the build id). */
export interface FakeBatchPlan {
  /**
   * Checks (`get`) that still see the batch running before it ends; Infinity keeps it running.
   * @default 1
   */
  checksInProgress?: number;
  /** @default 'completed' */
  endStatus?: BatchStatus;
  /** @default every request 'ok' */
  outcomeOf?: (customId: string) => FakeOutcome;
  /**
   * Submissions that throw right after the batch was created (as a connection lost before the
   * answer came back would).
   * @default 0
   */
  failuresAfterSubmit?: number;
  /** Submissions return only once this settles (the batch is created at once): a slow upload. */
  submitted?: Promise<void>;
  /** The provider forgets the batch: checking or reading it fails for good (404). @default false */
  lost?: boolean;
}

export interface FakeBatch {
  id: string;
  submissionKey: string;
  lines: BatchLine[];
  checks: number;
  status: BatchStatus;
}

/** A provider's batch interface in memory: batches by id, ended after a number of checks. */
export interface FakeBatchClient extends BatchClient {
  readonly batches: FakeBatch[];
  readonly cancelled: string[];
  /** Sets how the batches of one build are treated. */
  plan(buildId: string, plan: FakeBatchPlan): void;
  batchesOf(buildId: string): FakeBatch[];
}

/** The text the fake answers a request with. */
export function fakeAnswerText(customId: string): string {
  return `answer to ${customId}`;
}

const ENDED: BatchStatus[] = ['completed', 'failed', 'expired', 'cancelled'];

export function createFakeBatchClient(): FakeBatchClient {
  const batches: FakeBatch[] = [];
  const cancelled: string[] = [];
  const plans = new Map<string, FakeBatchPlan>();
  const failuresLeft = new Map<string, number>();

  function planOf(submissionKey: string): FakeBatchPlan {
    return plans.get(buildOf(submissionKey)) ?? {};
  }

  function batchOf(id: string): FakeBatch {
    const batch = batches.find((candidate) => candidate.id === id);
    if (!batch) throw new Error(`no batch ${id}`);
    return batch;
  }

  function stateOf(batch: FakeBatch): BatchState {
    return {
      id: batch.id,
      status: batch.status,
      counts: { total: batch.lines.length, completed: 0, failed: 0 },
      ended: ENDED.includes(batch.status),
      errors: [],
    };
  }

  function resultOf(line: BatchLine, outcome: FakeOutcome): BatchResult | undefined {
    const { customId } = line;
    if (outcome === 'missing') return undefined;
    if (outcome === 'retryable')
      return {
        customId,
        ok: false,
        failure: { type: 'ProviderRateLimited', message: `too many requests for ${customId}`, nonRetryable: false },
      };
    if (outcome === 'non-retryable')
      return {
        customId,
        ok: false,
        failure: { type: 'ProviderBadRequest', message: `the prompt of ${customId} is refused`, nonRetryable: true },
      };
    return {
      customId,
      ok: true,
      kind: 'text',
      response: {
        text: fakeAnswerText(customId),
        usage: { inputTokens: 10, outputTokens: 5, cachedInputTokens: 0 },
        model: line.request.model,
        finishReason: 'stop',
        truncated: false,
      },
    };
  }

  return {
    provider: 'openai',
    limits: { maxRequests: 50_000, maxBytes: 200 * 1024 * 1024 },
    batches,
    cancelled,

    plan(buildId, plan) {
      plans.set(buildId, plan);
      failuresLeft.set(buildId, plan.failuresAfterSubmit ?? 0);
    },

    batchesOf(buildId) {
      return batches.filter((batch) => buildOf(batch.submissionKey) === buildId);
    },

    async submit(lines, options) {
      const models = new Set(lines.map((line) => line.request.model));
      if (models.size !== 1) throw new Error(`a batch holds one model, not ${[...models].join(', ')}`);
      const batch: FakeBatch = {
        id: `batch-${batches.length + 1}`,
        submissionKey: options.submissionKey,
        lines,
        checks: 0,
        status: 'validating',
      };
      batches.push(batch);
      const build = buildOf(options.submissionKey);
      const left = failuresLeft.get(build) ?? 0;
      if (left > 0) {
        failuresLeft.set(build, left - 1);
        throw new Error('connection reset after the batch was created');
      }
      await plans.get(build)?.submitted;
      return { id: batch.id };
    },

    async find(submissionKey) {
      const batch = batches.find((candidate) => candidate.submissionKey === submissionKey);
      return batch ? { id: batch.id } : null;
    },

    async get(id) {
      const batch = batchOf(id);
      if (planOf(batch.submissionKey).lost)
        throw ApplicationFailure.create({
          type: 'ProviderNotFound',
          message: `openai 404: no batch ${id}`,
          nonRetryable: true,
        });
      if (!ENDED.includes(batch.status)) {
        const plan = planOf(batch.submissionKey);
        batch.checks += 1;
        batch.status = batch.checks > (plan.checksInProgress ?? 1) ? (plan.endStatus ?? 'completed') : 'in_progress';
      }
      return stateOf(batch);
    },

    async results(id) {
      const batch = batchOf(id);
      const outcomeOf = planOf(batch.submissionKey).outcomeOf ?? (() => 'ok');
      return batch.lines.flatMap((line) => resultOf(line, outcomeOf(line.customId)) ?? []);
    },

    async cancel(id) {
      const batch = batchOf(id);
      cancelled.push(id);
      if (!ENDED.includes(batch.status)) batch.status = 'cancelled';
    },
  };
}

/** The build a submission key (`<buildId>/<submission>`, activities/batches.ts) belongs to. */
function buildOf(submissionKey: string): string {
  return submissionKey.slice(0, submissionKey.indexOf('/'));
}
