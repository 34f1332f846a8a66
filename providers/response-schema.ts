import { zodResponseFormat } from 'openai/helpers/zod';
import type { ResponseFormatJSONSchema } from 'openai/resources/shared';
import { z } from 'zod';
import type { ResponseSchema } from './provider.ts';

/**
 * The keywords the Gemini API documents for `responseJsonSchema` (GenerateContentConfig in
 * @google/genai's genai.d.ts): "only the following properties are supported". Anything else is
 * removed or refused here rather than left for the API to ignore or reject.
 */
export const GEMINI_JSON_SCHEMA_KEYWORDS = new Set([
  '$id',
  '$defs',
  '$ref',
  '$anchor',
  'type',
  'format',
  'title',
  'description',
  'enum',
  'items',
  'prefixItems',
  'minItems',
  'maxItems',
  'minimum',
  'maximum',
  'anyOf',
  'oneOf',
  'properties',
  'additionalProperties',
  'required',
  'propertyOrdering',
]);

/**
 * OpenAI's json_schema response format, built by the SDK's own helper: it runs zod's
 * toJSONSchema (draft-7) and then the SDK's toStrictJsonSchema, which makes every property
 * required and every object closed, as `strict: true` demands.
 */
export function toOpenAiResponseFormat(responseSchema: ResponseSchema): ResponseFormatJSONSchema {
  return converted(openAiFormats, responseSchema, () => {
    const format = zodResponseFormat(responseSchema.schema, responseSchema.name);
    // A plain copy: the helper's hidden parse hooks belong to `.parse()`, which scigen does not use.
    return { type: 'json_schema', json_schema: { ...format.json_schema } };
  });
}

/**
 * Converting a zod schema to JSON Schema took about 1 ms per model call, for the same few step
 * schemas every time: each conversion is made once per schema and name, and kept frozen.
 */
type ConversionCache<T> = WeakMap<ResponseSchema['schema'], Map<string, T>>;
const openAiFormats: ConversionCache<ResponseFormatJSONSchema> = new WeakMap();
const geminiSchemas: ConversionCache<Record<string, unknown>> = new WeakMap();

function converted<T>(cache: ConversionCache<T>, responseSchema: ResponseSchema, convert: () => T): T {
  let byName = cache.get(responseSchema.schema);
  if (!byName) cache.set(responseSchema.schema, (byName = new Map()));
  let result = byName.get(responseSchema.name);
  if (result === undefined) byName.set(responseSchema.name, (result = deepFreeze(convert())));
  return result;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const inner of Object.values(value)) deepFreeze(inner);
  }
  return value;
}

/**
 * The JSON Schema for Gemini's `responseJsonSchema`: zod's draft-7 output without `$schema`,
 * with `propertyOrdering` so the model writes fields in declaration order (reasoning before
 * scores). Throws on a keyword Gemini does not support: that is a bug in a step's schema.
 */
export function toGeminiResponseJsonSchema(responseSchema: ResponseSchema): Record<string, unknown> {
  return converted(geminiSchemas, responseSchema, () => {
    const { $schema: _dialect, ...schema } = z.toJSONSchema(responseSchema.schema, { target: 'draft-7' }) as Record<
      string,
      unknown
    >;
    return adaptForGemini(schema, responseSchema.name) as Record<string, unknown>;
  });
}

function adaptForGemini(node: unknown, path: string): unknown {
  if (Array.isArray(node)) return node.map((item, index) => adaptForGemini(item, `${path}[${index}]`));
  if (typeof node !== 'object' || node === null) return node;
  const adapted: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(node)) {
    if (!GEMINI_JSON_SCHEMA_KEYWORDS.has(key)) {
      throw new Error(`schema ${path} uses "${key}", which Gemini's responseJsonSchema does not support`);
    }
    if (key === 'properties' && typeof value === 'object' && value !== null) {
      adapted[key] = Object.fromEntries(
        Object.entries(value).map(([name, property]) => [name, adaptForGemini(property, `${path}.${name}`)]),
      );
      adapted['propertyOrdering'] = Object.keys(value);
    } else if (key === 'enum' || key === 'required' || key === 'propertyOrdering') {
      adapted[key] = value;
    } else {
      adapted[key] = adaptForGemini(value, path);
    }
  }
  return adapted;
}
