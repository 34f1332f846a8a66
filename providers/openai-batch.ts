import { BATCH_LIMITS } from '../domain/batch.ts';
import OpenAI, { APIError, toFile } from 'openai';
import type { Batch } from 'openai/resources/batches';
import type { ChatCompletion } from 'openai/resources/chat/completions';
import type { ImagesResponse } from 'openai/resources/images';
import type { BatchClient, BatchLine, BatchResult, BatchState, BatchStatus } from './batch.ts';
import { batchFailureOf, batchKindOf, resultErrorContext } from './batch-request.ts';
import { createProviderFailure, sortOpenAiError, type ProviderErrorContext } from './errors.ts';
import {
  OPENAI_API_BASE_URL,
  readOpenAiCompletion,
  readOpenAiImages,
  toOpenAiBody,
  toOpenAiImageBody,
} from './openai.ts';

export interface OpenAiBatchClientOptions {
  apiKey: string;
  /** Any server speaking the OpenAI Batch API (the scripted endpoint in tests). @default OpenAI's API */
  baseUrl?: string;
  /**
   * Deadline for one HTTP call (an upload of up to 200 MB included).
   * @default 600000
   */
  timeoutMs?: number;
}

const TEXT_ENDPOINT = '/v1/chat/completions';
const IMAGE_ENDPOINT = '/v1/images/generations';
/** The metadata key that carries the submission key, so a retried submit finds its batch. */
const SUBMISSION_METADATA_KEY = 'scigen_submission';
/** Per-request errors that mean the request never ran: it has no result at all. */
const NEVER_RAN_CODES = new Set(['batch_expired', 'batch_cancelled']);
const ENDED_STATUSES = new Set<BatchStatus>(['completed', 'failed', 'expired', 'cancelled']);

/** One line of the batch input file: the same body real time sends, to the same endpoint. */
export function toOpenAiBatchLine(line: BatchLine): {
  custom_id: string;
  method: 'POST';
  url: string;
  body: unknown;
} {
  return line.kind === 'text'
    ? { custom_id: line.customId, method: 'POST', url: TEXT_ENDPOINT, body: toOpenAiBody(line.request) }
    : { custom_id: line.customId, method: 'POST', url: IMAGE_ENDPOINT, body: toOpenAiImageBody(line.request) };
}

/** The bytes a line takes in the JSONL upload, its newline included. */
export function openAiBatchLineBytes(line: BatchLine): number {
  return Buffer.byteLength(JSON.stringify(toOpenAiBatchLine(line))) + 1;
}

/** The OpenAI Batch API through the openai SDK: an uploaded JSONL file, a batch, its output and error files. */
export function createOpenAiBatchClient(options: OpenAiBatchClientOptions): BatchClient {
  const client = new OpenAI({
    apiKey: options.apiKey,
    // Always given: left undefined, the SDK would read OPENAI_BASE_URL itself, behind the config's back.
    baseURL: options.baseUrl || OPENAI_API_BASE_URL,
    timeout: options.timeoutMs ?? 600_000,
    // Temporal is the only retry layer, here as for real-time calls.
    maxRetries: 0,
  });
  /** Context of a failure of a batch call itself, which belongs to no one problem. */
  const callContext: ProviderErrorContext = { step: 'classify', problemId: 'batch', secrets: [options.apiKey] };

  async function call<T>(run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      throw sortOpenAiError(error, callContext);
    }
  }

  async function find(submissionKey: string): Promise<{ id: string } | null> {
    return call(async () => {
      for await (const batch of client.batches.list({ limit: 100 })) {
        if (batch.metadata?.[SUBMISSION_METADATA_KEY] === submissionKey) return { id: batch.id };
      }
      return null;
    });
  }

  async function readFileLines(fileId: string | undefined): Promise<unknown[]> {
    if (!fileId) return [];
    const text = await call(async () => (await client.files.content(fileId)).text());
    return text
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map((line) => JSON.parse(line) as unknown);
  }

  return {
    provider: 'openai',
    limits: BATCH_LIMITS.openai,
    find,
    async submit(lines, { submissionKey, signal }) {
      const kind = batchKindOf(lines);
      const existing = await find(submissionKey);
      if (existing) return existing;
      const jsonl = lines.map((line) => JSON.stringify(toOpenAiBatchLine(line))).join('\n') + '\n';
      const requestOptions = signal ? { signal } : {};
      const file = await call(async () =>
        client.files.create(
          { file: await toFile(Buffer.from(jsonl), `${submissionKey}.jsonl`), purpose: 'batch' },
          requestOptions,
        ),
      );
      const batch = await call(() =>
        client.batches.create(
          {
            input_file_id: file.id,
            endpoint: kind === 'text' ? TEXT_ENDPOINT : IMAGE_ENDPOINT,
            completion_window: '24h',
            metadata: { [SUBMISSION_METADATA_KEY]: submissionKey },
          },
          requestOptions,
        ),
      );
      return { id: batch.id };
    },
    async get(id) {
      return toBatchState(await call(() => client.batches.retrieve(id)));
    },
    async results(id) {
      const batch = await call(() => client.batches.retrieve(id));
      const lines = [...(await readFileLines(batch.output_file_id)), ...(await readFileLines(batch.error_file_id))];
      const results: BatchResult[] = [];
      for (const line of lines) {
        const result = readOutputLine(line as OutputLine, batch, options.apiKey);
        if (result) results.push(result);
      }
      return results;
    },
    async cancel(id) {
      await call(() => client.batches.cancel(id));
    },
  };
}

function toBatchState(batch: Batch): BatchState {
  const counts = batch.request_counts;
  return {
    id: batch.id,
    status: batch.status,
    counts: { total: counts?.total ?? 0, completed: counts?.completed ?? 0, failed: counts?.failed ?? 0 },
    ended: ENDED_STATUSES.has(batch.status),
    errors: (batch.errors?.data ?? []).map((error) =>
      [error.line === undefined || error.line === null ? '' : `line ${error.line}: `, error.message ?? error.code ?? '']
        .join('')
        .trim(),
    ),
  };
}

/** A line of an output or error file (the Batch API's request output object). */
interface OutputLine {
  custom_id: string;
  response: { status_code: number; request_id?: string; body: unknown } | null;
  error: { code?: string; message?: string } | null;
}

/** One output line as a result: what the same answer, or the same error, gives in real time. */
function readOutputLine(line: OutputLine, batch: Batch, apiKey: string): BatchResult | undefined {
  const customId = line.custom_id;
  const model = batch.model ?? modelOf(line.response?.body);
  const context = resultErrorContext(customId, model, apiKey);
  const response = line.response;
  if (!response) {
    if (NEVER_RAN_CODES.has(line.error?.code ?? '')) return undefined;
    const failure = createProviderFailure({
      provider: 'openai',
      type: 'ProviderUnexpectedError',
      message: `openai could not run the request: ${line.error?.message ?? line.error?.code ?? 'no response'}`,
      context,
      ...(line.error?.code ? { providerCode: line.error.code } : {}),
    });
    return { customId, ok: false, failure: batchFailureOf(failure) };
  }
  if (response.status_code >= 400) {
    // The SDK's own error class for the status, so the sorting is exactly real time's.
    const headers = new Headers(response.request_id ? { 'x-request-id': response.request_id } : {});
    const error = APIError.generate(response.status_code, response.body as object, undefined, headers);
    return { customId, ok: false, failure: batchFailureOf(sortOpenAiError(error, context)) };
  }
  try {
    if (batch.endpoint === IMAGE_ENDPOINT)
      return {
        customId,
        ok: true,
        kind: 'image',
        response: readOpenAiImages(response.body as ImagesResponse, model ?? ''),
      };
    return {
      customId,
      ok: true,
      kind: 'text',
      response: readOpenAiCompletion(response.body as ChatCompletion, model ?? '', context),
    };
  } catch (error) {
    return { customId, ok: false, failure: batchFailureOf(error) };
  }
}

function modelOf(body: unknown): string | undefined {
  const model = typeof body === 'object' && body !== null ? (body as { model?: unknown }).model : undefined;
  return typeof model === 'string' ? model : undefined;
}
