import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { WorkflowFailedError, type Client, type WorkflowHandle } from '@temporalio/client';
import { CancelledFailure } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { Runtime, Worker } from '@temporalio/worker';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createConsoleLogger } from '../../cli/logger.ts';
import { readStoredAnswer, type StoredBatchRequest } from '../../activities/batch-calls.ts';
import { createBatchActivities } from '../../activities/batches.ts';
import { batchCustomId } from '../../domain/batch.ts';
import type { ArtifactStore } from '../../storage/artifact-store.ts';
import { batchAnswerKey, batchRequestKey } from '../../storage/build-layout.ts';
import type { BatcherInput } from '../../workflows/batcher.ts';
import {
  batcherControlSignal,
  batcherWorkflowId,
  batchProgressQuery,
  batchRequestSignal,
  type BatchAnswerNote,
  type BatchProgress,
  type BatchRequest,
} from '../../workflows/definitions.ts';
import { createFakeBatchClient, fakeAnswerText, type FakeBatchClient } from '../helpers/fake-batch-client.ts';
import { startWorkflowTestEnvironment, type WorkflowTestEnvironment } from '../helpers/workflow-environment.ts';
import { batcherWorkflow, batchListenerWorkflow, listenerNotesQuery } from './batcher-workflows.ts';

Runtime.install({ logger: createConsoleLogger() });

// The batcher on a dev server of its own, its activities real, the provider's batch interface a
// fake in memory; listener workflows stand in for the problems waiting on their answers.

const MODEL = 'model-a';
const OTHER_MODEL = 'model-b';
const HOUR_MS = 60 * 60 * 1000;
/** How long a condition may take to come true before a test gives up (a loaded 2-core machine). */
const PATIENCE = { timeout: 60_000, interval: 100 };

describe('the batcher', () => {
  let environment: WorkflowTestEnvironment;
  let client: Client;
  let store: ArtifactStore;
  let fake: FakeBatchClient;
  const taskQueue = `batcher-${process.pid}`;
  const batchTaskQueue = `batcher-batch-${process.pid}`;
  /** Workflows a test started and left running: ended after it. */
  let started: WorkflowHandle[] = [];

  beforeAll(async () => {
    fake = createFakeBatchClient();
    environment = await startWorkflowTestEnvironment('batcher', async ({ connection, namespace, store }) => [
      await Worker.create({
        connection,
        namespace,
        taskQueue,
        workflowsPath: fileURLToPath(new URL('./batcher-workflows.ts', import.meta.url)),
      }),
      await Worker.create({
        connection,
        namespace,
        taskQueue: batchTaskQueue,
        activities: createBatchActivities({ store, batches: fake }),
      }),
    ]);
    ({ client, store } = environment);
  });

  afterEach(async () => {
    await Promise.all(started.map((handle) => handle.terminate('test over').catch(() => undefined)));
    started = [];
  });

  afterAll(async () => {
    await environment?.close();
  });

  function batcherInput(buildId: string, overrides: Partial<BatcherInput> = {}): BatcherInput {
    return {
      buildId,
      provider: 'openai',
      taskQueue: batchTaskQueue,
      maxRequests: 3,
      maxBytes: 1_000_000,
      maxWaitMs: HOUR_MS,
      pollMs: 200,
      maxPollMs: 500,
      continueAsNewEvents: 10_000,
      ...overrides,
    };
  }

  async function startBatcher(input: BatcherInput) {
    const handle = await client.workflow.start(batcherWorkflow, {
      workflowId: batcherWorkflowId(input.buildId, input.provider),
      taskQueue,
      args: [input],
    });
    started.push(handle);
    return handle;
  }

  /** A stand-in for a problem workflow, with the requests it stores and sends. */
  async function startProblem(buildId: string, problemKey: string) {
    const handle = await client.workflow.start(batchListenerWorkflow, {
      workflowId: `build/${buildId}/problem/${problemKey}`,
      taskQueue,
    });
    started.push(handle);
    let attempts = 0;
    return {
      handle,
      /** Stores a text request of this problem's, as a deferred call does, and returns what is signalled for it. */
      async request(model: string = MODEL): Promise<BatchRequest> {
        attempts += 1;
        const stored: StoredBatchRequest = {
          kind: 'text',
          request: { step: 'plan', problemId: problemKey, model, parts: [{ type: 'text', text: `plan ${attempts}` }] },
        };
        const body = JSON.stringify(stored);
        const requestKey = batchRequestKey({ buildId, problemKey }, attempts, 'plan', `hash${attempts}`);
        await store.put(requestKey, body, 'application/json');
        return {
          customId: batchCustomId({ step: 'plan', problemId: problemKey, attempt: attempts }),
          requestKey,
          kind: 'text',
          model,
          bytes: Buffer.byteLength(body),
          workflowId: handle.workflowId,
        };
      },
      notes: (): Promise<BatchAnswerNote[]> => handle.query(listenerNotesQuery),
    };
  }

  function progressOf(batcher: WorkflowHandle): Promise<BatchProgress> {
    return batcher.query(batchProgressQuery);
  }

  /** The custom ids of the lines the fake was sent for a build, in order. */
  function submittedIds(buildId: string): string[] {
    return fake.batchesOf(buildId).flatMap((batch) => batch.lines.map((line) => line.customId));
  }

  async function expectAnswered(request: BatchRequest): Promise<void> {
    const answer = await readStoredAnswer(store, batchAnswerKey(request.requestKey));
    expect(answer).toMatchObject({ customId: request.customId, ok: true, kind: 'text' });
    expect(answer?.ok && answer.kind === 'text' && answer.response.text).toBe(fakeAnswerText(request.customId));
  }

  it('submits a group once it holds maxRequests, one model per batch, and tells each problem of its answers', async () => {
    const buildId = 'full-groups';
    const batcher = await startBatcher(batcherInput(buildId, { maxRequests: 3 }));
    const first = await startProblem(buildId, 'p1');
    const second = await startProblem(buildId, 'p2');
    const requests = [
      await first.request(MODEL),
      await first.request(OTHER_MODEL),
      await second.request(MODEL),
      await second.request(OTHER_MODEL),
      await first.request(MODEL),
      await first.request(OTHER_MODEL),
    ];
    // A fourth of the first model: its group is not full and its wait is an hour, so it waits.
    const left = await second.request(MODEL);
    await batcher.signal(batchRequestSignal, [...requests, left]);

    await vi.waitFor(async () => expect(await progressOf(batcher)).toMatchObject({ done: 2, waiting: 1 }), PATIENCE);
    const batches = fake.batchesOf(buildId);
    expect(batches.map((batch) => [...new Set(batch.lines.map((line) => line.request.model))])).toEqual(
      expect.arrayContaining([[MODEL], [OTHER_MODEL]]),
    );
    expect(batches.map((batch) => batch.lines.length)).toEqual([3, 3]);
    expect(submittedIds(buildId).sort()).toEqual(requests.map((request) => request.customId).sort());

    const expectedNotes = (workflowId: string) =>
      requests
        .filter((request) => request.workflowId === workflowId)
        .map((request) => ({ customId: request.customId, answered: true }));
    await vi.waitFor(async () => {
      expect(await first.notes()).toHaveLength(4);
      expect(await second.notes()).toHaveLength(2);
    }, PATIENCE);
    expect(sortNotes(await first.notes())).toEqual(sortNotes(expectedNotes(first.handle.workflowId)));
    expect(sortNotes(await second.notes())).toEqual(sortNotes(expectedNotes(second.handle.workflowId)));
    for (const request of requests) await expectAnswered(request);
    expect(await readStoredAnswer(store, batchAnswerKey(left.requestKey))).toBeNull();
  });

  it('submits a group that is not full once its oldest request has waited maxWaitMs', async () => {
    const buildId = 'waited';
    const batcher = await startBatcher(batcherInput(buildId, { maxRequests: 10, maxWaitMs: 300 }));
    const problem = await startProblem(buildId, 'p1');
    const request = await problem.request();
    await batcher.signal(batchRequestSignal, [request]);

    await vi.waitFor(async () => expect(await problem.notes()).toHaveLength(1), PATIENCE);
    expect(await problem.notes()).toEqual([{ customId: request.customId, answered: true }]);
    expect(fake.batchesOf(buildId).map((batch) => batch.lines.length)).toEqual([1]);
    await expectAnswered(request);
  });

  it('tells a problem which requests must go again (retryable, never run) and stores a failure for good as an answer', async () => {
    const buildId = 'outcomes';
    fake.plan(buildId, {
      endStatus: 'expired',
      outcomeOf: (customId) =>
        customId.includes(':retryable:')
          ? 'retryable'
          : customId.includes(':missing:')
            ? 'missing'
            : customId.includes(':refused:')
              ? 'non-retryable'
              : 'ok',
    });
    const batcher = await startBatcher(batcherInput(buildId, { maxRequests: 4 }));
    const problems = {
      ok: await startProblem(buildId, 'ok'),
      retryable: await startProblem(buildId, 'retryable'),
      missing: await startProblem(buildId, 'missing'),
      refused: await startProblem(buildId, 'refused'),
    };
    const requests = {
      ok: await problems.ok.request(),
      retryable: await problems.retryable.request(),
      missing: await problems.missing.request(),
      refused: await problems.refused.request(),
    };
    await batcher.signal(batchRequestSignal, Object.values(requests));

    for (const problem of Object.values(problems))
      await vi.waitFor(async () => expect(await problem.notes()).toHaveLength(1), PATIENCE);
    expect(await problems.ok.notes()).toEqual([{ customId: requests.ok.customId, answered: true }]);
    expect(await problems.retryable.notes()).toEqual([
      {
        customId: requests.retryable.customId,
        answered: false,
        reason: `too many requests for ${requests.retryable.customId}`,
      },
    ]);
    expect(await problems.missing.notes()).toEqual([
      { customId: requests.missing.customId, answered: false, reason: 'the batch ended expired' },
    ]);
    expect(await problems.refused.notes()).toEqual([{ customId: requests.refused.customId, answered: true }]);

    await expectAnswered(requests.ok);
    expect(await readStoredAnswer(store, batchAnswerKey(requests.refused.requestKey))).toEqual({
      customId: requests.refused.customId,
      ok: false,
      failure: {
        type: 'ProviderBadRequest',
        message: `the prompt of ${requests.refused.customId} is refused`,
        nonRetryable: true,
      },
    });
    expect(await readStoredAnswer(store, batchAnswerKey(requests.retryable.requestKey))).toBeNull();
    expect(await readStoredAnswer(store, batchAnswerKey(requests.missing.requestKey))).toBeNull();
    expect(await progressOf(batcher)).toMatchObject({ done: 1, requestsAnswered: 2 });
  });

  it('sends the requests of a batch the provider no longer knows back to their problems, with its words', async () => {
    const buildId = 'lost';
    fake.plan(buildId, { lost: true });
    const batcher = await startBatcher(batcherInput(buildId, { maxRequests: 1 }));
    const problem = await startProblem(buildId, 'p1');
    const request = await problem.request();
    await batcher.signal(batchRequestSignal, [request]);

    await vi.waitFor(async () => expect(await problem.notes()).toHaveLength(1), PATIENCE);
    const [note] = await problem.notes();
    expect(note).toMatchObject({ customId: request.customId, answered: false });
    expect(note!.reason).toContain(`openai 404: no batch ${fake.batchesOf(buildId)[0]!.id}`);
    expect(await readStoredAnswer(store, batchAnswerKey(request.requestKey))).toBeNull();
    await vi.waitFor(async () => expect(await progressOf(batcher)).toMatchObject({ inProgress: 0, done: 1 }), PATIENCE);
  });

  it('a submission retried after the provider created its batch finds that batch instead of creating another', async () => {
    const buildId = 'retried-submission';
    fake.plan(buildId, { failuresAfterSubmit: 1 });
    const batcher = await startBatcher(batcherInput(buildId, { maxRequests: 2 }));
    const problem = await startProblem(buildId, 'p1');
    const requests = [await problem.request(), await problem.request()];
    await batcher.signal(batchRequestSignal, requests);

    await vi.waitFor(async () => expect(await problem.notes()).toHaveLength(2), PATIENCE);
    expect(sortNotes(await problem.notes())).toEqual(
      sortNotes(requests.map((request) => ({ customId: request.customId, answered: true }))),
    );
    expect(fake.batchesOf(buildId)).toHaveLength(1);
    // The first attempt did fail (after the batch was made): the second is the one that returned.
    const history = await batcher.fetchHistory();
    const attempts = (history.events ?? []).flatMap((event) =>
      event.activityTaskStartedEventAttributes ? [event.activityTaskStartedEventAttributes.attempt] : [],
    );
    expect(attempts).toContain(2);
  });

  it('a long upload heartbeats, so it is not timed out and uploaded again', async () => {
    const buildId = 'long-upload';
    let finishUpload = () => {};
    const upload = new Promise<void>((resolve) => (finishUpload = resolve));
    fake.plan(buildId, { submitted: upload });
    const batcher = await startBatcher(batcherInput(buildId, { maxRequests: 1 }));
    const problem = await startProblem(buildId, 'p1');
    const request = await problem.request();
    await batcher.signal(batchRequestSignal, [request]);

    try {
      await vi.waitFor(async () => {
        const [submitting] = (await batcher.describe()).raw.pendingActivities ?? [];
        expect(submitting?.activityType?.name).toBe('submitBatch');
        expect(submitting?.lastHeartbeatTime).toBeTruthy();
      }, PATIENCE);
    } finally {
      finishUpload();
    }
    await vi.waitFor(async () => expect(await problem.notes()).toHaveLength(1), PATIENCE);
    expect(await problem.notes()).toEqual([{ customId: request.customId, answered: true }]);
    expect(fake.batchesOf(buildId)).toHaveLength(1);
  });

  it('continues as new past continueAsNewEvents, submitting and answering every request exactly once', async () => {
    const buildId = 'continued';
    const batcher = await startBatcher(batcherInput(buildId, { maxRequests: 2, continueAsNewEvents: 60 }));
    const problems = [await startProblem(buildId, 'p1'), await startProblem(buildId, 'p2')];
    const sent: BatchRequest[] = [];
    // Waves, each sent once the last is answered, so requests arrive in later runs too.
    for (let wave = 0; wave < 4; wave += 1) {
      const requests: BatchRequest[] = [];
      for (const problem of problems) requests.push(await problem.request(), await problem.request());
      await batcher.signal(batchRequestSignal, requests);
      sent.push(...requests);
      await vi.waitFor(async () => {
        const notes = [...(await problems[0]!.notes()), ...(await problems[1]!.notes())];
        expect(notes).toHaveLength(sent.length);
      }, PATIENCE);
    }

    const runs = [];
    for await (const run of client.workflow.list({ query: `WorkflowId = "${batcher.workflowId}"` })) runs.push(run);
    expect(runs.length).toBeGreaterThan(1);
    const ids = sent.map((request) => request.customId).sort();
    expect(submittedIds(buildId).sort()).toEqual(ids);
    const notes = [...(await problems[0]!.notes()), ...(await problems[1]!.notes())];
    expect(sortNotes(notes)).toEqual(ids.map((customId) => ({ customId, answered: true })));
    expect(await progressOf(batcher)).toMatchObject({
      submitted: 8,
      done: 8,
      inProgress: 0,
      waiting: 0,
      requestsAnswered: 16,
    });
  });

  it('holds full groups while paused, submits them on resume, and ends on close once its batches are done', async () => {
    const buildId = 'paused';
    fake.plan(buildId, { checksInProgress: 3 });
    const batcher = await startBatcher(batcherInput(buildId, { maxRequests: 2, maxWaitMs: 200 }));
    const problem = await startProblem(buildId, 'p1');
    await batcher.signal(batcherControlSignal, 'pause');
    const requests = [await problem.request(), await problem.request()];
    await batcher.signal(batchRequestSignal, requests);

    await vi.waitFor(
      async () => expect(await progressOf(batcher)).toMatchObject({ paused: true, waiting: 2, submitted: 0 }),
      PATIENCE,
    );
    // An absence needs time to show: several times the wait that would have sent the group anyway.
    await sleep(1_500);
    expect(await progressOf(batcher)).toMatchObject({ paused: true, waiting: 2, submitted: 0 });
    expect(fake.batchesOf(buildId)).toHaveLength(0);

    await batcher.signal(batcherControlSignal, 'resume');
    await vi.waitFor(
      async () =>
        expect(await progressOf(batcher)).toMatchObject({ paused: false, waiting: 0, submitted: 1, inProgress: 1 }),
      PATIENCE,
    );
    expect(fake.batchesOf(buildId)).toHaveLength(1);

    await batcher.signal(batcherControlSignal, 'close');
    await batcher.result();
    expect(await progressOf(batcher)).toMatchObject({ done: 1, inProgress: 0, requestsAnswered: 2 });
    expect(sortNotes(await problem.notes())).toEqual(
      sortNotes(requests.map((request) => ({ customId: request.customId, answered: true }))),
    );
  });

  it('cancelled while a batch runs, cancels the batch at the provider and ends cancelled', async () => {
    const buildId = 'cancelled';
    fake.plan(buildId, { checksInProgress: Infinity });
    const batcher = await startBatcher(batcherInput(buildId, { maxRequests: 1 }));
    const problem = await startProblem(buildId, 'p1');
    await batcher.signal(batchRequestSignal, [await problem.request()]);
    await vi.waitFor(async () => expect(await progressOf(batcher)).toMatchObject({ inProgress: 1 }), PATIENCE);
    const [batch] = fake.batchesOf(buildId);

    await batcher.cancel();
    const error = await batcher.result().then(
      () => undefined,
      (reason: unknown) => reason,
    );
    expect(error).toBeInstanceOf(WorkflowFailedError);
    expect((error as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
    expect((await batcher.describe()).status.name).toBe('CANCELLED');
    expect(fake.cancelled).toEqual([batch!.id]);
    expect(batch!.status).toBe('cancelled');
    expect(await problem.notes()).toEqual([]);
  });

  it('cancelled while a batch is being submitted, cancels that batch too once the provider has it', async () => {
    const buildId = 'cancelled-submitting';
    let finishUpload = () => {};
    const upload = new Promise<void>((resolve) => (finishUpload = resolve));
    fake.plan(buildId, { checksInProgress: Infinity, submitted: upload });
    const batcher = await startBatcher(batcherInput(buildId, { maxRequests: 1 }));
    const problem = await startProblem(buildId, 'p1');
    await batcher.signal(batchRequestSignal, [await problem.request()]);
    await vi.waitFor(() => expect(fake.batchesOf(buildId)).toHaveLength(1), PATIENCE);
    const [batch] = fake.batchesOf(buildId);

    await batcher.cancel();
    // The upload ends only once the batcher has seen the cancellation (a workflow task completed after it).
    await vi.waitFor(async () => {
      const types = ((await batcher.fetchHistory()).events ?? []).map((event) => event.eventType);
      const requested = types.indexOf(temporal.api.enums.v1.EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCEL_REQUESTED);
      expect(requested).toBeGreaterThan(-1);
      expect(types.slice(requested)).toContain(temporal.api.enums.v1.EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED);
    }, PATIENCE);
    finishUpload();
    const error = await batcher.result().then(
      () => undefined,
      (reason: unknown) => reason,
    );
    expect((error as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
    await vi.waitFor(() => expect(fake.cancelled).toContain(batch!.id), PATIENCE);
    expect(batch!.status).toBe('cancelled');
  });

  it('reports its batches through batchProgress while they wait, run and end', async () => {
    const buildId = 'progress';
    fake.plan(buildId, { checksInProgress: 5 });
    const batcher = await startBatcher(batcherInput(buildId, { maxRequests: 2 }));
    const problem = await startProblem(buildId, 'p1');

    await batcher.signal(batchRequestSignal, [await problem.request()]);
    await vi.waitFor(
      async () =>
        expect(await progressOf(batcher)).toEqual({
          provider: 'openai',
          waiting: 1,
          submitted: 0,
          inProgress: 0,
          done: 0,
          requestsInProgress: 0,
          requestsAnswered: 0,
          paused: false,
          expectedFinishMs: null,
        }),
      PATIENCE,
    );

    await batcher.signal(batchRequestSignal, [await problem.request()]);
    // With no batch ended yet, a batch is expected to take the providers' completion window (24 hours).
    await vi.waitFor(async () => {
      const progress = await progressOf(batcher);
      expect(progress).toMatchObject({ waiting: 0, submitted: 1, inProgress: 1, done: 0, requestsInProgress: 2 });
      expect(progress.expectedFinishMs).toBeGreaterThan(Date.now() + 23 * HOUR_MS);
    }, PATIENCE);
    await vi.waitFor(
      async () =>
        expect(await progressOf(batcher)).toMatchObject({
          submitted: 1,
          inProgress: 0,
          done: 1,
          requestsInProgress: 0,
          requestsAnswered: 2,
          expectedFinishMs: null,
        }),
      PATIENCE,
    );

    // Once one has ended, the next is expected to take as long as those before it did.
    await batcher.signal(batchRequestSignal, [await problem.request(), await problem.request()]);
    await vi.waitFor(async () => {
      const progress = await progressOf(batcher);
      expect(progress).toMatchObject({ submitted: 2, inProgress: 1, requestsInProgress: 2 });
      expect(progress.expectedFinishMs).toBeLessThan(Date.now() + HOUR_MS);
    }, PATIENCE);
    await vi.waitFor(
      async () => expect(await progressOf(batcher)).toMatchObject({ done: 2, requestsAnswered: 4 }),
      PATIENCE,
    );
  });
});

function sortNotes(notes: BatchAnswerNote[]): BatchAnswerNote[] {
  return [...notes].sort((a, b) => a.customId.localeCompare(b.customId));
}
