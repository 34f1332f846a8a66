/**
 * Checks the scripted endpoint applies to request bodies, as the real APIs do: image bytes that
 * really are the declared image type, and response schemas inside each API's supported subset.
 * They are written from the APIs' published rules, independently of the client code in
 * providers/, so a mistake there shows up as a 400 here.
 */

export type ImageFormat = 'png' | 'jpeg' | 'gif' | 'webp';

/** The image format the bytes start with, whatever they are labelled. */
export function imageFormatOf(bytes: Uint8Array): ImageFormat | undefined {
  const startsWith = (...signature: number[]) => signature.every((byte, index) => bytes[index] === byte);
  if (startsWith(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a)) return 'png';
  if (startsWith(0xff, 0xd8, 0xff)) return 'jpeg';
  if (startsWith(0x47, 0x49, 0x46, 0x38)) return 'gif';
  if (
    startsWith(0x52, 0x49, 0x46, 0x46) &&
    bytes[8] === 0x57 &&
    bytes[9] === 0x45 &&
    bytes[10] === 0x42 &&
    bytes[11] === 0x50
  )
    return 'webp';
  return undefined;
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const BASE64_URL = /^[A-Za-z0-9_-]*={0,2}$/;

/** Decodes base64 (and, where protobuf JSON allows it, base64url); undefined when malformed. */
export function decodeBase64(text: string, options: { allowUrlAlphabet: boolean }): Uint8Array | undefined {
  if (text === '') return undefined;
  if (BASE64.test(text)) return new Uint8Array(Buffer.from(text, 'base64'));
  if (options.allowUrlAlphabet && BASE64_URL.test(text) && text.replace(/=+$/, '').length % 4 !== 1) {
    return new Uint8Array(Buffer.from(text, 'base64url'));
  }
  return undefined;
}

export interface SchemaProblem {
  /** Where in the schema, as a list of keys. */
  path: string[];
  problem: string;
}

const JSON_TYPES = new Set(['string', 'number', 'integer', 'boolean', 'object', 'array', 'null']);

/**
 * Keywords OpenAI's structured outputs accept with `strict: true` (the supported subset of the
 * Structured Outputs guide: types, properties/required/additionalProperties, items, enum/const,
 * anyOf, $ref/$defs, descriptions, string pattern/format, numeric bounds, array bounds).
 * Everything else (minLength, oneOf, allOf, patternProperties, …) is refused, as the API refuses it.
 */
const OPENAI_STRICT_KEYWORDS = new Set([
  '$schema',
  '$id',
  '$ref',
  '$defs',
  'definitions',
  'type',
  'title',
  'description',
  'properties',
  'required',
  'additionalProperties',
  'items',
  'enum',
  'const',
  'anyOf',
  'pattern',
  'format',
  'minimum',
  'maximum',
  'exclusiveMinimum',
  'exclusiveMaximum',
  'multipleOf',
  'minItems',
  'maxItems',
]);
const OPENAI_MAX_NESTING = 10;
const OPENAI_MAX_PROPERTIES = 5000;
const OPENAI_MAX_ENUM_VALUES = 1000;

/** The first rule of strict structured outputs the schema breaks, or undefined. */
export function checkOpenAiStrictSchema(schema: unknown): SchemaProblem | undefined {
  if (!isRecord(schema)) return { path: [], problem: 'schema must be a JSON Schema object.' };
  if (schema['type'] !== 'object' || 'anyOf' in schema) {
    return {
      path: [],
      problem: `schema must be a JSON Schema of 'type: "object"', got 'type: ${JSON.stringify(schema['type'] ?? null)}'.`,
    };
  }
  let propertyCount = 0;
  const visit = (node: unknown, path: string[], depth: number): SchemaProblem | undefined => {
    if (!isRecord(node)) return { path, problem: 'schema must be an object.' };
    for (const key of Object.keys(node)) {
      if (!OPENAI_STRICT_KEYWORDS.has(key)) return { path, problem: `'${key}' is not permitted.` };
    }
    const type = node['type'];
    const types = Array.isArray(type) ? type : type === undefined ? [] : [type];
    for (const each of types) {
      if (typeof each !== 'string' || !JSON_TYPES.has(each))
        return { path, problem: `${JSON.stringify(each)} is not a valid type.` };
    }
    if (types.length === 0 && !('anyOf' in node) && !('$ref' in node) && !('enum' in node) && !('const' in node)) {
      return { path, problem: "schema must have a 'type' key." };
    }
    if ('enum' in node) {
      const values = node['enum'];
      if (!Array.isArray(values) || values.length === 0) return { path, problem: "'enum' must be a non-empty array." };
      if (values.length > OPENAI_MAX_ENUM_VALUES)
        return { path, problem: `'enum' has more than ${OPENAI_MAX_ENUM_VALUES} values.` };
    }
    if (types.includes('object')) {
      if (depth > OPENAI_MAX_NESTING)
        return { path, problem: `schema nesting is deeper than ${OPENAI_MAX_NESTING} levels.` };
      if (node['additionalProperties'] !== false) {
        return { path, problem: "'additionalProperties' is required to be supplied and to be false." };
      }
      const properties = node['properties'] ?? {};
      if (!isRecord(properties)) return { path, problem: "'properties' must be an object." };
      const required = node['required'];
      const requiredKeys = Array.isArray(required) ? required : [];
      for (const key of Object.keys(properties)) {
        if (!requiredKeys.includes(key)) {
          return {
            path,
            problem: `'required' is required to be supplied and to be an array including every key in properties. Missing '${key}'.`,
          };
        }
      }
      for (const key of requiredKeys) {
        if (typeof key !== 'string' || !(key in properties))
          return { path, problem: `'required' names ${JSON.stringify(key)}, which is not a property.` };
      }
      for (const [key, property] of Object.entries(properties)) {
        propertyCount += 1;
        if (propertyCount > OPENAI_MAX_PROPERTIES)
          return { path, problem: `schema has more than ${OPENAI_MAX_PROPERTIES} properties.` };
        const problem = visit(property, [...path, 'properties', key], depth + 1);
        if (problem) return problem;
      }
    }
    if ('items' in node) {
      const problem = visit(node['items'], [...path, 'items'], depth);
      if (problem) return problem;
    }
    for (const listKey of ['anyOf'] as const) {
      const list = node[listKey];
      if (list === undefined) continue;
      if (!Array.isArray(list) || list.length === 0)
        return { path, problem: `'${listKey}' must be a non-empty array.` };
      for (const [index, variant] of list.entries()) {
        const problem = visit(variant, [...path, listKey, String(index)], depth);
        if (problem) return problem;
      }
    }
    for (const definitionsKey of ['$defs', 'definitions'] as const) {
      const definitions = node[definitionsKey];
      if (definitions === undefined) continue;
      if (!isRecord(definitions)) return { path, problem: `'${definitionsKey}' must be an object.` };
      for (const [name, definition] of Object.entries(definitions)) {
        const problem = visit(definition, [...path, definitionsKey, name], depth);
        if (problem) return problem;
      }
    }
    return undefined;
  };
  return visit(schema, [], 1);
}

/**
 * The keywords the Gemini API lists for `responseJsonSchema` ("only the following properties are
 * supported"). The endpoint refuses the rest, so a schema cannot lean on a keyword the real API
 * would ignore or reject. Written out here rather than imported from providers/response-schema.ts,
 * so a mistake in the provider's copy is caught by this fake instead of agreed with.
 */
const GEMINI_JSON_SCHEMA_KEYWORDS = new Set([
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

/** The first problem of a `responseJsonSchema`, or undefined. */
export function checkGeminiJsonSchema(schema: unknown): SchemaProblem | undefined {
  const visit = (node: unknown, path: string[]): SchemaProblem | undefined => {
    if (!isRecord(node)) return { path, problem: 'a schema must be a JSON object' };
    for (const key of Object.keys(node)) {
      if (!GEMINI_JSON_SCHEMA_KEYWORDS.has(key)) return { path, problem: `unsupported JSON Schema keyword "${key}"` };
    }
    const type = node['type'];
    const types = Array.isArray(type) ? type : type === undefined ? [] : [type];
    for (const each of types) {
      if (typeof each !== 'string' || !JSON_TYPES.has(each))
        return { path, problem: `invalid type ${JSON.stringify(each)}` };
    }
    if ('enum' in node) {
      const values = node['enum'];
      if (
        !Array.isArray(values) ||
        values.length === 0 ||
        !values.every((value) => typeof value === 'string' || typeof value === 'number')
      ) {
        return { path, problem: 'enum must be a non-empty list of strings or numbers' };
      }
    }
    const properties = node['properties'];
    if (properties !== undefined) {
      if (!isRecord(properties)) return { path, problem: 'properties must be an object' };
      const required = node['required'];
      if (
        required !== undefined &&
        (!Array.isArray(required) || !required.every((key) => typeof key === 'string' && key in properties))
      ) {
        return { path, problem: 'required must list property names' };
      }
      const ordering = node['propertyOrdering'];
      if (
        ordering !== undefined &&
        (!Array.isArray(ordering) || !ordering.every((key) => typeof key === 'string' && key in properties))
      ) {
        return { path, problem: 'propertyOrdering must list property names' };
      }
      for (const [key, property] of Object.entries(properties)) {
        const problem = visit(property, [...path, 'properties', key]);
        if (problem) return problem;
      }
    }
    for (const childKey of ['items', 'additionalProperties'] as const) {
      const child = node[childKey];
      if (child === undefined || typeof child === 'boolean') continue;
      const problem = visit(child, [...path, childKey]);
      if (problem) return problem;
    }
    for (const listKey of ['anyOf', 'oneOf', 'prefixItems'] as const) {
      const list = node[listKey];
      if (list === undefined) continue;
      if (!Array.isArray(list)) return { path, problem: `${listKey} must be a list` };
      for (const [index, variant] of list.entries()) {
        const problem = visit(variant, [...path, listKey, String(index)]);
        if (problem) return problem;
      }
    }
    return undefined;
  };
  return visit(schema, []);
}

/** The fields of the Gemini API's Schema message (the OpenAPI subset behind `responseSchema`). */
const GEMINI_SCHEMA_FIELDS = new Set([
  'type',
  'format',
  'title',
  'description',
  'nullable',
  'enum',
  'maxItems',
  'minItems',
  'properties',
  'required',
  'minProperties',
  'maxProperties',
  'minLength',
  'maxLength',
  'pattern',
  'example',
  'anyOf',
  'propertyOrdering',
  'default',
  'items',
  'minimum',
  'maximum',
]);
const GEMINI_SCHEMA_TYPES = new Set([
  'TYPE_UNSPECIFIED',
  'STRING',
  'NUMBER',
  'INTEGER',
  'BOOLEAN',
  'ARRAY',
  'OBJECT',
  'NULL',
]);

/**
 * The first problem of a `responseSchema`. It is a protobuf message, so an unknown field (the
 * JSON Schema habits `additionalProperties`, `$schema`, `$ref`) is an "Unknown name" error.
 */
export function checkGeminiOpenApiSchema(schema: unknown): SchemaProblem | undefined {
  const visit = (node: unknown, path: string[]): SchemaProblem | undefined => {
    if (!isRecord(node)) return { path, problem: 'a schema must be a JSON object' };
    for (const key of Object.keys(node)) {
      if (!GEMINI_SCHEMA_FIELDS.has(key)) return { path, problem: `Unknown name "${key}": Cannot find field.` };
    }
    const type = node['type'];
    if (type !== undefined && (typeof type !== 'string' || !GEMINI_SCHEMA_TYPES.has(type.toUpperCase()))) {
      return {
        path,
        problem: `Invalid value at 'type' (type.googleapis.com/google.ai.generativelanguage.v1beta.Type), ${JSON.stringify(type)}`,
      };
    }
    const properties = node['properties'];
    if (properties !== undefined) {
      if (!isRecord(properties)) return { path, problem: 'properties must be an object' };
      for (const [key, property] of Object.entries(properties)) {
        const problem = visit(property, [...path, 'properties', key]);
        if (problem) return problem;
      }
    }
    if (node['items'] !== undefined) {
      const problem = visit(node['items'], [...path, 'items']);
      if (problem) return problem;
    }
    const anyOf = node['anyOf'];
    if (Array.isArray(anyOf)) {
      for (const [index, variant] of anyOf.entries()) {
        const problem = visit(variant, [...path, 'anyOf', String(index)]);
        if (problem) return problem;
      }
    }
    return undefined;
  };
  return visit(schema, []);
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
