/**
 * The batcher's activities (workflows/batcher.ts): submit a batch of stored requests to the
 * provider's batch interface, check on it, read its answers into the artifact store, cancel it.
 * They run on the provider's batch task queue, in the llm workers, which hold the API key.
 */
import { ApplicationFailure } from '@temporalio/common';
import type { BatchAnswerNote, BatchRequest } from '../workflows/definitions.ts';
import type { BatchClient, BatchLine, BatchResult, BatchState } from '../providers/batch.ts';
import { ArtifactNotFoundError, type ArtifactStore } from '../storage/artifact-store.ts';
import { batchAnswerKey, batchSubmissionKey } from '../storage/build-layout.ts';
import { heartbeat, withHeartbeats } from './activity-context.ts';
import { requestOfStored, type StoredBatchAnswer, type StoredBatchRequest } from './batch-calls.ts';

export interface SubmitBatchInput {
  buildId: string;
  provider: string;
  /** The batcher's name for this batch (`<seq>-<kind>-<model>`): unique in the build, the idempotency key. */
  submission: string;
  requests: BatchRequest[];
}

/** What is stored of a submitted batch (batchSubmissionKey): its id and whom each request answers. */
interface SubmissionRecord {
  id: string;
  submittedAt: string;
  requests: Pick<BatchRequest, 'customId' | 'requestKey' | 'workflowId'>[];
}

/** Per problem workflow, what became of its requests in one batch. */
export interface BatchNotes {
  workflowId: string;
  answers: BatchAnswerNote[];
}

export interface CollectedBatch {
  notes: BatchNotes[];
  answered: number;
  /** Requests to send again: retryable errors, and those the batch never reached. */
  unanswered: number;
}

export function createBatchActivities(dependencies: { store: ArtifactStore; batches: BatchClient | undefined }) {
  const { store } = dependencies;

  function client(): BatchClient {
    if (dependencies.batches) return dependencies.batches;
    throw ApplicationFailure.create({
      type: 'BatchModeUnavailable',
      message: 'this llm worker has no batch client for its provider',
      nonRetryable: true,
    });
  }

  async function readRecord(key: string): Promise<SubmissionRecord | null> {
    try {
      return JSON.parse(await store.getText(key)) as SubmissionRecord;
    } catch (error) {
      if (error instanceof ArtifactNotFoundError) return null;
      throw error;
    }
  }

  return {
    /**
     * Submits the requests as one batch and returns its id. Safe to run again: a batch already
     * submitted under this submission (found in the store, or by the provider's list) is returned,
     * never created twice.
     */
    async submitBatch(input: SubmitBatchInput): Promise<{ batchId: string }> {
      const key = batchSubmissionKey(input.buildId, input.provider, input.submission);
      const recorded = await readRecord(key);
      if (recorded) return { batchId: recorded.id };
      const submissionKey = `${input.buildId}/${input.submission}`;
      const batches = client();
      let found = await withHeartbeats(batches.find(submissionKey));
      if (!found) {
        const lines: BatchLine[] = [];
        for (const request of input.requests) {
          const stored = JSON.parse(await store.getText(request.requestKey)) as StoredBatchRequest;
          const { kind, request: body } = requestOfStored(stored);
          lines.push(
            kind === 'text'
              ? { customId: request.customId, kind, request: body }
              : { customId: request.customId, kind, request: body },
          );
          if (lines.length % 100 === 0) heartbeat();
        }
        // An upload can outlast the heartbeat timeout: timed out, it would be retried, find no batch yet
        // (the provider creates it once the upload is in) and upload a second one.
        found = await withHeartbeats(batches.submit(lines, { submissionKey }));
      }
      const record: SubmissionRecord = {
        id: found.id,
        submittedAt: new Date().toISOString(),
        requests: input.requests.map(({ customId, requestKey, workflowId }) => ({ customId, requestKey, workflowId })),
      };
      await store.put(key, JSON.stringify(record), 'application/json');
      return { batchId: found.id };
    },

    async checkBatch(input: { batchId: string }): Promise<BatchState> {
      return client().get(input.batchId);
    },

    /**
     * Stores every answer of an ended batch beside its request, and says per problem which requests
     * are answered (a non-retryable failure counts: the step fails with it, as in real time) and
     * which must go again (retryable failures, requests the batch never reached).
     */
    async collectBatch(input: {
      buildId: string;
      provider: string;
      submission: string;
      batchId: string;
    }): Promise<CollectedBatch> {
      const record = await readRecord(batchSubmissionKey(input.buildId, input.provider, input.submission));
      if (!record) throw new Error(`no record of batch ${input.batchId} (${input.submission})`);
      const batches = client();
      const results = new Map<string, BatchResult>();
      let state: Pick<BatchState, 'status' | 'errors'>;
      try {
        state = await batches.get(input.batchId);
        for (const result of await withHeartbeats(batches.results(input.batchId))) results.set(result.customId, result);
      } catch (error) {
        // Retryable faults are retried; the provider's final word (the batch is unknown to it, say)
        // sends every request back to its problem with those words.
        if (!(error instanceof ApplicationFailure && error.nonRetryable)) throw error;
        state = { status: 'failed', errors: [`the batch could not be read: ${error.message}`] };
        results.clear();
      }
      const notes = new Map<string, BatchAnswerNote[]>();
      let answered = 0;
      for (const [index, request] of record.requests.entries()) {
        const result = results.get(request.customId);
        let note: BatchAnswerNote;
        if (!result) {
          const words = state.errors.length > 0 ? `: ${state.errors.join('; ')}` : '';
          note = { customId: request.customId, answered: false, reason: `the batch ended ${state.status}${words}` };
        } else if (!result.ok && !result.failure.nonRetryable) {
          note = { customId: request.customId, answered: false, reason: truncate(result.failure.message, 300) };
        } else {
          await store.put(
            batchAnswerKey(request.requestKey),
            JSON.stringify(storedAnswerOf(result)),
            'application/json',
          );
          note = { customId: request.customId, answered: true };
          answered += 1;
        }
        notes.set(request.workflowId, [...(notes.get(request.workflowId) ?? []), note]);
        if (index % 100 === 0) heartbeat();
      }
      return {
        notes: [...notes].map(([workflowId, answers]) => ({ workflowId, answers })),
        answered,
        unanswered: record.requests.length - answered,
      };
    },

    async cancelBatch(input: { batchId: string }): Promise<void> {
      await client().cancel(input.batchId);
    },
  };
}

export type BatchActivities = ReturnType<typeof createBatchActivities>;

function storedAnswerOf(result: BatchResult): StoredBatchAnswer {
  if (!result.ok) return result;
  if (result.kind === 'text') return result;
  const { image, ...rest } = result.response;
  return {
    customId: result.customId,
    ok: true,
    kind: 'image',
    response: {
      ...rest,
      image: image ? { mimeType: image.mimeType, base64: Buffer.from(image.data).toString('base64') } : null,
    },
  };
}

function truncate(text: string, limit: number): string {
  return text.length <= limit ? text : `${text.slice(0, limit - 1)}…`;
}
