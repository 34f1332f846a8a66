/**
 * Batch mode, on the activity side. A model step runs as it always does, until it reaches its model
 * call: there, instead of asking the provider, the call looks for the answer a batch gave to this
 * very request. Found: the step goes on with it (parsing, storing, exactly as in real time). Not
 * found: the request is written to the artifact store and the step stops, returning `{ deferred }`;
 * the problem workflow sends the request to its build's batcher (workflows/batcher.ts), waits for
 * the answer, and runs the step again. A step that makes several calls (the quiz answers) defers
 * them all at once.
 *
 * Nothing here is Temporal state: an activity retried or run again finds the same stored requests
 * and answers, so a crash anywhere never asks a model twice for one answer.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { createHash } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/common';
import type { BatchCallOptions, Deferred, DeferredCall } from '../domain/batch.ts';
import type { Step } from '../domain/types.ts';
import { ANSWER_SCHEMAS } from '../domain/parse-model-output.ts';
import type {
  ImageRequest,
  ImageResponse,
  ModelRequest,
  ModelResponse,
  ResponseSchema,
} from '../providers/provider.ts';
import { ArtifactNotFoundError, type ArtifactStore } from '../storage/artifact-store.ts';
import { batchAnswerKey, batchRequestKey, type ProblemLocation } from '../storage/build-layout.ts';

/** A text request as stored: the ModelRequest without its signal, images base64. */
export type StoredBatchRequest =
  | {
      kind: 'text';
      request: Omit<ModelRequest, 'signal' | 'parts' | 'responseSchema'> & {
        parts: StoredPart[];
        /** The answer's schema as ANSWER_SCHEMAS names it, and the name the API is given: a zod schema does not survive JSON. */
        responseSchema?: { step: keyof typeof ANSWER_SCHEMAS; name: string };
      };
    }
  | { kind: 'image'; request: Omit<ImageRequest, 'signal'> };

type StoredPart = { type: 'text'; text: string } | { type: 'image'; mimeType: string; base64: string };

/** What a batch answered to one request, as stored beside it. */
export type StoredBatchAnswer =
  | { customId: string; ok: true; kind: 'text'; response: ModelResponse }
  | {
      customId: string;
      ok: true;
      kind: 'image';
      response: Omit<ImageResponse, 'image'> & { image: { mimeType: string; base64: string } | null };
    }
  | { customId: string; ok: false; failure: { type: string; message: string; nonRetryable: boolean } };

interface BatchScope {
  store: ArtifactStore;
  problem: ProblemLocation;
  options: BatchCallOptions;
  deferred: DeferredCall[];
  /** Calls still looking for their answer or storing their request. */
  calls: Set<Promise<unknown>>;
}

const scopes = new AsyncLocalStorage<BatchScope>();

/** Thrown by a call that waits for a batch; ends the step, which returns `{ deferred }` instead. */
class CallDeferred extends Error {
  override readonly name = 'CallDeferred';
}

/**
 * Runs a model step; in batch mode (`options` given) its calls are answered from batches, and a
 * step with calls still waiting returns them as `{ deferred }`, whatever it would have returned
 * or thrown.
 */
export async function runBatchable<R>(
  store: ArtifactStore,
  problem: ProblemLocation,
  options: BatchCallOptions | undefined,
  step: () => Promise<R>,
): Promise<R | Deferred> {
  if (!options) return step();
  const scope: BatchScope = { store, problem, options, deferred: [], calls: new Set() };
  let outcome: { ok: true; result: R } | { ok: false; error: unknown };
  try {
    outcome = { ok: true, result: await scopes.run(scope, step) };
  } catch (error) {
    outcome = { ok: false, error };
  }
  // A step that stopped at its first deferred call (Promise.all) may have others on their way:
  // they are let finish storing their requests, so one round sends them all.
  await settled(scope);
  if (scope.deferred.length > 0) return { deferred: scope.deferred };
  if (!outcome.ok) throw outcome.error;
  return outcome.result;
}

async function settled(scope: BatchScope): Promise<void> {
  for (;;) {
    await new Promise((resolve) => setImmediate(resolve));
    if (scope.calls.size === 0) return;
    await Promise.allSettled([...scope.calls]);
  }
}

/** How a call is answered: by the provider now, or by a batch (the answer, or `priced` as batch). */
export type CallAnswer<T> = { response: T; batch: boolean };

/**
 * A text model call under the running step's batch mode: the batch's stored answer, else the
 * provider (`ask`) when not in batch mode or when the batch gave up; else the request is stored and
 * the step stops. A stored failure is thrown as the provider's failure would have been.
 */
export async function answerTextCall(
  request: ModelRequest,
  ask: () => Promise<ModelResponse>,
): Promise<CallAnswer<ModelResponse>> {
  const scope = scopes.getStore();
  if (!scope) return { response: await ask(), batch: false };
  const { signal: _signal, responseSchema, ...sendable } = request;
  const stored: StoredBatchRequest = {
    kind: 'text',
    request: {
      ...sendable,
      ...(responseSchema ? { responseSchema: storedSchema(responseSchema) } : {}),
      parts: request.parts.map((part) =>
        part.type === 'text'
          ? part
          : { type: 'image', mimeType: part.mimeType, base64: Buffer.from(part.data).toString('base64') },
      ),
    },
  };
  const answer = await answerFor(scope, request.step, request.model, stored);
  if (answer === null) return { response: await ask(), batch: false };
  if (!answer.ok) throw storedFailure(answer);
  if (answer.kind !== 'text') throw new Error(`batch answer ${answer.customId} is an image, expected text`);
  return { response: answer.response, batch: true };
}

/** An image model call under the running step's batch mode; as answerTextCall. */
export async function answerImageCall(
  request: ImageRequest,
  ask: () => Promise<ImageResponse>,
): Promise<CallAnswer<ImageResponse>> {
  const scope = scopes.getStore();
  if (!scope) return { response: await ask(), batch: false };
  const { signal: _signal, ...sendable } = request;
  const answer = await answerFor(scope, request.step, request.model, { kind: 'image', request: sendable });
  if (answer === null) return { response: await ask(), batch: false };
  if (!answer.ok) throw storedFailure(answer);
  if (answer.kind !== 'image') throw new Error(`batch answer ${answer.customId} is text, expected an image`);
  const { image, ...rest } = answer.response;
  return {
    response: {
      ...rest,
      image: image ? { mimeType: image.mimeType, data: Buffer.from(image.base64, 'base64') } : null,
    },
    batch: true,
  };
}

/** The stored answer; null = ask in real time; throws CallDeferred once the request is stored. */
async function answerFor(
  scope: BatchScope,
  step: Step,
  model: string,
  stored: StoredBatchRequest,
): Promise<StoredBatchAnswer | null> {
  const call = lookUp(scope, step, model, stored);
  scope.calls.add(call);
  try {
    return await call;
  } finally {
    scope.calls.delete(call);
  }
}

async function lookUp(
  scope: BatchScope,
  step: Step,
  model: string,
  stored: StoredBatchRequest,
): Promise<StoredBatchAnswer | null> {
  const body = JSON.stringify(stored);
  const hash = createHash('sha256').update(body).digest('hex').slice(0, 16);
  const requestKey = batchRequestKey(scope.problem, scope.options.seq, step, hash);
  const answer = await readStoredAnswer(scope.store, batchAnswerKey(requestKey));
  if (answer) return answer;
  if (scope.options.realtime) return null;
  await scope.store.put(requestKey, body, 'application/json');
  scope.deferred.push({ requestKey, kind: stored.kind, step, model, bytes: Buffer.byteLength(body) });
  throw new CallDeferred(`${step} waits for a batch`);
}

export async function readStoredAnswer(store: ArtifactStore, key: string): Promise<StoredBatchAnswer | null> {
  try {
    return JSON.parse(await store.getText(key)) as StoredBatchAnswer;
  } catch (error) {
    if (error instanceof ArtifactNotFoundError) return null;
    throw error;
  }
}

/** A request as stored, back in the form a provider takes. */
export function requestOfStored(
  stored: StoredBatchRequest,
): { kind: 'text'; request: ModelRequest } | { kind: 'image'; request: ImageRequest } {
  if (stored.kind === 'image') return stored;
  const { responseSchema, ...request } = stored.request;
  return {
    kind: 'text',
    request: {
      ...request,
      ...(responseSchema
        ? { responseSchema: { name: responseSchema.name, schema: ANSWER_SCHEMAS[responseSchema.step] } }
        : {}),
      parts: stored.request.parts.map((part) =>
        part.type === 'text'
          ? part
          : {
              type: 'image' as const,
              mimeType: part.mimeType as 'image/png' | 'image/jpeg' | 'image/webp',
              data: Buffer.from(part.base64, 'base64'),
            },
      ),
    },
  };
}

/** How a step's answer schema is stored; a schema not in ANSWER_SCHEMAS cannot go through a batch. */
function storedSchema(responseSchema: ResponseSchema): { step: keyof typeof ANSWER_SCHEMAS; name: string } {
  const entry = Object.entries(ANSWER_SCHEMAS).find(([, schema]) => schema === responseSchema.schema);
  if (!entry)
    throw new Error(
      `response schema "${responseSchema.name}" is not one of ANSWER_SCHEMAS, so it cannot go through a batch`,
    );
  return { step: entry[0] as keyof typeof ANSWER_SCHEMAS, name: responseSchema.name };
}

/** A failure the batch reported for a request, thrown as the real-time call's failure would be. */
function storedFailure(answer: Extract<StoredBatchAnswer, { ok: false }>): ApplicationFailure {
  return ApplicationFailure.create({
    type: answer.failure.type,
    message: answer.failure.message,
    nonRetryable: answer.failure.nonRetryable,
  });
}
