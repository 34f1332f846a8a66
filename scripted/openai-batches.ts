import { randomBytes } from 'node:crypto';
import type { BatchJob, BatchJobs, BatchPhase, BatchValidationError, BatchedRequest } from './batch-jobs.ts';
import { openAiErrorResponse } from './openai-protocol.ts';
import { isRequestProblem, type ErrorFacts, type ProtocolHandler } from './protocol.ts';
import { isRecord } from './wire-checks.ts';

// The OpenAI Files and Batch APIs as the openai SDK speaks them: a JSONL upload with purpose
// "batch", a batch over it, its status, and the output and error files once it has ended.

/** What a batch route answers: JSON, or a file's bytes. */
export type RouteAnswer = { status: number; json: unknown } | { status: number; text: string };

interface StoredFile {
  id: string;
  filename: string;
  purpose: string;
  bytes: Buffer;
  createdAt: number;
}

const MAX_BATCH_FILE_BYTES = 200 * 1024 * 1024;
const MAX_BATCH_REQUESTS = 50_000;
const FILE_PURPOSES = ['assistants', 'batch', 'fine-tune', 'vision', 'user_data', 'evals'];
const BATCH_ENDPOINTS = [
  '/v1/responses',
  '/v1/chat/completions',
  '/v1/embeddings',
  '/v1/completions',
  '/v1/moderations',
  '/v1/images/generations',
  '/v1/images/edits',
  '/v1/videos',
];
const ENDED: readonly BatchPhase[] = ['completed', 'failed', 'expired', 'cancelled'];

export interface OpenAiBatchRoutes {
  /** The answer to a request for the files or batches API; undefined when the path is neither. */
  handle(method: string, url: URL, body: Buffer, contentType: string): Promise<RouteAnswer> | undefined;
  reset(): void;
}

/** `protocols`: the real-time protocol of each endpoint the scripted endpoint runs batches for. */
export function createOpenAiBatchRoutes(
  jobs: BatchJobs,
  protocols: Record<string, ProtocolHandler>,
): OpenAiBatchRoutes {
  const files = new Map<string, StoredFile>();

  function storeFile(filename: string, purpose: string, bytes: Buffer): StoredFile {
    const file = { id: `file-${randomBytes(12).toString('hex')}`, filename, purpose, bytes, createdAt: Date.now() };
    files.set(file.id, file);
    return file;
  }

  async function uploadFile(body: Buffer, contentType: string): Promise<RouteAnswer> {
    let form: FormData;
    try {
      form = await new Request('http://scripted.invalid/', {
        method: 'POST',
        headers: { 'content-type': contentType },
        body,
      }).formData();
    } catch {
      return failure({ status: 400, message: 'The request body is not valid multipart/form-data.' });
    }
    const purpose = form.get('purpose');
    const file = form.get('file');
    if (typeof purpose !== 'string' || !FILE_PURPOSES.includes(purpose))
      return failure({
        status: 400,
        message: `Invalid value for 'purpose': ${JSON.stringify(purpose)}.`,
        param: 'purpose',
        openAiCode: 'invalid_value',
      });
    if (!(file instanceof File))
      return failure({ status: 400, message: "Missing required parameter: 'file'.", param: 'file' });
    if (purpose === 'batch' && !file.name.endsWith('.jsonl'))
      return failure({ status: 400, message: 'Invalid file format for Batch API. Must be .jsonl', param: 'file' });
    if (file.size > MAX_BATCH_FILE_BYTES)
      return failure({
        status: 400,
        message: `File size exceeds the limit of ${MAX_BATCH_FILE_BYTES} bytes for purpose batch.`,
        param: 'file',
      });
    return { status: 200, json: fileObject(storeFile(file.name, purpose, Buffer.from(await file.arrayBuffer()))) };
  }

  function createBatch(body: Buffer): RouteAnswer {
    let parsed: unknown;
    try {
      parsed = JSON.parse(body.toString('utf8'));
    } catch {
      return failure({ status: 400, message: 'We could not parse the JSON body of your request.' });
    }
    if (!isRecord(parsed)) return failure({ status: 400, message: 'Expected a JSON object.' });
    const inputFileId = parsed['input_file_id'];
    const endpoint = parsed['endpoint'];
    const window = parsed['completion_window'];
    const metadata = parsed['metadata'] ?? {};
    if (typeof inputFileId !== 'string')
      return failure({ status: 400, message: "Missing required parameter: 'input_file_id'.", param: 'input_file_id' });
    if (typeof endpoint !== 'string' || !BATCH_ENDPOINTS.includes(endpoint))
      return failure({
        status: 400,
        message: `Invalid value: ${JSON.stringify(endpoint)}. Supported values are: ${BATCH_ENDPOINTS.map((each) => `'${each}'`).join(', ')}.`,
        param: 'endpoint',
        openAiCode: 'invalid_value',
      });
    const protocol = protocols[endpoint];
    if (!protocol)
      return failure({
        status: 400,
        message: `The scripted endpoint runs batches for ${Object.keys(protocols).join(' and ')} only.`,
        param: 'endpoint',
      });
    if (window !== '24h')
      return failure({
        status: 400,
        message: `Invalid value: ${JSON.stringify(window)}. Supported values are: '24h'.`,
        param: 'completion_window',
        openAiCode: 'invalid_value',
      });
    if (!isRecord(metadata) || Object.values(metadata).some((value) => typeof value !== 'string'))
      return failure({
        status: 400,
        message: "Invalid type for 'metadata': expected an object of strings.",
        param: 'metadata',
      });
    if (Object.keys(metadata).length > 16)
      return failure({ status: 400, message: "Invalid 'metadata': at most 16 keys.", param: 'metadata' });
    const file = files.get(inputFileId);
    if (!file) return failure({ status: 404, message: `No such File object: ${inputFileId}`, param: 'input_file_id' });
    if (file.purpose !== 'batch')
      return failure({
        status: 400,
        message: `The file ${inputFileId} has purpose '${file.purpose}'; a batch needs one with purpose 'batch'.`,
        param: 'input_file_id',
      });
    const read = readInputFile(file.bytes.toString('utf8'), endpoint, protocol);
    const job = jobs.create({
      provider: 'openai',
      model: read.model ?? '',
      endpoint,
      metadata: metadata as Record<string, string>,
      displayName: null,
      requests: read.requests,
      validationErrors: read.errors,
    });
    job.outputs['input_file_id'] = inputFileId;
    return { status: 200, json: batchObject(job, jobs.phase(job, Date.now())) };
  }

  /** The batch as the API shows it; makes the output and error files once it has ended. */
  async function observe(job: BatchJob): Promise<unknown> {
    const phase = await jobs.observe(job);
    if (ENDED.includes(phase) && phase !== 'failed' && job.outputs['output_done'] === undefined) {
      job.outputs['output_done'] = 'yes';
      const output: string[] = [];
      const errors: string[] = [];
      job.requests.forEach((request, index) => {
        const answer = job.answers[index];
        const id = `batch_req_${randomBytes(12).toString('hex')}`;
        if (!answer) {
          const code = phase === 'expired' ? 'batch_expired' : 'batch_cancelled';
          const message =
            phase === 'expired'
              ? 'This request could not be executed before the completion window expired.'
              : 'This request was not executed because the batch was cancelled.';
          errors.push(JSON.stringify({ id, custom_id: request.customId, response: null, error: { code, message } }));
          return;
        }
        const line = JSON.stringify({
          id,
          custom_id: request.customId,
          response: { status_code: answer.status, request_id: randomBytes(16).toString('hex'), body: answer.body },
          error: null,
        });
        (answer.status === 200 ? output : errors).push(line);
      });
      if (output.length > 0)
        job.outputs['output_file_id'] = storeFile('batch_output.jsonl', 'batch_output', jsonl(output)).id;
      if (errors.length > 0)
        job.outputs['error_file_id'] = storeFile('batch_errors.jsonl', 'batch_output', jsonl(errors)).id;
    }
    return batchObject(job, phase);
  }

  return {
    handle(method, url, body, contentType) {
      const path = url.pathname;
      if (method === 'POST' && path === '/v1/files') return uploadFile(body, contentType);
      const fileMatch = /^\/v1\/files\/([^/]+)(\/content)?$/.exec(path);
      if (method === 'GET' && fileMatch) {
        const file = files.get(decodeURIComponent(fileMatch[1]!));
        if (!file) return Promise.resolve(failure({ status: 404, message: `No such File object: ${fileMatch[1]}` }));
        return Promise.resolve(
          fileMatch[2] ? { status: 200, text: file.bytes.toString('utf8') } : { status: 200, json: fileObject(file) },
        );
      }
      if (method === 'POST' && path === '/v1/batches') return Promise.resolve(createBatch(body));
      if (method === 'GET' && path === '/v1/batches') return listBatches(url);
      const batchMatch = /^\/v1\/batches\/([^/]+)(\/cancel)?$/.exec(path);
      if (!batchMatch) return undefined;
      const job = jobs.find('openai', decodeURIComponent(batchMatch[1]!));
      if (!job) return Promise.resolve(failure({ status: 404, message: `No batch found with id '${batchMatch[1]}'.` }));
      if (method === 'GET' && !batchMatch[2]) return observe(job).then((json) => ({ status: 200, json }));
      if (method === 'POST' && batchMatch[2]) {
        if (!jobs.cancel(job))
          return Promise.resolve(
            failure({
              status: 400,
              message: `Cannot cancel a batch with status '${jobs.phase(job, Date.now())}'.`,
            }),
          );
        return observe(job).then((json) => ({ status: 200, json }));
      }
      return undefined;
    },
    reset() {
      files.clear();
    },
  };

  async function listBatches(url: URL): Promise<RouteAnswer> {
    const limit = Math.min(100, Math.max(1, Number(url.searchParams.get('limit') ?? 20) || 20));
    const after = url.searchParams.get('after');
    const all = jobs.list('openai');
    const start = after ? all.findIndex((job) => job.id === after) + 1 : 0;
    const page = all.slice(start, start + limit);
    const data = [];
    for (const job of page) data.push(await observe(job));
    return {
      status: 200,
      json: {
        object: 'list',
        data,
        first_id: page[0]?.id ?? null,
        last_id: page.at(-1)?.id ?? null,
        has_more: start + limit < all.length,
      },
    };
  }
}

/**
 * Reads a batch input file as the service validates it: every line JSON with a custom_id, method
 * POST, the batch's url and a body that passes the endpoint's real-time checks; unique custom_ids;
 * one model; at most 50,000 requests. A problem is a validation error of the batch, not an HTTP error.
 */
function readInputFile(
  text: string,
  endpoint: string,
  protocol: ProtocolHandler,
): { requests: BatchedRequest[]; errors: BatchValidationError[]; model: string | undefined } {
  const requests: BatchedRequest[] = [];
  const errors: BatchValidationError[] = [];
  const seen = new Set<string>();
  let model: string | undefined;
  const error = (line: number, code: string, message: string, param: string | null = null) =>
    errors.push({ code, message, param, line });
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  if (lines.length === 0) error(1, 'empty_file', 'The batch input file is empty.');
  if (lines.length > MAX_BATCH_REQUESTS)
    errors.push({
      code: 'too_many_requests',
      message: `The batch input file has ${lines.length} requests; a batch takes at most ${MAX_BATCH_REQUESTS}.`,
      param: null,
      line: null,
    });
  lines.forEach((text, index) => {
    const number = index + 1;
    let line: unknown;
    try {
      line = JSON.parse(text);
    } catch {
      return error(number, 'invalid_json_line', 'This line is not parseable as valid JSON.');
    }
    if (!isRecord(line)) return error(number, 'invalid_json_line', 'This line is not a JSON object.');
    const customId = line['custom_id'];
    if (typeof customId !== 'string' || customId === '')
      return error(number, 'missing_required_parameter', "Missing required parameter: 'custom_id'.", 'custom_id');
    if (seen.has(customId))
      return error(
        number,
        'duplicate_custom_id',
        'The custom_id for this request is a duplicate of another request. The custom_id parameter must be unique for each request in a batch.',
        'custom_id',
      );
    seen.add(customId);
    if (line['method'] !== 'POST')
      return error(number, 'invalid_method', 'The method of every request of a batch must be POST.', 'method');
    if (line['url'] !== endpoint)
      return error(
        number,
        'invalid_url',
        'The URL provided for this request does not match the batch endpoint.',
        'url',
      );
    const read = protocol.readRequest(line['body'], '');
    if (isRequestProblem(read)) return error(number, 'invalid_request', read.problem, `body.${read.param ?? ''}`);
    model ??= read.model;
    if (read.model !== model)
      return error(
        number,
        'mismatched_model',
        `The provided model '${read.model}' does not match the model of the other requests in this batch ('${model}'). Every request of a batch must use the same model.`,
        'body.model',
      );
    requests.push({ customId, body: line['body'] });
  });
  return { requests, errors, model };
}

function failure(facts: ErrorFacts): RouteAnswer {
  return { status: facts.status, json: openAiErrorResponse(facts).body };
}

function jsonl(lines: string[]): Buffer {
  return Buffer.from(lines.map((line) => `${line}\n`).join(''));
}

function fileObject(file: StoredFile): unknown {
  return {
    id: file.id,
    object: 'file',
    bytes: file.bytes.byteLength,
    created_at: Math.floor(file.createdAt / 1000),
    filename: file.filename,
    purpose: file.purpose,
    status: 'processed',
    status_details: null,
    expires_at: null,
  };
}

function batchObject(job: BatchJob, phase: BatchPhase): unknown {
  const seconds = (milliseconds: number) => Math.floor(milliseconds / 1000);
  const answered = job.answers.filter((answer) => answer.status === 200).length;
  const failed = job.answers.length - answered;
  const ended = ENDED.includes(phase);
  const unrun = ended && phase !== 'completed' && phase !== 'failed' ? job.requests.length - job.answers.length : 0;
  const end = job.createdAt + job.durationMs;
  return {
    id: job.id,
    object: 'batch',
    endpoint: job.endpoint,
    model: job.model,
    errors: phase === 'failed' ? { object: 'list', data: job.validationErrors } : null,
    input_file_id: job.outputs['input_file_id'],
    completion_window: '24h',
    status: phase,
    output_file_id: job.outputs['output_file_id'] ?? null,
    error_file_id: job.outputs['error_file_id'] ?? null,
    created_at: seconds(job.createdAt),
    in_progress_at: phase === 'validating' || phase === 'failed' ? null : seconds(job.createdAt + job.durationMs * 0.1),
    expires_at: seconds(job.createdAt) + 24 * 3600,
    finalizing_at:
      phase === 'finalizing' || phase === 'completed' ? seconds(job.createdAt + job.durationMs * 0.8) : null,
    completed_at: phase === 'completed' ? seconds(end) : null,
    failed_at: phase === 'failed' ? seconds(job.createdAt + job.durationMs * 0.1) : null,
    expired_at: phase === 'expired' ? seconds(end) : null,
    cancelling_at: job.cancelledAt === undefined ? null : seconds(job.cancelledAt),
    cancelled_at: phase === 'cancelled' && job.cancelledAt !== undefined ? seconds(job.cancelledAt) : null,
    request_counts: { total: job.requests.length, completed: answered, failed: failed + unrun },
    metadata: job.metadata,
  };
}
