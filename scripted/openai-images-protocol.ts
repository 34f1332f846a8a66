import { openAiErrorResponse } from './openai-protocol.ts';
import type {
  AnswerFacts,
  ErrorFacts,
  ProtocolHandler,
  RequestProblem,
  RequestShape,
  ScriptedAnswer,
} from './protocol.ts';
import { isRecord } from './wire-checks.ts';

// POST /v1/images/generations as the API documents it for the GPT image models: which fields
// exist, which values each takes, and what it refuses (response_format and style belong to the
// DALL·E models). Written from the API reference, independently of providers/openai.ts.

const IMAGE_GENERATION_FIELDS = new Set([
  'prompt',
  'model',
  'background',
  'moderation',
  'n',
  'output_compression',
  'output_format',
  'partial_images',
  'quality',
  'response_format',
  'size',
  'stream',
  'style',
  'user',
]);
/** Fields of the DALL·E models that the GPT image models answer with "Unknown parameter". */
const DALL_E_ONLY_FIELDS = ['response_format', 'style'];
const DALL_E_MODELS = new Set(['dall-e-2', 'dall-e-3']);
const GPT_IMAGE_SIZES = ['auto', '1024x1024', '1536x1024', '1024x1536'];
const GPT_IMAGE_QUALITIES = ['auto', 'low', 'medium', 'high'];
const OUTPUT_FORMATS = ['png', 'jpeg', 'webp'];
const BACKGROUNDS = ['auto', 'transparent', 'opaque'];
const MODERATIONS = ['auto', 'low'];
const MAX_PROMPT_CHARACTERS = 32_000;

/** gpt-image-1's output tokens per picture, by quality and size (its pricing table); `auto` is billed here as medium. */
const OUTPUT_TOKENS: Record<string, Record<string, number>> = {
  low: { '1024x1024': 272, '1024x1536': 408, '1536x1024': 400 },
  medium: { '1024x1024': 1056, '1024x1536': 1584, '1536x1024': 1568 },
  high: { '1024x1024': 4160, '1024x1536': 6240, '1536x1024': 6208 },
};

function problem(message: string, param: string | null, code?: string): RequestProblem {
  return code ? { problem: message, param, code } : { problem: message, param };
}

function oneOf(body: Record<string, unknown>, field: string, allowed: readonly string[]): RequestProblem | undefined {
  const value = body[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string' && allowed.includes(value)) return undefined;
  return problem(
    `Invalid value: '${String(value)}'. Supported values are: ${allowed.map((each) => `'${each}'`).join(', ')}.`,
    field,
    'invalid_value',
  );
}

function integerIn(
  body: Record<string, unknown>,
  field: string,
  minimum: number,
  maximum: number,
): RequestProblem | undefined {
  const value = body[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value))
    return problem(`Invalid type for '${field}': expected an integer, but got ${typeof value}.`, field);
  if (value < minimum)
    return problem(
      `Invalid '${field}': integer below minimum value. Expected a value >= ${minimum}, but got ${value} instead.`,
      field,
      'integer_below_min_value',
    );
  if (value > maximum)
    return problem(
      `Invalid '${field}': integer above maximum value. Expected a value <= ${maximum}, but got ${value} instead.`,
      field,
      'integer_above_max_value',
    );
  return undefined;
}

function readRequest(body: unknown): RequestShape | RequestProblem {
  if (!isRecord(body))
    return problem('We could not parse the JSON body of your request. The OpenAI API expects a JSON payload.', null);
  const unknown = Object.keys(body).find((key) => !IMAGE_GENERATION_FIELDS.has(key));
  if (unknown !== undefined) return problem(`Unrecognized request argument supplied: ${unknown}`, null);
  const model = body['model'];
  if (typeof model !== 'string' || model === '') return problem('you must provide a model parameter', 'model');
  if (DALL_E_MODELS.has(model))
    return problem(`The scripted endpoint draws with GPT image models only, not ${model}.`, 'model', 'invalid_value');
  const prompt = body['prompt'];
  if (prompt === undefined || prompt === null)
    return problem("Missing required parameter: 'prompt'.", 'prompt', 'missing_required_parameter');
  if (typeof prompt !== 'string')
    return problem(`Invalid type for 'prompt': expected a string, but got ${typeof prompt}.`, 'prompt', 'invalid_type');
  if (prompt.trim() === '')
    return problem(
      "Invalid 'prompt': empty string. Expected a string with minimum length 1, but got an empty string instead.",
      'prompt',
      'empty_string',
    );
  if (prompt.length > MAX_PROMPT_CHARACTERS) {
    return problem(
      `Invalid 'prompt': string too long. Expected a string with maximum length ${MAX_PROMPT_CHARACTERS}, but got a string with length ${prompt.length} instead.`,
      'prompt',
      'string_above_max_length',
    );
  }
  const dallEField = DALL_E_ONLY_FIELDS.find((field) => body[field] !== undefined && body[field] !== null);
  if (dallEField) return problem(`Unknown parameter: '${dallEField}'.`, dallEField, 'unknown_parameter');
  if (body['stream'] === true)
    return problem('The scripted endpoint answers whole images only; send stream: false.', 'stream');
  const invalid =
    oneOf(body, 'size', GPT_IMAGE_SIZES) ??
    oneOf(body, 'quality', GPT_IMAGE_QUALITIES) ??
    oneOf(body, 'output_format', OUTPUT_FORMATS) ??
    oneOf(body, 'background', BACKGROUNDS) ??
    oneOf(body, 'moderation', MODERATIONS) ??
    integerIn(body, 'n', 1, 10) ??
    integerIn(body, 'output_compression', 0, 100) ??
    integerIn(body, 'partial_images', 0, 3);
  if (invalid) return invalid;
  if (body['background'] === 'transparent' && body['output_format'] === 'jpeg') {
    return problem(
      'Transparent background is not supported for the jpeg output format; use png or webp.',
      'background',
      'invalid_value',
    );
  }
  const size = typeof body['size'] === 'string' && body['size'] !== 'auto' ? body['size'] : '1024x1024';
  const quality = typeof body['quality'] === 'string' && body['quality'] !== 'auto' ? body['quality'] : 'medium';
  const [width, height] = size.split('x').map(Number) as [number, number];
  return {
    model,
    text: prompt,
    imageCount: 0,
    images: [],
    structured: false,
    imageOutput: { width, height, tokens: OUTPUT_TOKENS[quality]![size]!, withText: false },
  };
}

function answerBody(answer: ScriptedAnswer, facts: AnswerFacts): unknown {
  const image = answer.kind === 'image' ? answer.image : null;
  return {
    created: Math.floor(Date.now() / 1000),
    background: 'opaque',
    // An answer without a picture has no data entry at all.
    data: image ? [{ b64_json: Buffer.from(image.data).toString('base64') }] : [],
    output_format: image?.mimeType === 'image/jpeg' ? 'jpeg' : image?.mimeType === 'image/webp' ? 'webp' : 'png',
    ...(facts.imageOutput ? { size: `${facts.imageOutput.width}x${facts.imageOutput.height}` } : {}),
    usage: {
      input_tokens: facts.inputTokens,
      input_tokens_details: { text_tokens: facts.inputTokens, image_tokens: 0 },
      output_tokens: facts.outputTokens,
      output_tokens_details: {
        image_tokens: facts.imageOutputTokens,
        text_tokens: facts.outputTokens - facts.imageOutputTokens,
      },
      total_tokens: facts.inputTokens + facts.outputTokens,
    },
  };
}

/** The images API's safety system answers a blocked prompt with a 400, never a 200 without a picture. */
function answerAsError(answer: ScriptedAnswer): ErrorFacts | undefined {
  if (answer.kind !== 'safety' && answer.kind !== 'refusal') return undefined;
  return {
    status: 400,
    message:
      'Your request was rejected as a result of our safety system. Your request may contain content that is not allowed by our safety system.',
    param: null,
    openAiCode: 'moderation_blocked',
    openAiType: 'image_generation_user_error',
  };
}

/** OpenAI image generation (POST /v1/images/generations) for the GPT image models, as the openai SDK speaks it. */
export const openAiImagesProtocol: ProtocolHandler = {
  readRequest: (body) => readRequest(body),
  answerBody,
  errorResponse: openAiErrorResponse,
  answerAsError,
};
