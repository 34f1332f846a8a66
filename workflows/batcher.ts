/**
 * One batcher per build and provider (batch mode): it collects the model requests problem
 * workflows send it, submits them as batches to the provider's batch interface, checks on each
 * batch with durable timers (backing off), and once a batch ends has its answers stored and tells
 * each waiting problem which of its requests are answered. Its history holds the batch ids and
 * the requests' keys, never their texts, and it continues as new to stay bounded.
 */
import {
  allHandlersFinished,
  CancellationScope,
  CancelledFailure,
  condition,
  continueAsNew,
  getExternalWorkflowHandle,
  isCancellation,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  setWorkflowOptions,
  workflowInfo,
} from '@temporalio/workflow';
import type { BatchActivities, BatchNotes } from '../activities/batches.ts';
import {
  batchAnswersSignal,
  batcherControlSignal,
  batchProgressQuery,
  batchRequestSignal,
  behaviorOnVersionedWorkers,
  type BatchRequest,
} from './definitions.ts';

export interface BatcherInput {
  buildId: string;
  provider: 'openai' | 'gemini';
  /** The provider's batch task queue, where the llm workers run the batch activities. */
  taskQueue: string;
  /** Submit a group once it holds this many requests… */
  maxRequests: number;
  /** …or this many bytes (below the provider's upload limit)… */
  maxBytes: number;
  /** …or once its oldest request has waited this long. */
  maxWaitMs: number;
  /** First check of a submitted batch after this long; then the wait doubles up to maxPollMs. */
  pollMs: number;
  maxPollMs: number;
  continueAsNewEvents: number;
}

interface PendingRequest {
  request: BatchRequest;
  /** Workflow time it arrived. */
  atMs: number;
}

interface RunningBatch {
  submission: string;
  batchId: string;
  requests: number;
  submittedAtMs: number;
  pollDelayMs: number;
  nextPollAtMs: number;
  status: string;
}

/** What a batcher carries into its next run. */
export interface BatcherState {
  pending: PendingRequest[];
  batches: RunningBatch[];
  /** Batches submitted by this batcher so far: the next submission's number. */
  submitted: number;
  done: number;
  requestsAnswered: number;
  paused: boolean;
  closing: boolean;
  /** How long the last batches took from submission to their end, for the expected finish. */
  recentDurationsMs: number[];
}

/** Until a batch has ended, its expected length is the providers' completion window. */
const COMPLETION_WINDOW_MS = 24 * 60 * 60 * 1000;

// Like the build, a batcher lives for days: it moves to the deployment's current version at its
// next workflow task (a change to this file is guarded by patched() and the replay tests).
setWorkflowOptions(behaviorOnVersionedWorkers('AUTO_UPGRADE'), batcherWorkflow);

export async function batcherWorkflow(input: BatcherInput, carried?: BatcherState): Promise<void> {
  const batches = proxyActivities<BatchActivities>({
    taskQueue: input.taskQueue,
    startToCloseTimeout: '10m',
    heartbeatTimeout: '1m',
    retry: { initialInterval: '5s', backoffCoefficient: 2, maximumInterval: '5m', maximumAttempts: 20 },
  });
  // A submitted batch is the provider's for up to a day: checking on it and reading it go on
  // through any outage (retryable faults never end them); only the provider's final word does.
  const watching = proxyActivities<BatchActivities>({
    taskQueue: input.taskQueue,
    startToCloseTimeout: '10m',
    heartbeatTimeout: '1m',
    retry: { initialInterval: '5s', backoffCoefficient: 2, maximumInterval: '10m' },
  });
  const state: BatcherState = carried ?? {
    pending: [],
    batches: [],
    submitted: 0,
    done: 0,
    requestsAnswered: 0,
    paused: false,
    closing: false,
    recentDurationsMs: [],
  };
  /** Set by a control signal or a new group's first request: the loop looks again at once. */
  let stirred = false;

  /** The custom_ids waiting, so a signal's requests are checked against them at once, not by a scan each. */
  const waitingIds = new Set(state.pending.map((waiting) => waiting.request.customId));

  setHandler(batchRequestSignal, (requests) => {
    for (const request of requests) {
      // The same custom_id again (a problem re-run) replaces the one still waiting.
      if (waitingIds.has(request.customId))
        state.pending = state.pending.filter((waiting) => waiting.request.customId !== request.customId);
      waitingIds.add(request.customId);
      // The first request of a group starts its wait: the loop looks again to set its timer.
      if (!state.pending.some((waiting) => groupOf(waiting.request) === groupOf(request))) stirred = true;
      state.pending.push({ request, atMs: Date.now() });
    }
  });
  setHandler(batcherControlSignal, (command) => {
    if (command === 'pause') state.paused = true;
    if (command === 'resume') state.paused = false;
    if (command === 'close') state.closing = true;
    stirred = true;
  });
  setHandler(batchProgressQuery, () => {
    const running = state.batches.length;
    const typical = median(state.recentDurationsMs) ?? COMPLETION_WINDOW_MS;
    return {
      provider: input.provider,
      waiting: state.pending.length,
      // Submissions the provider took (state.submitted also counts refused ones: it names them).
      submitted: running + state.done,
      inProgress: running,
      done: state.done,
      requestsInProgress: state.batches.reduce((sum, batch) => sum + batch.requests, 0),
      requestsAnswered: state.requestsAnswered,
      paused: state.paused,
      expectedFinishMs: running === 0 ? null : Math.max(...state.batches.map((batch) => batch.submittedAtMs + typical)),
    };
  });

  /** The groups (one model and kind per batch, as both providers require) due for submission, cut to size. */
  function dueGroups(now: number): BatchRequest[][] {
    const groups = new Map<string, PendingRequest[]>();
    for (const waiting of state.pending) {
      const group = groupOf(waiting.request);
      const members = groups.get(group);
      if (members) members.push(waiting);
      else groups.set(group, [waiting]);
    }
    const due: BatchRequest[][] = [];
    for (const group of groups.values()) {
      let chunk: BatchRequest[] = [];
      let bytes = 0;
      for (const { request } of group) {
        if (chunk.length > 0 && (chunk.length >= input.maxRequests || bytes + request.bytes > input.maxBytes)) {
          due.push(chunk);
          chunk = [];
          bytes = 0;
        }
        chunk.push(request);
        bytes += request.bytes;
      }
      const full = chunk.length >= input.maxRequests || bytes >= input.maxBytes;
      const waitedLongEnough = now - group[0]!.atMs >= input.maxWaitMs;
      if (full || waitedLongEnough || state.closing) due.push(chunk);
    }
    return due;
  }

  /** True when some model's waiting requests fill a batch. */
  function hasFullGroup(): boolean {
    const sizes = new Map<string, { count: number; bytes: number }>();
    for (const { request } of state.pending) {
      const group = groupOf(request);
      const size = sizes.get(group) ?? { count: 0, bytes: 0 };
      size.count += 1;
      size.bytes += request.bytes;
      if (size.count >= input.maxRequests || size.bytes >= input.maxBytes) return true;
      sizes.set(group, size);
    }
    return false;
  }

  async function submit(requests: BatchRequest[]): Promise<void> {
    // Submissions run out of reach of a cancellation (below), so the loop must not start another after one.
    if (CancellationScope.current().consideredCancelled) throw new CancelledFailure('the batcher is cancelled');
    state.submitted += 1;
    const first = requests[0]!;
    const submission = `${String(state.submitted).padStart(6, '0')}-${first.kind}-${first.model.replace(/[^A-Za-z0-9._-]/g, '_')}`;
    const submitted = new Set(requests.map((request) => request.customId));
    state.pending = state.pending.filter((waiting) => !submitted.has(waiting.request.customId));
    for (const customId of submitted) waitingIds.delete(customId);
    let batchId: string;
    try {
      // Not cancelled mid-way: the provider may already hold the batch, and only with its id can a
      // cancellation cancel it there rather than leave it running (and billed).
      ({ batchId } = await CancellationScope.nonCancellable(() =>
        batches.submitBatch.executeWithOptions({ summary: `submit ${requests.length} ${first.model} requests` }, [
          { buildId: input.buildId, provider: input.provider, submission, requests },
        ]),
      ));
    } catch (error) {
      if (isCancellation(error)) throw error;
      // The provider refused the batch for good: each problem decides (a later batch, or real time).
      const reason = `the batch could not be submitted: ${failureWords(error)}`;
      await tell(groupByWorkflow(requests, reason));
      return;
    }
    const now = Date.now();
    state.batches.push({
      submission,
      batchId,
      requests: requests.length,
      submittedAtMs: now,
      pollDelayMs: input.pollMs,
      nextPollAtMs: now + input.pollMs,
      status: 'validating',
    });
  }

  async function check(batch: RunningBatch): Promise<void> {
    let checked: { status: string; ended: boolean };
    try {
      checked = await watching.checkBatch.executeWithOptions({ summary: `check batch ${batch.batchId}` }, [
        { batchId: batch.batchId },
      ]);
    } catch (error) {
      if (isCancellation(error)) throw error;
      // The provider's final word on the batch (it no longer knows it, say): read what can be read;
      // its requests go back to their problems unanswered, with the provider's words.
      checked = { status: `unreadable (${failureWords(error)})`, ended: true };
    }
    batch.status = checked.status;
    const now = Date.now();
    if (!checked.ended) {
      batch.pollDelayMs = Math.min(batch.pollDelayMs * 2, input.maxPollMs);
      batch.nextPollAtMs = now + batch.pollDelayMs;
      return;
    }
    const collected = await watching.collectBatch.executeWithOptions(
      { summary: `read batch ${batch.batchId} (${checked.status})` },
      [{ buildId: input.buildId, provider: input.provider, submission: batch.submission, batchId: batch.batchId }],
    );
    await tell(collected.notes);
    state.batches = state.batches.filter((running) => running !== batch);
    state.done += 1;
    state.requestsAnswered += collected.answered;
    state.recentDurationsMs = [...state.recentDurationsMs, now - batch.submittedAtMs].slice(-20);
  }

  try {
    for (;;) {
      const now = Date.now();
      if (!state.paused) for (const requests of dueGroups(now)) await submit(requests);
      for (const batch of state.batches.filter((running) => running.nextPollAtMs <= now)) await check(batch);
      if (state.closing && state.pending.length === 0 && state.batches.length === 0) return;
      const info = workflowInfo();
      if (info.continueAsNewSuggested || info.historyLength >= input.continueAsNewEvents) {
        await condition(allHandlersFinished);
        await continueAsNew<typeof batcherWorkflow>(input, state);
      }
      stirred = false;
      setCurrentDetails(currentDetails());
      const wakeAt = nextWake(now);
      await condition(() => stirred || (!state.paused && hasFullGroup()), Math.max(1, wakeAt - now));
    }
  } catch (error) {
    if (!isCancellation(error)) throw error;
    // `scigen cancel`: what was submitted is cancelled at the provider, so it is not paid for.
    await CancellationScope.nonCancellable(() =>
      Promise.all(state.batches.map((batch) => batches.cancelBatch({ batchId: batch.batchId }).catch(() => undefined))),
    );
    throw error;
  }

  /** What the Temporal UI shows of the batcher: its batches, and what waits for one. */
  function currentDetails(): string {
    const running = state.batches.map((batch) => `- ${batch.batchId}: ${batch.requests} requests, ${batch.status}`);
    return [
      `**${input.provider} batches** of build ${input.buildId}${state.paused ? ' (paused: nothing new is submitted)' : ''}`,
      `${state.batches.length} running, ${state.done} done; ${state.requestsAnswered} requests answered, ${state.pending.length} waiting for a batch`,
      ...running,
    ].join('\n\n');
  }

  /** The next moment something is due: a batch to check, or a group's wait running out. */
  function nextWake(now: number): number {
    const moments = state.batches.map((batch) => batch.nextPollAtMs);
    if (!state.paused && state.pending.length > 0)
      moments.push(Math.min(...state.pending.map((waiting) => waiting.atMs)) + input.maxWaitMs);
    return moments.length === 0 ? now + 60 * 60 * 1000 : Math.min(...moments);
  }

  async function tell(notes: BatchNotes[]): Promise<void> {
    await Promise.all(
      notes.map(({ workflowId, answers }) =>
        // A problem that is gone (cancelled, or finished another way) has no one waiting.
        getExternalWorkflowHandle(workflowId)
          .signal(batchAnswersSignal, answers)
          .catch(() => undefined),
      ),
    );
  }
}

/** Requests that may share a batch: one kind and one model (both providers require one model per batch). */
function groupOf(request: BatchRequest): string {
  return `${request.kind}/${request.model}`;
}

function groupByWorkflow(requests: BatchRequest[], reason: string): BatchNotes[] {
  const notes = new Map<string, BatchNotes>();
  for (const request of requests) {
    const entry = notes.get(request.workflowId) ?? { workflowId: request.workflowId, answers: [] };
    entry.answers.push({ customId: request.customId, answered: false, reason });
    notes.set(request.workflowId, entry);
  }
  return [...notes.values()];
}

/** The words of an activity's failure, without Temporal's wrapping. */
function failureWords(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  return error.cause instanceof Error ? error.cause.message : error.message;
}

function median(values: number[]): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}
