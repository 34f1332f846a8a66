import type { BatchJob, BatchJobs, BatchPhase } from './batch-jobs.ts';
import type { RouteAnswer } from './openai-batches.ts';
import type { ErrorFacts, ProtocolHandler } from './protocol.ts';
import { isRecord } from './wire-checks.ts';

// Gemini batch mode (the Gemini API's batches resource) as @google/genai speaks it, inlined requests
// only: POST /{version}/models/{model}:batchGenerateContent, GET batches/{id}, POST
// batches/{id}:cancel, GET batches. A batch is a long-running Operation whose metadata is the
// GenerateContentBatch; its responses come back inlined, in the order of the requests.

/** The path @google/genai builds for a batch: {baseUrl}/{apiVersion}/models/{model}:batchGenerateContent. */
export const GEMINI_BATCH_CREATE_PATH = /^\/(v1|v1beta|v1alpha)\/models\/([^/:]+):batchGenerateContent$/;
const BATCH_PATH = /^\/(?:v1|v1beta|v1alpha)\/batches(?:\/([^/:]+)(:cancel)?)?$/;
const MAX_INLINED_BYTES = 20 * 1024 * 1024;

const STATE_OF_PHASE: Record<BatchPhase, string> = {
  validating: 'BATCH_STATE_PENDING',
  in_progress: 'BATCH_STATE_RUNNING',
  finalizing: 'BATCH_STATE_RUNNING',
  completed: 'BATCH_STATE_SUCCEEDED',
  failed: 'BATCH_STATE_FAILED',
  expired: 'BATCH_STATE_EXPIRED',
  // Not reached: batch-jobs.ts cancels Gemini batches at once, as Gemini has no cancelling state.
  cancelling: 'BATCH_STATE_CANCELLED',
  cancelled: 'BATCH_STATE_CANCELLED',
};

/** HTTP status -> google.rpc.Code, as an inlined response's error carries it. */
const RPC_CODE_OF_STATUS: Record<number, number> = {
  400: 3,
  401: 16,
  403: 7,
  404: 5,
  409: 10,
  413: 3,
  429: 8,
  499: 1,
  500: 13,
  501: 12,
  503: 14,
  504: 4,
};

export interface GeminiBatchRoutes {
  /** The answer to a request for the batches resource; undefined when the path is not one of it. */
  handle(method: string, url: URL, body: Buffer): Promise<RouteAnswer> | undefined;
}

export function createGeminiBatchRoutes(jobs: BatchJobs, protocol: ProtocolHandler): GeminiBatchRoutes {
  const failure = (facts: ErrorFacts): RouteAnswer => ({
    status: facts.status,
    json: protocol.errorResponse(facts).body,
  });

  function createBatch(model: string, body: Buffer): RouteAnswer {
    if (body.byteLength > MAX_INLINED_BYTES)
      return failure({ status: 400, message: `Request payload size exceeds the limit: ${MAX_INLINED_BYTES} bytes.` });
    let parsed: unknown;
    try {
      parsed = JSON.parse(body.toString('utf8'));
    } catch {
      return failure({ status: 400, message: 'Invalid JSON payload received.' });
    }
    const batch = isRecord(parsed) ? parsed['batch'] : undefined;
    if (!isRecord(batch))
      return failure({
        status: 400,
        message: '* BatchGenerateContentRequest.batch: batch is required',
        param: 'batch',
      });
    const displayName = batch['displayName'];
    if (typeof displayName !== 'string' || displayName === '')
      return failure({
        status: 400,
        message: '* Batch.display_name: display_name is required',
        param: 'batch.display_name',
      });
    const inputConfig = isRecord(batch['inputConfig']) ? batch['inputConfig'] : {};
    if (inputConfig['fileName'] !== undefined)
      return failure({
        status: 400,
        message: 'The scripted endpoint takes inlined requests only, not an input file.',
        param: 'batch.input_config.file_name',
      });
    const wrapper = isRecord(inputConfig['requests']) ? inputConfig['requests'] : {};
    const inlined = wrapper['requests'];
    if (!Array.isArray(inlined) || inlined.length === 0)
      return failure({
        status: 400,
        message: '* Batch.input_config: requests must not be empty',
        param: 'batch.input_config.requests',
      });
    const requests = [];
    for (const [index, entry] of inlined.entries()) {
      const at = `batch.input_config.requests.requests[${index}]`;
      if (!isRecord(entry) || !isRecord(entry['request']))
        return failure({ status: 400, message: `* ${at}.request: request is required`, param: `${at}.request` });
      const requestModel = entry['request']['model'];
      // One model per batch: the one in the path.
      if (requestModel !== undefined && String(requestModel).replace(/^models\//, '') !== model)
        return failure({
          status: 400,
          message: `* ${at}.request.model: every request of a batch must use the batch's model models/${model}, not ${String(requestModel)}.`,
          param: `${at}.request.model`,
        });
      const metadata = isRecord(entry['metadata']) ? entry['metadata'] : {};
      const key = metadata['key'];
      requests.push({ customId: typeof key === 'string' ? key : '', body: entry['request'], metadata });
    }
    const job = jobs.create({
      provider: 'gemini',
      model,
      endpoint: 'generateContent',
      metadata: {},
      displayName,
      requests,
      validationErrors: [],
    });
    return { status: 200, json: operation(job, jobs.phase(job, Date.now())) };
  }

  async function observe(job: BatchJob): Promise<unknown> {
    return operation(job, await jobs.observe(job));
  }

  async function listBatches(url: URL): Promise<RouteAnswer> {
    const pageSize = Math.min(100, Math.max(1, Number(url.searchParams.get('pageSize') ?? 20) || 20));
    const start = Number(url.searchParams.get('pageToken') ?? 0) || 0;
    const all = jobs.list('gemini');
    const page = all.slice(start, start + pageSize);
    const operations = [];
    for (const job of page) operations.push(await observe(job));
    const next = start + pageSize < all.length ? { nextPageToken: String(start + pageSize) } : {};
    return { status: 200, json: { operations, ...next } };
  }

  return {
    handle(method, url, body) {
      const create = GEMINI_BATCH_CREATE_PATH.exec(url.pathname);
      if (create && method === 'POST') return Promise.resolve(createBatch(decodeURIComponent(create[2]!), body));
      const match = BATCH_PATH.exec(url.pathname);
      if (!match) return undefined;
      if (!match[1]) return method === 'GET' ? listBatches(url) : undefined;
      const job = jobs.find('gemini', decodeURIComponent(match[1]));
      if (!job) return Promise.resolve(failure({ status: 404, message: `Batch batches/${match[1]} not found.` }));
      if (method === 'GET' && !match[2]) return observe(job).then((json) => ({ status: 200, json }));
      if (method === 'POST' && match[2]) {
        if (!jobs.cancel(job))
          return Promise.resolve(
            failure({
              status: 400,
              message: `The batch is ${STATE_OF_PHASE[jobs.phase(job, Date.now())]} and cannot be cancelled.`,
            }),
          );
        return Promise.resolve({ status: 200, json: {} });
      }
      return undefined;
    },
  };

  /** The batch as its long-running Operation; an expired batch has no output (Gemini keeps none). */
  function operation(job: BatchJob, phase: BatchPhase): unknown {
    const state = STATE_OF_PHASE[phase];
    const done = ['completed', 'failed', 'expired', 'cancelling', 'cancelled'].includes(phase);
    const succeeded = job.answers.filter((answer) => answer.status === 200).length;
    const time = (milliseconds: number) => new Date(milliseconds).toISOString();
    const output =
      done && phase !== 'expired' && phase !== 'failed'
        ? {
            output: {
              inlinedResponses: {
                inlinedResponses: job.answers.map((answer, index) => {
                  const metadata = job.requests[index]?.metadata;
                  return answer.status === 200
                    ? { response: answer.body, metadata }
                    : { error: rpcStatus(answer.status, answer.body), metadata };
                }),
              },
            },
          }
        : {};
    const batch = {
      '@type': 'type.googleapis.com/google.ai.generativelanguage.v1main.GenerateContentBatch',
      model: `models/${job.model}`,
      displayName: job.displayName,
      createTime: time(job.createdAt),
      updateTime: time(Date.now()),
      ...(done ? { endTime: time(Math.min(Date.now(), job.cancelledAt ?? job.createdAt + job.durationMs)) } : {}),
      batchStats: {
        requestCount: String(job.requests.length),
        successfulRequestCount: String(succeeded),
        failedRequestCount: String(job.answers.length - succeeded),
        pendingRequestCount: String(done ? 0 : job.requests.length - job.answers.length),
      },
      state,
      name: `batches/${job.id}`,
      ...output,
    };
    return { name: `batches/${job.id}`, metadata: batch, done, ...(done ? { response: { ...batch } } : {}) };
  }
}

/** A real-time error body as the google.rpc.Status an inlined response carries. */
function rpcStatus(status: number, body: unknown): { code: number; message: string } {
  const error = isRecord(body) && isRecord(body['error']) ? body['error'] : {};
  const message = typeof error['message'] === 'string' ? error['message'] : `HTTP ${status}`;
  return { code: RPC_CODE_OF_STATUS[status] ?? (status >= 500 ? 13 : 9), message };
}
