import {
  MAX_INLINE_IMAGE_BYTES,
  retryAfterHeaders,
  type AnswerFacts,
  type ErrorFacts,
  type RequestProblem,
  type RequestShape,
  type ScriptedAnswer,
  type ProtocolHandler,
} from './protocol.ts';
import { checkOpenAiStrictSchema, decodeBase64, imageFormatOf, isRecord } from './wire-checks.ts';

/** The request fields of POST /v1/chat/completions; anything else is "Unrecognized request argument". */
const CHAT_COMPLETION_FIELDS = new Set([
  'model',
  'messages',
  'audio',
  'frequency_penalty',
  'function_call',
  'functions',
  'logit_bias',
  'logprobs',
  'max_completion_tokens',
  'max_tokens',
  'metadata',
  'modalities',
  'n',
  'parallel_tool_calls',
  'prediction',
  'presence_penalty',
  'prompt_cache_key',
  'reasoning_effort',
  'response_format',
  'safety_identifier',
  'seed',
  'service_tier',
  'stop',
  'store',
  'stream',
  'stream_options',
  'temperature',
  'tool_choice',
  'tools',
  'top_logprobs',
  'top_p',
  'user',
  'verbosity',
  'web_search_options',
]);

/** The fields each message role may carry. */
const MESSAGE_FIELDS: Record<string, Set<string>> = {
  system: new Set(['role', 'content', 'name']),
  developer: new Set(['role', 'content', 'name']),
  user: new Set(['role', 'content', 'name']),
  assistant: new Set(['role', 'content', 'name', 'refusal', 'tool_calls', 'function_call', 'audio']),
  tool: new Set(['role', 'content', 'tool_call_id']),
  function: new Set(['role', 'content', 'name']),
};
/** Which content part types each role may send. */
const PART_TYPES: Record<string, Set<string>> = {
  system: new Set(['text']),
  developer: new Set(['text']),
  user: new Set(['text', 'image_url', 'input_audio', 'file']),
  assistant: new Set(['text', 'refusal']),
  tool: new Set(['text']),
  function: new Set(['text']),
};
const IMAGE_DETAILS = ['auto', 'low', 'high'];
const DATA_URL = /^data:(image\/[a-z0-9.+-]+);base64,(.*)$/is;
const SUPPORTED_IMAGE_TYPES: Record<string, string> = {
  'image/png': 'png',
  'image/jpeg': 'jpeg',
  'image/jpg': 'jpeg',
  'image/gif': 'gif',
  'image/webp': 'webp',
};
const SCHEMA_NAME = /^[A-Za-z0-9_-]{1,64}$/;

type Check<T> = T | RequestProblem;

function problem(message: string, param: string | null, code?: string): RequestProblem {
  return code ? { problem: message, param, code } : { problem: message, param };
}

function unexpectedFields(
  record: Record<string, unknown>,
  allowed: Set<string>,
  at: string,
): RequestProblem | undefined {
  const extra = Object.keys(record).find((key) => !allowed.has(key));
  return extra === undefined
    ? undefined
    : problem(`Additional properties are not allowed ('${extra}' was unexpected) - '${at}'`, at);
}

function readNumber(
  body: Record<string, unknown>,
  field: string,
  minimum: number,
  maximum: number,
  integer = false,
): RequestProblem | undefined {
  const value = body[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value) || (integer && !Number.isInteger(value))) {
    return problem(
      `Invalid type for '${field}': expected ${integer ? 'an integer' : 'a number'}, but got ${typeof value}.`,
      field,
    );
  }
  if (value < minimum)
    return problem(
      `Invalid '${field}': number below minimum value. Expected a value >= ${minimum}, but got ${value} instead.`,
      field,
    );
  if (value > maximum)
    return problem(
      `Invalid '${field}': number above maximum value. Expected a value <= ${maximum}, but got ${value} instead.`,
      field,
    );
  return undefined;
}

/** Checks an image part; its decoded bytes go to `images` (a URL the endpoint cannot fetch adds none). */
function readImage(part: Record<string, unknown>, at: string, images: Uint8Array[]): Check<true> {
  const extra = unexpectedFields(part, new Set(['type', 'image_url']), at);
  if (extra) return extra;
  const image = part['image_url'];
  if (!isRecord(image))
    return problem(
      `Invalid type for '${at}.image_url': expected an object, but got ${typeof image}.`,
      `${at}.image_url`,
    );
  const imageExtra = unexpectedFields(image, new Set(['url', 'detail']), `${at}.image_url`);
  if (imageExtra) return imageExtra;
  const detail = image['detail'];
  if (detail !== undefined && !IMAGE_DETAILS.includes(String(detail))) {
    return problem(
      `Invalid value: '${String(detail)}'. Supported values are: 'auto', 'low', and 'high'.`,
      `${at}.image_url.detail`,
      'invalid_value',
    );
  }
  const url = image['url'];
  if (typeof url !== 'string' || url === '')
    return problem(`Missing required parameter: '${at}.image_url.url'.`, `${at}.image_url.url`);
  if (/^https?:\/\//i.test(url)) return true;
  const match = DATA_URL.exec(url);
  if (!match) {
    return problem(
      "Invalid 'image_url.url': expected a URL or a base64-encoded data URL (data:image/...;base64,...).",
      `${at}.image_url.url`,
      'invalid_image_url',
    );
  }
  const declared = SUPPORTED_IMAGE_TYPES[match[1]!.toLowerCase()];
  const bytes = decodeBase64(match[2]!, { allowUrlAlphabet: false });
  const actual = bytes ? imageFormatOf(bytes) : undefined;
  if (!declared || !bytes || !actual || actual !== declared) {
    return problem(
      "You uploaded an unsupported image. Please make sure your image is valid and has one of the following formats: ['png', 'jpeg', 'gif', 'webp'].",
      `${at}.image_url.url`,
      'invalid_image_format',
    );
  }
  if (bytes.byteLength > MAX_INLINE_IMAGE_BYTES)
    return problem('Image too large: images must be under 20 MB.', `${at}.image_url.url`, 'image_too_large');
  images.push(bytes);
  return true;
}

interface MessageFacts {
  texts: string[];
  imageCount: number;
  images: Uint8Array[];
}

function readMessage(message: unknown, index: number, facts: MessageFacts): RequestProblem | undefined {
  const at = `messages[${index}]`;
  if (!isRecord(message))
    return problem(`Invalid type for '${at}': expected an object, but got ${typeof message}.`, at);
  const role = message['role'];
  if (typeof role !== 'string' || !(role in MESSAGE_FIELDS)) {
    return problem(
      `Invalid value: ${JSON.stringify(role)}. Supported values are: 'system', 'assistant', 'user', 'function', 'tool', and 'developer'.`,
      `${at}.role`,
      'invalid_value',
    );
  }
  const extra = unexpectedFields(message, MESSAGE_FIELDS[role]!, at);
  if (extra) return extra;
  if (role === 'tool' && typeof message['tool_call_id'] !== 'string')
    return problem(`Missing required parameter: '${at}.tool_call_id'.`, `${at}.tool_call_id`);
  const content = message['content'];
  if (typeof content === 'string') {
    facts.texts.push(content);
    return undefined;
  }
  if (content === null && role === 'assistant') return undefined;
  if (!Array.isArray(content))
    return problem(
      `Invalid type for '${at}.content': expected one of a string or array of objects, but got ${typeof content}.`,
      `${at}.content`,
    );
  if (content.length === 0)
    return problem(
      `Invalid '${at}.content': empty array. Expected an array with minimum length 1, but got an empty array instead.`,
      `${at}.content`,
    );
  for (const [partIndex, part] of content.entries()) {
    const partAt = `${at}.content[${partIndex}]`;
    if (!isRecord(part) || typeof part['type'] !== 'string')
      return problem(`Missing required parameter: '${partAt}.type'.`, `${partAt}.type`);
    const type = part['type'];
    if (type === 'image_url' && role !== 'user') {
      return problem(
        `Image URLs are only allowed for messages with role 'user', but this message with role '${role}' contains an image URL.`,
        partAt,
      );
    }
    if (!PART_TYPES[role]!.has(type)) {
      return problem(
        `Invalid value: '${type}'. Supported values are: ${[...PART_TYPES[role]!].map((name) => `'${name}'`).join(', ')}.`,
        `${partAt}.type`,
        'invalid_value',
      );
    }
    if (type === 'text') {
      const partExtra = unexpectedFields(part, new Set(['type', 'text']), partAt);
      if (partExtra) return partExtra;
      if (typeof part['text'] !== 'string')
        return problem(`Missing required parameter: '${partAt}.text'.`, `${partAt}.text`);
      facts.texts.push(part['text']);
    } else if (type === 'image_url') {
      const image = readImage(part, partAt, facts.images);
      if (image !== true) return image;
      facts.imageCount += 1;
    }
  }
  return undefined;
}

/**
 * Which `response_format`s a chat completions server takes:
 * - `openai`: the OpenAI API's (text, json_object alone, json_schema within the strict subset);
 * - `llama-cpp-python`: text, or json_object with an optional `schema`; anything else fails its
 *   pydantic request model, which that server answers with a 500 naming `response_format.type`;
 * - `text-only`: a server without JSON modes, refusing any response_format but text with a 400.
 */
export type ResponseFormatDialect = 'openai' | 'llama-cpp-python' | 'text-only';

function readResponseFormat(
  format: unknown,
  facts: MessageFacts,
  dialect: ResponseFormatDialect,
): Check<{ structured: boolean }> {
  if (!isRecord(format)) return problem("Invalid type for 'response_format': expected an object.", 'response_format');
  const type = format['type'];
  if (dialect === 'text-only' && type !== 'text')
    return problem(`response_format type ${JSON.stringify(type)} is not supported`, 'response_format');
  if (dialect === 'llama-cpp-python') {
    if (type === 'json_object') {
      const schema = format['schema'];
      if (schema !== undefined && !isRecord(schema))
        return {
          ...problem('response_format.schema: Input should be a valid dictionary', 'response_format'),
          status: 500,
        };
      return { structured: true };
    }
    if (type !== 'text')
      return {
        ...problem(
          '1 validation error for CreateChatCompletionRequest\nresponse_format.type\n' +
            `  Input should be 'text' or 'json_object' [type=literal_error, input_value=${JSON.stringify(type)}, input_type=str]`,
          'response_format',
        ),
        status: 500,
      };
  }
  if (type === 'text') return unexpectedFields(format, new Set(['type']), 'response_format') ?? { structured: false };
  if (type === 'json_object') {
    const extra = unexpectedFields(format, new Set(['type']), 'response_format');
    if (extra) return extra;
    if (!facts.texts.some((text) => /json/i.test(text))) {
      return problem(
        "'messages' must contain the word 'json' in some form, to use 'response_format' of type 'json_object'.",
        'messages',
      );
    }
    return { structured: true };
  }
  if (type !== 'json_schema') {
    return problem(
      `Invalid value: ${JSON.stringify(type)}. Supported values are: 'text', 'json_object', and 'json_schema'.`,
      'response_format.type',
      'invalid_value',
    );
  }
  const formatExtra = unexpectedFields(format, new Set(['type', 'json_schema']), 'response_format');
  if (formatExtra) return formatExtra;
  const jsonSchema = format['json_schema'];
  if (!isRecord(jsonSchema))
    return problem("Missing required parameter: 'response_format.json_schema'.", 'response_format.json_schema');
  const extra = unexpectedFields(
    jsonSchema,
    new Set(['name', 'description', 'schema', 'strict']),
    'response_format.json_schema',
  );
  if (extra) return extra;
  const name = jsonSchema['name'];
  if (typeof name !== 'string' || !SCHEMA_NAME.test(name)) {
    return problem(
      `Invalid 'response_format.json_schema.name': string does not match pattern. Expected a string that matches the pattern '^[a-zA-Z0-9_-]+$' of at most 64 characters.`,
      'response_format.json_schema.name',
      'invalid_value',
    );
  }
  const schema = jsonSchema['schema'];
  if (schema !== undefined && !isRecord(schema))
    return problem(
      "Invalid type for 'response_format.json_schema.schema': expected an object.",
      'response_format.json_schema.schema',
    );
  if (jsonSchema['strict'] === true) {
    const broken = checkOpenAiStrictSchema(schema);
    if (broken) {
      const context = broken.path.map((key) => `'${key}'`).join(', ');
      return problem(
        `Invalid schema for response_format '${name}': In context=(${context}), ${broken.problem}`,
        'response_format',
        'invalid_json_schema',
      );
    }
  }
  return { structured: true };
}

function readRequest(body: unknown, dialect: ResponseFormatDialect): RequestShape | RequestProblem {
  if (!isRecord(body))
    return problem('We could not parse the JSON body of your request. The OpenAI API expects a JSON payload.', null);
  const unknown = Object.keys(body).find((key) => !CHAT_COMPLETION_FIELDS.has(key));
  if (unknown !== undefined) return problem(`Unrecognized request argument supplied: ${unknown}`, null);
  const model = body['model'];
  if (typeof model !== 'string' || model === '') return problem('you must provide a model parameter', 'model');
  const messages = body['messages'];
  if (!Array.isArray(messages)) return problem("Missing required parameter: 'messages'.", 'messages');
  if (messages.length === 0)
    return problem(
      "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.",
      'messages',
    );
  if (body['stream'] === true)
    return problem('The scripted endpoint answers whole completions only; send stream: false.', 'stream');
  const numeric =
    readNumber(body, 'temperature', 0, 2) ??
    readNumber(body, 'top_p', 0, 1) ??
    readNumber(body, 'presence_penalty', -2, 2) ??
    readNumber(body, 'frequency_penalty', -2, 2) ??
    readNumber(body, 'n', 1, 128, true) ??
    readNumber(body, 'max_tokens', 1, Number.MAX_SAFE_INTEGER, true) ??
    readNumber(body, 'max_completion_tokens', 1, Number.MAX_SAFE_INTEGER, true) ??
    readNumber(body, 'seed', Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER, true);
  if (numeric) return numeric;
  const facts: MessageFacts = { texts: [], imageCount: 0, images: [] };
  for (const [index, message] of messages.entries()) {
    const broken = readMessage(message, index, facts);
    if (broken) return broken;
  }
  let structured = false;
  if (body['response_format'] !== undefined) {
    const format = readResponseFormat(body['response_format'], facts, dialect);
    if ('problem' in format) return format;
    structured = format.structured;
  }
  return { model, text: facts.texts.join('\n'), imageCount: facts.imageCount, images: facts.images, structured };
}

function answerBody(answer: ScriptedAnswer, facts: AnswerFacts): unknown {
  const usage = {
    prompt_tokens: facts.inputTokens,
    completion_tokens: facts.outputTokens,
    total_tokens: facts.inputTokens + facts.outputTokens,
    prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
    completion_tokens_details: {
      reasoning_tokens: 0,
      audio_tokens: 0,
      accepted_prediction_tokens: 0,
      rejected_prediction_tokens: 0,
    },
  };
  const choice = (message: Record<string, unknown>, finishReason: string) => ({
    index: 0,
    message: { role: 'assistant', content: null, refusal: null, annotations: [], ...message },
    logprobs: null,
    finish_reason: finishReason,
  });
  let choices: unknown[];
  if (answer.kind === 'text') choices = [choice({ content: answer.text }, 'stop')];
  else if (answer.kind === 'truncated') choices = [choice({ content: answer.text }, 'length')];
  else if (answer.kind === 'safety') choices = [choice({}, 'content_filter')];
  else if (answer.kind === 'refusal') choices = [choice({ refusal: answer.text }, 'stop')];
  else choices = [];
  return {
    id: facts.id,
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model: facts.model,
    choices,
    usage,
    service_tier: 'default',
    system_fingerprint: null,
  };
}

const ERROR_TYPE: Record<number, string> = {
  401: 'invalid_request_error',
  403: 'invalid_request_error',
  404: 'invalid_request_error',
  429: 'requests',
};
const ERROR_CODE: Record<number, string> = {
  401: 'invalid_api_key',
  403: 'unsupported_country_region_territory',
  429: 'rate_limit_exceeded',
};

export function openAiErrorResponse(facts: ErrorFacts): { body: unknown; headers: Record<string, string> } {
  return {
    body: {
      error: {
        message: facts.message,
        type:
          facts.openAiType ??
          ERROR_TYPE[facts.status] ??
          (facts.status >= 500 ? 'server_error' : 'invalid_request_error'),
        param: facts.param ?? null,
        code: facts.openAiCode ?? ERROR_CODE[facts.status] ?? null,
      },
    },
    headers: retryAfterHeaders(facts),
  };
}

/** OpenAI chat completions (POST /v1/chat/completions), as the openai SDK speaks it, with a server's response formats. */
export function createOpenAiProtocol(dialect: ResponseFormatDialect = 'openai'): ProtocolHandler {
  return { readRequest: (body) => readRequest(body, dialect), answerBody, errorResponse: openAiErrorResponse };
}

/** OpenAI chat completions as the OpenAI API itself takes them. */
export const openAiProtocol: ProtocolHandler = createOpenAiProtocol('openai');
