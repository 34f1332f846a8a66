import { ApplicationFailure } from '@temporalio/common';
import { normalizeStructuredOutput, type StructuredOutputSetting } from '../config/schema.ts';
import { providerFailureDetails } from './errors.ts';

export type { StructuredOutputSetting };

/**
 * How one request asks for a JSON answer, strongest first:
 * - `json_schema`: the API's strict schema mode (OpenAI `response_format: json_schema`, Gemini
 *   `responseMimeType` + `responseJsonSchema`);
 * - `json_object_schema`: OpenAI's `response_format: {type: "json_object"}` with the schema beside
 *   it, which llama.cpp's server and llama-cpp-python's take (a grammar from the schema);
 * - `json_object`: JSON mode without a schema (OpenAI `json_object`, Gemini `responseMimeType` alone);
 * - `prompt`: nothing in the request; the prompt describes the shape and the tolerant parser reads it.
 */
export const STRUCTURED_OUTPUT_MODES = ['json_schema', 'json_object_schema', 'json_object', 'prompt'] as const;
export type StructuredOutputMode = (typeof STRUCTURED_OUTPUT_MODES)[number];

/** The modes a request may carry to the provider (`prompt` carries none). */
export type RequestedJsonMode = Exclude<StructuredOutputMode, 'prompt'>;

/**
 * The modes a setting may use, in the order they are tried. Gemini has no json_object-with-schema
 * (its schema mode is already the one that takes a schema).
 */
export function structuredOutputModes(
  provider: 'openai' | 'gemini',
  setting: StructuredOutputSetting | boolean,
): readonly StructuredOutputMode[] {
  const normalized = normalizeStructuredOutput(setting);
  switch (normalized) {
    case 'json_schema':
    case 'prompt':
      return [normalized];
    case 'json_object':
      return provider === 'openai' ? ['json_object_schema', 'json_object'] : ['json_object'];
    case 'auto':
      return provider === 'openai'
        ? ['json_schema', 'json_object_schema', 'json_object', 'prompt']
        : ['json_schema', 'json_object', 'prompt'];
  }
}

/**
 * The words by which a server names the part of a request that asks for structured output:
 * OpenAI's `response_format` (and the `json_schema` / `json_object` types in it; llama-cpp-python's
 * pydantic error names `response_format.type`), Gemini's `response_mime_type` / `response_schema`
 * (`responseJsonSchema` in JSON), and the `schema` field beside json_object.
 */
const RESPONSE_FORMAT_WORDS =
  /response_format|json_schema|json_object|response_?(json_?)?schema|response_?mime_?type|responseJsonSchema/i;

/**
 * Whether a provider failure is the server refusing the structured-output mode of the request (a
 * 4xx or 5xx whose message names it), so a weaker mode may work. Rate limits, auth and missing
 * models are never that, whatever their words.
 */
export function isStructuredOutputRefusal(error: unknown): boolean {
  if (!(error instanceof ApplicationFailure)) return false;
  const details = providerFailureDetails(error);
  const status = details?.status;
  if (status === undefined || status < 400 || [401, 403, 404, 408, 429].includes(status)) return false;
  return RESPONSE_FORMAT_WORDS.test(`${details?.providerMessage ?? ''} ${details?.providerCode ?? ''}`);
}
