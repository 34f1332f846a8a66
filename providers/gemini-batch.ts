import { BATCH_LIMITS } from '../domain/batch.ts';
import { ApiError, GenerateContentResponse, GoogleGenAI, JobState } from '@google/genai';
import type { BatchJob, InlinedRequest, InlinedResponse } from '@google/genai';
import type { BatchClient, BatchLine, BatchResult, BatchState, BatchStatus } from './batch.ts';
import { batchFailureOf, batchKindOf, resultErrorContext } from './batch-request.ts';
import { sortGeminiError, type ProviderErrorContext } from './errors.ts';
import { readGeminiImageResponse, readGeminiResponse, toGeminiImageParameters, toGeminiParameters } from './gemini.ts';

export interface GeminiBatchClientOptions {
  apiKey: string;
  /**
   * Where the Gemini API lives (the scripted endpoint in tests).
   * @default the SDK's default, the Gemini API
   */
  baseUrl?: string;
  /**
   * Deadline for one HTTP call (a create with up to 20 MB of inlined requests included).
   * @default 600000
   */
  timeoutMs?: number;
}

/**
 * The inlined request's metadata keys for the custom_id and the kind of request (an image model's
 * answer without a picture looks like text); the API hands metadata back with the response.
 */
const CUSTOM_ID_METADATA_KEY = 'key';
const KIND_METADATA_KEY = 'kind';

const STATUS_OF_STATE: Partial<Record<JobState, BatchStatus>> = {
  [JobState.JOB_STATE_UNSPECIFIED]: 'validating',
  [JobState.JOB_STATE_QUEUED]: 'validating',
  [JobState.JOB_STATE_PENDING]: 'validating',
  [JobState.JOB_STATE_RUNNING]: 'in_progress',
  [JobState.JOB_STATE_PAUSED]: 'in_progress',
  [JobState.JOB_STATE_UPDATING]: 'in_progress',
  [JobState.JOB_STATE_SUCCEEDED]: 'completed',
  [JobState.JOB_STATE_PARTIALLY_SUCCEEDED]: 'completed',
  [JobState.JOB_STATE_FAILED]: 'failed',
  [JobState.JOB_STATE_CANCELLING]: 'cancelling',
  [JobState.JOB_STATE_CANCELLED]: 'cancelled',
  [JobState.JOB_STATE_EXPIRED]: 'expired',
};
const ENDED_STATUSES = new Set<BatchStatus>(['completed', 'failed', 'expired', 'cancelled']);

/**
 * google.rpc.Code (what an inlined response's error carries) -> the HTTP status the same error has
 * in real time (google.rpc's own mapping), so a batched error is sorted like a real-time one.
 */
const HTTP_STATUS_OF_RPC_CODE: Record<number, number> = {
  1: 499,
  2: 500,
  3: 400,
  4: 504,
  5: 404,
  6: 409,
  7: 403,
  8: 429,
  9: 400,
  10: 409,
  11: 400,
  12: 501,
  13: 500,
  14: 503,
  15: 500,
  16: 401,
};

/** An inlined request: the same contents and config real time sends, the custom_id in its metadata. */
export function toGeminiInlinedRequest(line: BatchLine): InlinedRequest {
  const parameters = line.kind === 'text' ? toGeminiParameters(line.request) : toGeminiImageParameters(line.request);
  return {
    model: parameters.model,
    contents: parameters.contents,
    ...(parameters.config ? { config: parameters.config } : {}),
    metadata: { [CUSTOM_ID_METADATA_KEY]: line.customId, [KIND_METADATA_KEY]: line.kind },
  };
}

/** The bytes an inlined request takes in the create call's body, its separating comma included. */
export function geminiInlinedRequestBytes(line: BatchLine): number {
  return Buffer.byteLength(JSON.stringify(toGeminiInlinedRequest(line))) + 1;
}

/**
 * Gemini batch mode through @google/genai, with inlined requests only: one create call carries
 * up to 20 MB of requests and the responses come back inlined in the batch. (The file route,
 * files.upload of a JSONL and files.download of the answers, is not implemented; callers cut
 * batches below `limits.maxBytes`.)
 */
export function createGeminiBatchClient(options: GeminiBatchClientOptions): BatchClient {
  const baseUrl = options.baseUrl || undefined;
  const ai = new GoogleGenAI({
    apiKey: options.apiKey,
    vertexai: false,
    httpOptions: {
      ...(baseUrl ? { baseUrl } : {}),
      timeout: options.timeoutMs ?? 600_000,
      // Temporal is the only retry layer (see providers/gemini.ts).
      retryOptions: { attempts: 1 },
    },
  });
  const callContext: ProviderErrorContext = { step: 'classify', problemId: 'batch', secrets: [options.apiKey] };

  async function call<T>(run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      throw sortGeminiError(error, callContext);
    }
  }

  async function find(submissionKey: string): Promise<{ id: string } | null> {
    return call(async () => {
      for await (const job of await ai.batches.list({ config: { pageSize: 100 } })) {
        if (job.displayName === submissionKey && job.name) return { id: job.name };
      }
      return null;
    });
  }

  return {
    provider: 'gemini',
    // Gemini documents no count limit for a batch; 20 MB is its limit for inlined requests.
    limits: BATCH_LIMITS.gemini,
    find,
    async submit(lines, { submissionKey, signal }) {
      batchKindOf(lines);
      const existing = await find(submissionKey);
      if (existing) return existing;
      const job = await call(() =>
        ai.batches.create({
          model: lines[0]!.request.model,
          src: lines.map(toGeminiInlinedRequest),
          config: { displayName: submissionKey, ...(signal ? { abortSignal: signal } : {}) },
        }),
      );
      if (!job.name) throw sortGeminiError(new Error('the batch create call answered without a name'), callContext);
      return { id: job.name };
    },
    async get(id) {
      return toBatchState(id, await call(() => ai.batches.get({ name: id })));
    },
    async results(id) {
      const job = await call(() => ai.batches.get({ name: id }));
      return (job.dest?.inlinedResponses ?? []).flatMap((inlined) => {
        const result = readInlinedResponse(inlined, job.model, options.apiKey);
        return result ? [result] : [];
      });
    },
    async cancel(id) {
      await call(() => ai.batches.cancel({ name: id }));
    },
  };
}

function toBatchState(id: string, job: BatchJob): BatchState {
  const status = (job.state && STATUS_OF_STATE[job.state]) ?? 'in_progress';
  const responses = job.dest?.inlinedResponses ?? [];
  const failed = responses.filter((inlined) => inlined.error).length;
  return {
    id,
    status,
    counts: { total: responses.length, completed: responses.length - failed, failed },
    ended: ENDED_STATUSES.has(status),
    errors: job.error?.message ? [job.error.message] : [],
  };
}

/** One inlined response as a result: what the same answer, or the same error, gives in real time. */
function readInlinedResponse(
  inlined: InlinedResponse,
  model: string | undefined,
  apiKey: string,
): BatchResult | undefined {
  const customId = inlined.metadata?.[CUSTOM_ID_METADATA_KEY];
  if (!customId) return undefined;
  const requestedModel = (model ?? '').replace(/^models\//, '');
  const context = resultErrorContext(customId, requestedModel, apiKey);
  if (inlined.error || !inlined.response) {
    const code = inlined.error?.code ?? 2;
    const status = HTTP_STATUS_OF_RPC_CODE[code] ?? 500;
    // The error as real time's ApiError carries it: the JSON error body in the message.
    const error = new ApiError({
      message: JSON.stringify({ error: { code: status, message: inlined.error?.message ?? 'no response' } }),
      status,
    });
    return { customId, ok: false, failure: batchFailureOf(sortGeminiError(error, context)) };
  }
  // The SDK hands inlined responses over as plain objects; the class gives them real time's `text`.
  const response = Object.assign(new GenerateContentResponse(), inlined.response);
  try {
    if (inlined.metadata?.[KIND_METADATA_KEY] === 'image')
      return {
        customId,
        ok: true,
        kind: 'image',
        response: readGeminiImageResponse(response, requestedModel, context),
      };
    return {
      customId,
      ok: true,
      kind: 'text',
      response: readGeminiResponse(response, requestedModel, context),
    };
  } catch (error) {
    return { customId, ok: false, failure: batchFailureOf(error) };
  }
}
