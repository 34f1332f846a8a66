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
import {
  checkGeminiJsonSchema,
  checkGeminiOpenApiSchema,
  decodeBase64,
  imageFormatOf,
  isRecord,
} from './wire-checks.ts';

// The Gemini API reads request bodies as protobuf JSON: field names in lowerCamelCase or their
// original snake_case, and an unknown name is an error ("Cannot find field"), never ignored.

const REQUEST_FIELDS = [
  'contents',
  'systemInstruction',
  'generationConfig',
  'safetySettings',
  'tools',
  'toolConfig',
  'cachedContent',
  'model',
  'serviceTier',
  'store',
];
const CONTENT_FIELDS = ['role', 'parts'];
/** The `data` oneof of a Part: exactly one of these. */
const PART_DATA_FIELDS = [
  'text',
  'inlineData',
  'fileData',
  'functionCall',
  'functionResponse',
  'executableCode',
  'codeExecutionResult',
];
const PART_METADATA_FIELDS = ['thought', 'thoughtSignature', 'videoMetadata', 'partMetadata', 'mediaResolution'];
const GENERATION_CONFIG_FIELDS = [
  'stopSequences',
  'responseMimeType',
  'responseSchema',
  'responseJsonSchema',
  'responseModalities',
  'candidateCount',
  'maxOutputTokens',
  'temperature',
  'topP',
  'topK',
  'seed',
  'presencePenalty',
  'frequencyPenalty',
  'responseLogprobs',
  'logprobs',
  'enableEnhancedCivicAnswers',
  'speechConfig',
  'thinkingConfig',
  'imageConfig',
  'mediaResolution',
];
const ROLES = ['user', 'model'];
/** Image types generateContent takes inline. */
const INLINE_IMAGE_TYPES: Record<string, string> = {
  'image/png': 'png',
  'image/jpeg': 'jpeg',
  'image/webp': 'webp',
  'image/heic': 'heic',
  'image/heif': 'heif',
};
const RESPONSE_MIME_TYPES = ['text/plain', 'application/json', 'text/x.enum'];
const MODALITIES = ['TEXT', 'IMAGE', 'AUDIO'];
const IMAGE_CONFIG_FIELDS = ['aspectRatio', 'imageSize'];
/** The pixel size a Gemini image model draws for each aspect ratio (1K), all billed 1290 output tokens. */
const ASPECT_RATIO_SIZES: Record<string, [number, number]> = {
  '1:1': [1024, 1024],
  '2:3': [832, 1248],
  '3:2': [1248, 832],
  '3:4': [864, 1184],
  '4:3': [1184, 864],
  '4:5': [896, 1152],
  '5:4': [1152, 896],
  '9:16': [768, 1344],
  '16:9': [1344, 768],
  '21:9': [1536, 672],
};
const IMAGE_SIZES = ['1K', '2K', '4K'];
const TOKENS_PER_GENERATED_IMAGE = 1290;

function camelCase(name: string): string {
  return name.replace(/_([a-z])/g, (_, letter: string) => letter.toUpperCase());
}

function snakeCase(name: string): string {
  return name.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`);
}

function problem(message: string, param: string | null): RequestProblem {
  return { problem: message, param };
}

/** The record with snake_case keys turned to camelCase, or the first unknown field as a problem. */
function readMessageFields(
  record: Record<string, unknown>,
  allowed: readonly string[],
  at: string,
): Record<string, unknown> | RequestProblem {
  const read: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(record)) {
    const name = camelCase(key);
    if (!allowed.includes(name)) {
      const where = at === '' ? '' : ` at '${at}'`;
      return problem(
        `Invalid JSON payload received. Unknown name "${key}"${where}: Cannot find field.`,
        at === '' ? key : `${at}.${key}`,
      );
    }
    read[name] = value;
  }
  return read;
}

function isProblem(value: unknown): value is RequestProblem {
  return isRecord(value) && typeof value['problem'] === 'string';
}

interface ContentFacts {
  texts: string[];
  imageCount: number;
  images: Uint8Array[];
}

function readParts(parts: unknown, at: string, facts: ContentFacts, textOnly: boolean): RequestProblem | undefined {
  if (!Array.isArray(parts) || parts.length === 0)
    return problem(`* GenerateContentRequest.${at}.parts: contents.parts must not be empty.`, `${at}.parts`);
  for (const [index, part] of parts.entries()) {
    const partAt = `${at}.parts[${index}]`;
    if (!isRecord(part)) return problem(`Invalid value at '${partAt}': expected an object.`, partAt);
    const fields = readMessageFields(part, [...PART_DATA_FIELDS, ...PART_METADATA_FIELDS], partAt);
    if (isProblem(fields)) return fields;
    const data = PART_DATA_FIELDS.filter((name) => fields[name] !== undefined);
    if (data.length === 0)
      return problem(
        `* GenerateContentRequest.${partAt}.data: required oneof field 'data' must have one initialized field`,
        partAt,
      );
    if (data.length > 1)
      return problem(
        `Invalid JSON payload received. Oneof field 'data' is already set. Cannot set '${data[1]}'`,
        `${partAt}.${data[1]}`,
      );
    if (textOnly && data[0] !== 'text')
      return problem(`* GenerateContentRequest.${at}: system_instruction may only hold text parts.`, partAt);
    if (data[0] === 'text') {
      if (typeof fields['text'] !== 'string')
        return problem(`Invalid value at '${partAt}.text' (TYPE_STRING)`, `${partAt}.text`);
      facts.texts.push(fields['text']);
    } else if (data[0] === 'inlineData') {
      const broken = readInlineData(fields['inlineData'], `${partAt}.inline_data`, facts.images);
      if (broken) return broken;
      facts.imageCount += 1;
    }
  }
  return undefined;
}

/** Checks inline data; an image's decoded bytes go to `images`. */
function readInlineData(value: unknown, at: string, images: Uint8Array[]): RequestProblem | undefined {
  if (!isRecord(value)) return problem(`Invalid value at '${at}': expected an object.`, at);
  const fields = readMessageFields(value, ['mimeType', 'data', 'displayName'], at);
  if (isProblem(fields)) return fields;
  const mimeType = fields['mimeType'];
  if (typeof mimeType !== 'string' || mimeType === '')
    return problem(`* GenerateContentRequest.${at}.mime_type: mime_type is not specified.`, `${at}.mime_type`);
  const data = fields['data'];
  // protobuf JSON bytes: standard or URL-safe base64.
  const bytes = typeof data === 'string' ? decodeBase64(data, { allowUrlAlphabet: true }) : undefined;
  if (!bytes) return problem(`Invalid value at '${at}.data' (TYPE_BYTES), Base64 decoding failed`, `${at}.data`);
  if (!mimeType.startsWith('image/')) return undefined;
  const declared = INLINE_IMAGE_TYPES[mimeType.toLowerCase()];
  if (!declared) return problem(`Unsupported MIME type: ${mimeType}`, `${at}.mime_type`);
  const actual = imageFormatOf(bytes);
  // heic/heif have no simple signature here; the formats scigen sends must match their label.
  if ((declared === 'png' || declared === 'jpeg' || declared === 'webp') && actual !== declared) {
    return problem(
      'Unable to process input image. Please retry or report in https://developers.generativeai.google/guide/troubleshooting',
      `${at}.data`,
    );
  }
  if (bytes.byteLength > MAX_INLINE_IMAGE_BYTES)
    return problem('Request payload size exceeds the limit: 20971520 bytes.', `${at}.data`);
  images.push(bytes);
  return undefined;
}

/** responseModalities and imageConfig: what the model is asked to draw, if anything. */
function readImageOutput(fields: Record<string, unknown>, model: string): RequestShape['imageOutput'] | RequestProblem {
  const modalities = fields['responseModalities'];
  if (modalities === undefined) return undefined;
  if (
    !Array.isArray(modalities) ||
    modalities.some((modality) => typeof modality !== 'string' || !MODALITIES.includes(modality.toUpperCase()))
  ) {
    return problem(
      `Invalid value at 'generation_config.response_modalities' (type.googleapis.com/google.ai.generativelanguage.v1beta.GenerationConfig.Modality), ${JSON.stringify(modalities)}`,
      'generation_config.response_modalities',
    );
  }
  const wanted = modalities.map((modality: string) => modality.toUpperCase());
  let aspectRatio = '1:1';
  const imageConfig = fields['imageConfig'];
  if (imageConfig !== undefined) {
    if (!isRecord(imageConfig))
      return problem(
        "Invalid value at 'generation_config.image_config': expected an object.",
        'generation_config.image_config',
      );
    const configFields = readMessageFields(imageConfig, IMAGE_CONFIG_FIELDS, 'generation_config.image_config');
    if (isProblem(configFields)) return configFields;
    const ratio = configFields['aspectRatio'];
    if (ratio !== undefined) {
      if (typeof ratio !== 'string' || !(ratio in ASPECT_RATIO_SIZES)) {
        return problem(
          `* GenerateContentRequest.generation_config.image_config.aspect_ratio: unsupported aspect ratio ${JSON.stringify(ratio)}.`,
          'generation_config.image_config.aspect_ratio',
        );
      }
      aspectRatio = ratio;
    }
    const size = configFields['imageSize'];
    if (size !== undefined && (typeof size !== 'string' || !IMAGE_SIZES.includes(size))) {
      return problem(
        `* GenerateContentRequest.generation_config.image_config.image_size: unsupported image size ${JSON.stringify(size)}.`,
        'generation_config.image_config.image_size',
      );
    }
  }
  if (!wanted.includes('IMAGE')) return undefined;
  // Only the image models draw; the text models refuse the modality outright.
  if (!/image/i.test(model))
    return problem(
      'Model does not support the requested response modalities: image',
      'generation_config.response_modalities',
    );
  const [width, height] = ASPECT_RATIO_SIZES[aspectRatio]!;
  return { width, height, tokens: TOKENS_PER_GENERATED_IMAGE, withText: wanted.includes('TEXT') };
}

function readGenerationConfig(
  value: unknown,
  model: string,
): { structured: boolean; imageOutput: RequestShape['imageOutput'] } | RequestProblem {
  if (!isRecord(value))
    return problem("Invalid value at 'generation_config': expected an object.", 'generation_config');
  const fields = readMessageFields(value, GENERATION_CONFIG_FIELDS, 'generation_config');
  if (isProblem(fields)) return fields;
  const range = (name: string, minimum: number, maximum: number): RequestProblem | undefined => {
    const number = fields[name];
    if (number === undefined) return undefined;
    if (typeof number !== 'number' || number < minimum || number > maximum) {
      return problem(
        `* GenerateContentRequest.generation_config.${snakeCase(name)}: must be a number from ${minimum} to ${maximum}.`,
        `generation_config.${snakeCase(name)}`,
      );
    }
    return undefined;
  };
  const numeric =
    range('temperature', 0, 2) ??
    range('topP', 0, 1) ??
    range('candidateCount', 1, 8) ??
    range('maxOutputTokens', 1, Number.MAX_SAFE_INTEGER);
  if (numeric) return numeric;
  const imageOutput = readImageOutput(fields, model);
  if (isProblem(imageOutput)) return imageOutput;
  const mimeType = fields['responseMimeType'];
  if (mimeType !== undefined && (typeof mimeType !== 'string' || !RESPONSE_MIME_TYPES.includes(mimeType))) {
    return problem(
      `* GenerateContentRequest.generation_config.response_mime_type: allowed mimetypes are \`text/plain\`, \`application/json\`, \`text/x.enum\`.`,
      'generation_config.response_mime_type',
    );
  }
  const openApiSchema = fields['responseSchema'];
  const jsonSchema = fields['responseJsonSchema'];
  if (openApiSchema !== undefined && jsonSchema !== undefined) {
    return problem(
      '* GenerateContentRequest.generation_config: only one of response_schema and response_json_schema may be set.',
      'generation_config',
    );
  }
  if (openApiSchema === undefined && jsonSchema === undefined)
    return { structured: mimeType === 'application/json', imageOutput };
  if (mimeType !== 'application/json' && !(mimeType === 'text/x.enum' && openApiSchema !== undefined)) {
    return problem(
      '* GenerateContentRequest.generation_config.response_mime_type: a response schema needs response_mime_type application/json.',
      'generation_config.response_mime_type',
    );
  }
  if (openApiSchema !== undefined) {
    const broken = checkGeminiOpenApiSchema(openApiSchema);
    if (broken) {
      const at = ['generation_config.response_schema', ...broken.path].join('.');
      return problem(
        broken.problem.startsWith('Unknown name')
          ? `Invalid JSON payload received. ${broken.problem.replace(': Cannot', ` at '${at}': Cannot`)}`
          : `* GenerateContentRequest.${at}: ${broken.problem}`,
        at,
      );
    }
  } else {
    const broken = checkGeminiJsonSchema(jsonSchema);
    if (broken) {
      const at = ['generation_config.response_json_schema', ...broken.path].join('.');
      return problem(`* GenerateContentRequest.${at}: ${broken.problem}`, at);
    }
  }
  return { structured: true, imageOutput };
}

function readRequest(body: unknown, model: string): RequestShape | RequestProblem {
  if (!isRecord(body)) return problem('Invalid JSON payload received. Expected an object.', null);
  const fields = readMessageFields(body, REQUEST_FIELDS, '');
  if (isProblem(fields)) return fields;
  const contents = fields['contents'];
  if (!Array.isArray(contents) || contents.length === 0)
    return problem('* GenerateContentRequest.contents: contents is not specified', 'contents');
  const facts: ContentFacts = { texts: [], imageCount: 0, images: [] };
  const system = fields['systemInstruction'];
  if (system !== undefined) {
    if (!isRecord(system))
      return problem("Invalid value at 'system_instruction': expected a Content object.", 'system_instruction');
    const systemFields = readMessageFields(system, CONTENT_FIELDS, 'system_instruction');
    if (isProblem(systemFields)) return systemFields;
    const broken = readParts(systemFields['parts'], 'system_instruction', facts, true);
    if (broken) return broken;
  }
  for (const [index, content] of contents.entries()) {
    const at = `contents[${index}]`;
    if (!isRecord(content)) return problem(`Invalid value at '${at}': expected a Content object.`, at);
    const contentFields = readMessageFields(content, CONTENT_FIELDS, at);
    if (isProblem(contentFields)) return contentFields;
    const role = contentFields['role'];
    if (role !== undefined && (typeof role !== 'string' || !ROLES.includes(role))) {
      return problem(`Please use a valid role: ${ROLES.join(', ')}.`, `${at}.role`);
    }
    const broken = readParts(contentFields['parts'], at, facts, false);
    if (broken) return broken;
  }
  let structured = false;
  let imageOutput: RequestShape['imageOutput'];
  if (fields['generationConfig'] !== undefined) {
    const config = readGenerationConfig(fields['generationConfig'], model);
    if (isProblem(config)) return config;
    structured = config.structured;
    imageOutput = config.imageOutput;
  }
  return {
    model,
    text: facts.texts.join('\n'),
    imageCount: facts.imageCount,
    images: facts.images,
    structured,
    ...(imageOutput ? { imageOutput } : {}),
  };
}

function answerBody(answer: ScriptedAnswer, facts: AnswerFacts): unknown {
  const textOutputTokens = facts.outputTokens - facts.imageOutputTokens;
  const usageMetadata = {
    promptTokenCount: facts.inputTokens,
    ...(facts.outputTokens > 0 ? { candidatesTokenCount: facts.outputTokens } : {}),
    totalTokenCount: facts.inputTokens + facts.outputTokens,
    promptTokensDetails: [{ modality: 'TEXT', tokenCount: facts.inputTokens }],
    // Image models break the output down by modality; that is what the image price applies to.
    ...(facts.imageOutputTokens > 0
      ? {
          candidatesTokensDetails: [
            ...(textOutputTokens > 0 ? [{ modality: 'TEXT', tokenCount: textOutputTokens }] : []),
            { modality: 'IMAGE', tokenCount: facts.imageOutputTokens },
          ],
        }
      : {}),
  };
  const common = { usageMetadata, modelVersion: facts.model, responseId: facts.id };
  const candidate = (fields: Record<string, unknown>) => ({ candidates: [{ index: 0, ...fields }], ...common });
  switch (answer.kind) {
    case 'text':
      return candidate({ content: { role: 'model', parts: [{ text: answer.text }] }, finishReason: 'STOP' });
    case 'truncated':
      return candidate({ content: { role: 'model', parts: [{ text: answer.text }] }, finishReason: 'MAX_TOKENS' });
    case 'image': {
      const parts: unknown[] = answer.text ? [{ text: answer.text }] : [];
      if (answer.image)
        parts.push({
          inlineData: { mimeType: answer.image.mimeType, data: Buffer.from(answer.image.data).toString('base64') },
        });
      // An image model that only wrote words ends with NO_IMAGE.
      return candidate({ content: { role: 'model', parts }, finishReason: answer.image ? 'STOP' : 'NO_IMAGE' });
    }
    case 'safety':
      // A drawn picture the safety filter stops ends with IMAGE_SAFETY and no content.
      if (facts.imageOutput) return candidate({ finishReason: 'IMAGE_SAFETY' });
      return candidate({
        finishReason: 'SAFETY',
        safetyRatings: [
          { category: 'HARM_CATEGORY_DANGEROUS_CONTENT', probability: 'HIGH', blocked: true },
          { category: 'HARM_CATEGORY_HARASSMENT', probability: 'NEGLIGIBLE' },
          { category: 'HARM_CATEGORY_HATE_SPEECH', probability: 'NEGLIGIBLE' },
          { category: 'HARM_CATEGORY_SEXUALLY_EXPLICIT', probability: 'NEGLIGIBLE' },
        ],
      });
    case 'refusal':
      // A prompt the API declines comes back with no candidates and the reason in promptFeedback.
      return { promptFeedback: { blockReason: 'PROHIBITED_CONTENT' }, ...common };
    case 'empty':
      return common;
  }
}

const GOOGLE_STATUS: Record<number, string> = {
  400: 'INVALID_ARGUMENT',
  401: 'UNAUTHENTICATED',
  403: 'PERMISSION_DENIED',
  404: 'NOT_FOUND',
  405: 'UNIMPLEMENTED',
  408: 'DEADLINE_EXCEEDED',
  409: 'ABORTED',
  413: 'INVALID_ARGUMENT',
  429: 'RESOURCE_EXHAUSTED',
  499: 'CANCELLED',
  500: 'INTERNAL',
  501: 'UNIMPLEMENTED',
  503: 'UNAVAILABLE',
  504: 'DEADLINE_EXCEEDED',
};

function errorResponse(facts: ErrorFacts): { body: unknown; headers: Record<string, string> } {
  const details: unknown[] = [];
  const retryAfterSeconds =
    facts.retryAfterSeconds ?? (facts.retryAfterMs === undefined ? undefined : facts.retryAfterMs / 1000);
  if (retryAfterSeconds !== undefined) {
    // The Gemini API tells clients how long to wait in a RetryInfo detail, not only in a header.
    details.push({ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: `${retryAfterSeconds}s` });
  }
  if (facts.status === 401) {
    details.push({
      '@type': 'type.googleapis.com/google.rpc.ErrorInfo',
      reason: 'API_KEY_INVALID',
      domain: 'googleapis.com',
    });
  }
  if (facts.param) {
    details.push({
      '@type': 'type.googleapis.com/google.rpc.BadRequest',
      fieldViolations: [{ field: facts.param, description: facts.message }],
    });
  }
  const status = GOOGLE_STATUS[facts.status] ?? (facts.status >= 500 ? 'INTERNAL' : 'FAILED_PRECONDITION');
  const headers: Record<string, string> =
    facts.retryAfterSeconds === undefined ? {} : retryAfterHeaders({ ...facts, retryAfterMs: undefined });
  return {
    body: { error: { code: facts.status, message: facts.message, status, ...(details.length ? { details } : {}) } },
    headers,
  };
}

/** Gemini generateContent (POST /{version}/models/{model}:generateContent), as @google/genai speaks it. */
export const geminiProtocol: ProtocolHandler = {
  readRequest,
  answerBody,
  errorResponse,
};
