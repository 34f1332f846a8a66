import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startScriptedEndpoint } from '../../scripted/server.ts';
import type { ScriptedEndpoint } from '../../scripted/server.ts';
import type { Script, ScriptedFault } from '../../scripted/script.ts';
import { pngBase64 } from '../helpers/png.ts';

const ANSWER = '{"content": ["a line"], "layout": [], "labels": [], "constraints": []}';
const script: Script = { problems: { p1: { plan: ANSWER } } };
const headers = { 'x-scigen-problem': 'p1', 'x-scigen-step': 'plan' };
const PNG = pngBase64();

let endpoint: ScriptedEndpoint;

beforeAll(async () => {
  endpoint = await startScriptedEndpoint({ script, recordBodies: true });
});

afterAll(async () => {
  await endpoint.close();
});

beforeEach(() => {
  endpoint.setScript(script);
  endpoint.reset();
});

async function postOpenAi(
  body: unknown,
  extraHeaders: Record<string, string> = {},
): Promise<{ status: number; body: any; headers: Headers }> {
  const response = await fetch(`${endpoint.openAiBaseUrl}/chat/completions`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      authorization: 'Bearer sk-test-endpoint',
      ...headers,
      ...extraHeaders,
    },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: await response.json(), headers: response.headers };
}

async function postGemini(
  body: unknown,
  model = 'gemini-test',
): Promise<{ status: number; body: any; headers: Headers }> {
  const response = await fetch(`${endpoint.geminiBaseUrl}/v1beta/models/${model}:generateContent`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-goog-api-key': 'gemini-test-endpoint', ...headers },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: await response.json(), headers: response.headers };
}

const openAiUser = (content: unknown, extra: Record<string, unknown> = {}) => ({
  model: 'gpt-test',
  messages: [{ role: 'user', content }],
  ...extra,
});
const geminiUser = (parts: unknown[], extra: Record<string, unknown> = {}) => ({
  contents: [{ role: 'user', parts }],
  ...extra,
});
const strictFormat = (schema: unknown, name = 'plan') => ({
  type: 'json_schema',
  json_schema: { name, strict: true, schema },
});
const closedObject = {
  type: 'object',
  properties: { a: { type: 'string' } },
  required: ['a'],
  additionalProperties: false,
};

describe('the OpenAI protocol rejects what the chat completions API rejects', () => {
  const cases: Array<[string, unknown, RegExp]> = [
    [
      'an unknown top-level field',
      openAiUser('x', { temprature: 0.2 }),
      /^Unrecognized request argument supplied: temprature$/,
    ],
    [
      'an unknown field in a message',
      { model: 'gpt-test', messages: [{ role: 'user', content: 'x', images: [] }] },
      /'images' was unexpected/,
    ],
    [
      'a wrong role',
      { model: 'gpt-test', messages: [{ role: 'model', content: 'x' }] },
      /Supported values are: 'system', 'assistant', 'user'/,
    ],
    [
      'an image in a system message',
      {
        model: 'gpt-test',
        messages: [
          { role: 'system', content: [{ type: 'image_url', image_url: { url: `data:image/png;base64,${PNG}` } }] },
          { role: 'user', content: 'x' },
        ],
      },
      /Image URLs are only allowed for messages with role 'user'/,
    ],
    [
      'image bytes that are not the declared type',
      openAiUser([{ type: 'image_url', image_url: { url: `data:image/jpeg;base64,${PNG}` } }]),
      /unsupported image/,
    ],
    [
      'malformed base64 image data',
      openAiUser([{ type: 'image_url', image_url: { url: 'data:image/png;base64,@@@' } }]),
      /unsupported image/,
    ],
    [
      'an image part with the URL at the wrong level',
      openAiUser([{ type: 'image_url', url: `data:image/png;base64,${PNG}` }]),
      /'url' was unexpected/,
    ],
    [
      'an unknown image detail',
      openAiUser([{ type: 'image_url', image_url: { url: `data:image/png;base64,${PNG}`, detail: 'max' } }]),
      /Supported values are: 'auto', 'low', and 'high'/,
    ],
    [
      'a part type the role may not send',
      openAiUser([{ type: 'input_image', image_url: 'x' }]),
      /Invalid value: 'input_image'/,
    ],
    ['temperature above 2', openAiUser('x', { temperature: 3 }), /Expected a value <= 2/],
    [
      'json_object without the word json',
      openAiUser('plan it', { response_format: { type: 'json_object' } }),
      /must contain the word 'json'/,
    ],
    [
      'a schema name with spaces',
      openAiUser('x', { response_format: strictFormat(closedObject, 'my plan') }),
      /json_schema\.name/,
    ],
    [
      'a strict schema without additionalProperties: false',
      openAiUser('x', {
        response_format: strictFormat({ type: 'object', properties: { a: { type: 'string' } }, required: ['a'] }),
      }),
      /'additionalProperties' is required to be supplied and to be false/,
    ],
    [
      'a strict schema with an optional property',
      openAiUser('x', {
        response_format: strictFormat({
          ...closedObject,
          properties: { a: { type: 'string' }, b: { type: 'string' } },
        }),
      }),
      /Missing 'b'/,
    ],
    [
      'a strict schema with an unsupported keyword',
      openAiUser('x', {
        response_format: strictFormat({ ...closedObject, properties: { a: { type: 'string', minLength: 1 } } }),
      }),
      /In context=\('properties', 'a'\), 'minLength' is not permitted/,
    ],
    [
      'a strict schema whose root is not an object',
      openAiUser('x', { response_format: strictFormat({ type: 'array', items: { type: 'string' } }) }),
      /must be a JSON Schema of 'type: "object"'/,
    ],
  ];

  it.each(cases)('rejects %s with 400 invalid_request_error', async (_name, body, message) => {
    const response = await postOpenAi(body);
    expect(response.status).toBe(400);
    expect(response.body.error.type).toBe('invalid_request_error');
    expect(response.body.error.message).toMatch(message);
    expect(endpoint.requests.at(-1)).toMatchObject({
      status: 400,
      model: null,
      rejection: response.body.error.message,
    });
  });

  it('accepts a strict schema, a non-strict one, json_object with "json", and an https image URL', async () => {
    for (const body of [
      openAiUser('x', { response_format: strictFormat(closedObject) }),
      openAiUser('x', {
        response_format: { type: 'json_schema', json_schema: { name: 'loose', schema: { type: 'object' } } },
      }),
      openAiUser('answer in JSON', { response_format: { type: 'json_object' } }),
      openAiUser([
        { type: 'text', text: 'x' },
        { type: 'image_url', image_url: { url: 'https://example.com/figure.png', detail: 'low' } },
      ]),
    ]) {
      expect((await postOpenAi(body)).status).toBe(200);
    }
    expect(endpoint.requests.map((entry) => entry.structured)).toEqual([true, true, true, false]);
  });
});

describe('the Gemini protocol rejects what generateContent rejects', () => {
  const cases: Array<[string, unknown, RegExp]> = [
    [
      'an unknown top-level field',
      geminiUser([{ text: 'x' }], { temperature: 0.2 }),
      /Unknown name "temperature": Cannot find field/,
    ],
    [
      'a "system" role in contents',
      { contents: [{ role: 'system', parts: [{ text: 'x' }] }] },
      /Please use a valid role: user, model/,
    ],
    [
      'an unknown generationConfig field',
      geminiUser([{ text: 'x' }], { generationConfig: { temprature: 0.2 } }),
      /Unknown name "temprature" at 'generation_config'/,
    ],
    [
      'a part with two kinds of data',
      geminiUser([{ text: 'x', inlineData: { mimeType: 'image/png', data: PNG } }]),
      /Oneof field 'data' is already set/,
    ],
    ['a part with no data', geminiUser([{ thought: true }]), /required oneof field 'data'/],
    ["an image in OpenAI's shape", geminiUser([{ type: 'image_url', image_url: { url: 'x' } }]), /Unknown name "type"/],
    [
      'a GIF, which generateContent does not take inline',
      geminiUser([{ inlineData: { mimeType: 'image/gif', data: PNG } }]),
      /Unsupported MIME type: image\/gif/,
    ],
    [
      'image bytes that are not the declared type',
      geminiUser([{ inlineData: { mimeType: 'image/jpeg', data: PNG } }]),
      /Unable to process input image/,
    ],
    [
      'corrupt base64',
      geminiUser([{ inlineData: { mimeType: 'image/png', data: 'not base64!' } }]),
      /Base64 decoding failed/,
    ],
    [
      'a non-text system instruction',
      {
        ...geminiUser([{ text: 'x' }]),
        systemInstruction: { parts: [{ inlineData: { mimeType: 'image/png', data: PNG } }] },
      },
      /only hold text parts/,
    ],
    [
      'a schema without the JSON mime type',
      geminiUser([{ text: 'x' }], { generationConfig: { responseJsonSchema: closedObject } }),
      /needs response_mime_type application\/json/,
    ],
    [
      'both schema fields',
      geminiUser([{ text: 'x' }], {
        generationConfig: {
          responseMimeType: 'application/json',
          responseJsonSchema: closedObject,
          responseSchema: { type: 'OBJECT' },
        },
      }),
      /only one of response_schema and response_json_schema/,
    ],
    [
      'JSON Schema habits in responseSchema',
      geminiUser([{ text: 'x' }], {
        generationConfig: {
          responseMimeType: 'application/json',
          responseSchema: { type: 'OBJECT', additionalProperties: false },
        },
      }),
      /Unknown name "additionalProperties" at 'generation_config\.response_schema': Cannot find field/,
    ],
    [
      'an unsupported keyword in responseJsonSchema',
      geminiUser([{ text: 'x' }], {
        generationConfig: {
          responseMimeType: 'application/json',
          responseJsonSchema: { ...closedObject, properties: { a: { type: 'string', minLength: 1 } } },
        },
      }),
      /unsupported JSON Schema keyword "minLength"/,
    ],
    [
      'propertyOrdering naming a missing property',
      geminiUser([{ text: 'x' }], {
        generationConfig: {
          responseMimeType: 'application/json',
          responseJsonSchema: { ...closedObject, propertyOrdering: ['b'] },
        },
      }),
      /propertyOrdering must list property names/,
    ],
    [
      'temperature above 2',
      geminiUser([{ text: 'x' }], { generationConfig: { temperature: 2.5 } }),
      /temperature: must be a number from 0 to 2/,
    ],
  ];

  it.each(cases)('rejects %s with 400 INVALID_ARGUMENT', async (_name, body, message) => {
    const response = await postGemini(body);
    expect(response.status).toBe(400);
    expect(response.body.error).toMatchObject({ code: 400, status: 'INVALID_ARGUMENT' });
    expect(response.body.error.message).toMatch(message);
  });

  it('accepts snake_case field names, a responseJsonSchema with propertyOrdering, and an OpenAPI responseSchema', async () => {
    const accepted = [
      {
        contents: [{ role: 'user', parts: [{ inline_data: { mime_type: 'image/png', data: PNG } }, { text: 'x' }] }],
        system_instruction: { parts: [{ text: 's' }] },
      },
      geminiUser([{ text: 'x' }], {
        generationConfig: {
          responseMimeType: 'application/json',
          responseJsonSchema: { ...closedObject, propertyOrdering: ['a'] },
        },
      }),
      geminiUser([{ text: 'x' }], {
        generationConfig: {
          responseMimeType: 'application/json',
          responseSchema: { type: 'OBJECT', properties: { a: { type: 'STRING' } }, required: ['a'] },
        },
      }),
    ];
    for (const body of accepted) expect((await postGemini(body)).status).toBe(200);
    expect(endpoint.requests.map((entry) => [entry.structured, entry.usage?.inputTokens])).toEqual([
      [false, 1 + 258],
      [true, 1],
      [true, 1],
    ]);
  });
});

describe("injected faults, in each protocol's shape", () => {
  // One call keeps the faults in order; each addFaults call goes ahead of earlier ones.
  const fault = (...values: ScriptedFault[]) => endpoint.addFaults({ problem: 'p1', step: 'plan' }, ...values);

  it('truncated: the first half of the scripted answer, finish reason length / MAX_TOKENS', async () => {
    fault({ kind: 'truncated' }, { kind: 'truncated' });
    const openAi = await postOpenAi(openAiUser('x'));
    expect(openAi.body.choices[0]).toMatchObject({
      finish_reason: 'length',
      message: { content: ANSWER.slice(0, Math.floor(ANSWER.length / 2)) },
    });
    const gemini = await postGemini(geminiUser([{ text: 'x' }]));
    expect(gemini.body.candidates[0]).toMatchObject({
      finishReason: 'MAX_TOKENS',
      content: { parts: [{ text: ANSWER.slice(0, Math.floor(ANSWER.length / 2)) }] },
    });
  });

  it('empty: no choices / no candidates, usage still reported', async () => {
    fault({ kind: 'empty' }, { kind: 'empty' });
    const openAi = await postOpenAi(openAiUser('abcd'));
    expect(openAi.body.choices).toEqual([]);
    expect(openAi.body.usage.prompt_tokens).toBe(1);
    const gemini = await postGemini(geminiUser([{ text: 'abcd' }]));
    expect(gemini.body.candidates).toBeUndefined();
    expect(gemini.body.usageMetadata.promptTokenCount).toBe(1);
  });

  it('safety: content_filter / a SAFETY finish with a blocking rating', async () => {
    fault({ kind: 'safety' }, { kind: 'safety' });
    const openAi = await postOpenAi(openAiUser('x'));
    expect(openAi.body.choices[0]).toMatchObject({
      finish_reason: 'content_filter',
      message: { content: null, refusal: null },
    });
    const gemini = await postGemini(geminiUser([{ text: 'x' }]));
    expect(gemini.body.candidates[0].finishReason).toBe('SAFETY');
    expect(gemini.body.candidates[0].safetyRatings).toContainEqual(expect.objectContaining({ blocked: true }));
    expect(gemini.body.candidates[0].content).toBeUndefined();
  });

  it('refusal: message.refusal / a blocked prompt', async () => {
    fault({ kind: 'refusal', message: 'I will not draw that.' }, { kind: 'refusal' });
    const openAi = await postOpenAi(openAiUser('x'));
    expect(openAi.body.choices[0].message).toMatchObject({ content: null, refusal: 'I will not draw that.' });
    const gemini = await postGemini(geminiUser([{ text: 'x' }]));
    expect(gemini.body).toMatchObject({ promptFeedback: { blockReason: 'PROHIBITED_CONTENT' } });
    expect(gemini.body.candidates).toBeUndefined();
  });

  it('cut-body: a 200 whose body stops half-way', async () => {
    fault({ kind: 'cut-body' });
    const response = await fetch(`${endpoint.openAiBaseUrl}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer sk-test', ...headers },
      body: JSON.stringify(openAiUser('x')),
    });
    expect(response.status).toBe(200);
    await expect(response.text()).rejects.toThrow();
  });

  it('http 429 sends retry-after and retry-after-ms to OpenAI clients, RetryInfo to Gemini clients', async () => {
    fault({ status: 429, retryAfterSeconds: 2, retryAfterMs: 1500 }, { status: 429, retryAfterSeconds: 2 });
    const openAi = await postOpenAi(openAiUser('x'));
    expect(openAi.status).toBe(429);
    expect(openAi.headers.get('retry-after-ms')).toBe('1500');
    const gemini = await postGemini(geminiUser([{ text: 'x' }]));
    expect(gemini.body.error.details).toContainEqual({
      '@type': 'type.googleapis.com/google.rpc.RetryInfo',
      retryDelay: '2s',
    });
  });
});

describe('requests-per-minute limit', () => {
  it('admits N requests a minute, answers the next 429 with the wait until a slot frees, and reports the window in headers', async () => {
    const limited = await startScriptedEndpoint({ script, requestsPerMinute: 3 });
    try {
      const post = async () => {
        const response = await fetch(`${limited.openAiBaseUrl}/chat/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: 'Bearer sk-test', ...headers },
          body: JSON.stringify(openAiUser('x')),
        });
        await response.json();
        return response;
      };
      const statuses: number[] = [];
      let last: Response | undefined;
      for (let index = 0; index < 4; index++) {
        last = await post();
        statuses.push(last.status);
      }
      expect(statuses).toEqual([200, 200, 200, 429]);
      const retryAfter = Number(last!.headers.get('retry-after'));
      expect(retryAfter).toBeGreaterThan(55);
      expect(retryAfter).toBeLessThanOrEqual(60);
      expect(Number(last!.headers.get('retry-after-ms'))).toBeGreaterThan(55_000);
      expect(last!.headers.get('x-ratelimit-remaining-requests')).toBe('0');
      expect(limited.requests.at(-1)).toMatchObject({ status: 429, rateLimited: true });

      const gemini = await fetch(`${limited.geminiBaseUrl}/v1beta/models/m:generateContent`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-goog-api-key': 'k', ...headers },
        body: JSON.stringify(geminiUser([{ text: 'x' }])),
      });
      expect(gemini.status).toBe(429);
      const body = (await gemini.json()) as any;
      expect(body.error.status).toBe('RESOURCE_EXHAUSTED');
      expect(body.error.details[0].retryDelay).toMatch(/^\d+s$/);
    } finally {
      await limited.close();
    }
  });
});

describe('recorded requests', () => {
  it('keeps headers (credentials masked) and the parsed body when asked to', async () => {
    await postOpenAi(openAiUser('x'));
    const entry = endpoint.requests.at(-1)!;
    expect(entry.headers).toMatchObject({
      authorization: '[present]',
      'x-scigen-step': 'plan',
      'x-scigen-problem': 'p1',
    });
    expect(entry.body).toEqual(openAiUser('x'));
  });
});
