import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ANSWER_SCHEMAS } from '../../domain/parse-model-output.ts';
import { IMAGE_TYPES, SUBJECTS } from '../../domain/taxonomy.ts';
import { createGeminiProvider } from '../../providers/gemini.ts';
import { createOpenAiProvider } from '../../providers/openai.ts';
import type { ModelRequest } from '../../providers/provider.ts';
import { startScriptedEndpoint, type RequestLogEntry, type ScriptedEndpoint } from '../../scripted/server.ts';
import { makePng } from '../helpers/png.ts';

// What each SDK puts on the wire, read back from the scripted endpoint's log: the endpoint has
// accepted it (it refuses what the real API refuses), and the shape is the documented one.

const IMAGE = makePng(6, 4);
const IMAGE_BASE64 = Buffer.from(IMAGE).toString('base64');
const JSON_ANSWER =
  '{"visualizable": true, "reason": "r", "subject": "Physics", "image_type": "Physics - Optical Ray"}';

let endpoint: ScriptedEndpoint;

beforeAll(async () => {
  endpoint = await startScriptedEndpoint({
    script: { problems: { '*': { classify: JSON_ANSWER, judge: 'fine', plan: 'a plan' } } },
    recordBodies: true,
  });
});

afterAll(async () => {
  await endpoint.close();
});

beforeEach(() => endpoint.reset());

const openAi = () =>
  createOpenAiProvider({ apiKey: 'sk-test-shape', baseURL: endpoint.openAiBaseUrl, timeoutMs: 10_000 });
const gemini = () =>
  createGeminiProvider({ apiKey: 'gemini-test-shape', baseUrl: endpoint.geminiBaseUrl, timeoutMs: 10_000 });

async function sent(provider: ReturnType<typeof openAi>, request: ModelRequest): Promise<RequestLogEntry> {
  await provider.generate(request);
  const entry = endpoint.requests.at(-1)!;
  expect(entry.status).toBe(200);
  return entry;
}

const textRequest: ModelRequest = {
  step: 'plan',
  problemId: 'p-7',
  model: 'model-a',
  system: 'You plan.',
  parts: [{ type: 'text', text: 'Draw it.' }],
  temperature: 0.4,
};
const imageRequest: ModelRequest = {
  step: 'judge',
  problemId: 42 as unknown as string,
  model: 'model-b',
  system: 'You judge.',
  parts: [
    { type: 'text', text: 'The problem.' },
    { type: 'image', mimeType: 'image/png', data: IMAGE },
  ],
  temperature: 0.1,
};
const schemaRequest: ModelRequest = {
  step: 'classify',
  problemId: 'p-9',
  model: 'model-c',
  parts: [{ type: 'text', text: 'Classify.' }],
  temperature: 0,
  responseSchema: { name: 'classification', schema: ANSWER_SCHEMAS.classify },
};

/** The classification schema's fields as both SDKs must send them, in the schema's order. */
const CLASSIFICATION_PROPERTIES = {
  visualizable: { type: 'boolean' },
  reason: { type: 'string' },
  subject: { type: 'string', enum: [...SUBJECTS] },
  image_type: { type: 'string', enum: [...IMAGE_TYPES] },
};
const CLASSIFICATION_FIELDS = ['visualizable', 'reason', 'subject', 'image_type'];

describe('openai SDK request shape (chat completions)', () => {
  it('text: system message, user content as a plain string, temperature; scigen headers and a bearer key', async () => {
    const entry = await sent(openAi(), textRequest);
    expect(entry.body).toEqual({
      model: 'model-a',
      messages: [
        { role: 'system', content: 'You plan.' },
        { role: 'user', content: 'Draw it.' },
      ],
      temperature: 0.4,
    });
    expect(entry.headers).toMatchObject({
      authorization: '[present]',
      'x-scigen-step': 'plan',
      'x-scigen-problem': 'p-7',
      'content-type': 'application/json',
    });
  });

  it('image: user content parts, the image as a base64 PNG data URL with high detail', async () => {
    const entry = await sent(openAi(), { ...imageRequest, problemId: '42' });
    expect(entry.body).toEqual({
      model: 'model-b',
      messages: [
        { role: 'system', content: 'You judge.' },
        {
          role: 'user',
          content: [
            { type: 'text', text: 'The problem.' },
            { type: 'image_url', image_url: { url: `data:image/png;base64,${IMAGE_BASE64}`, detail: 'high' } },
          ],
        },
      ],
      temperature: 0.1,
    });
    expect(entry.headers).toMatchObject({ 'x-scigen-step': 'judge', 'x-scigen-problem': '42' });
  });

  it('schema mode: response_format json_schema, strict, closed objects, every property required', async () => {
    const entry = await sent(openAi(), schemaRequest);
    expect(entry.structured).toBe(true);
    expect((entry.body as { response_format: unknown }).response_format).toEqual({
      type: 'json_schema',
      json_schema: {
        name: 'classification',
        strict: true,
        schema: {
          $schema: 'http://json-schema.org/draft-07/schema#',
          type: 'object',
          properties: CLASSIFICATION_PROPERTIES,
          required: CLASSIFICATION_FIELDS,
          additionalProperties: false,
        },
      },
    });
  });

  it('every JSON step schema passes the strict-mode checks', async () => {
    for (const [step, schema] of Object.entries(ANSWER_SCHEMAS)) {
      await sent(openAi(), { ...schemaRequest, responseSchema: { name: step, schema } });
    }
    expect(endpoint.requests.every((entry) => entry.structured && entry.status === 200)).toBe(true);
  });
});

describe('@google/genai request shape (generateContent)', () => {
  it('text: the model in the path, a user turn, systemInstruction, generationConfig; scigen headers and x-goog-api-key', async () => {
    const entry = await sent(gemini(), textRequest);
    expect(entry.model).toBe('model-a');
    expect(entry.body).toEqual({
      contents: [{ role: 'user', parts: [{ text: 'Draw it.' }] }],
      systemInstruction: { role: 'user', parts: [{ text: 'You plan.' }] },
      generationConfig: { temperature: 0.4 },
    });
    expect(entry.headers).toMatchObject({
      'x-goog-api-key': '[present]',
      'x-scigen-step': 'plan',
      'x-scigen-problem': 'p-7',
    });
    // The SDK tells the server the client's deadline.
    expect(entry.headers?.['x-server-timeout']).toBe('10');
  });

  it('image: an inlineData part with the PNG mime type and base64 bytes', async () => {
    const entry = await sent(gemini(), { ...imageRequest, problemId: '42' });
    expect((entry.body as { contents: unknown }).contents).toEqual([
      {
        role: 'user',
        parts: [{ text: 'The problem.' }, { inlineData: { mimeType: 'image/png', data: IMAGE_BASE64 } }],
      },
    ]);
  });

  it('schema mode: responseMimeType application/json and responseJsonSchema with propertyOrdering, no $schema', async () => {
    const entry = await sent(gemini(), schemaRequest);
    expect(entry.structured).toBe(true);
    expect((entry.body as { generationConfig: unknown }).generationConfig).toEqual({
      temperature: 0,
      responseMimeType: 'application/json',
      responseJsonSchema: {
        type: 'object',
        properties: CLASSIFICATION_PROPERTIES,
        propertyOrdering: CLASSIFICATION_FIELDS,
        required: CLASSIFICATION_FIELDS,
        additionalProperties: false,
      },
    });
  });

  it('every JSON step schema passes the responseJsonSchema checks', async () => {
    for (const [step, schema] of Object.entries(ANSWER_SCHEMAS)) {
      await sent(gemini(), { ...schemaRequest, responseSchema: { name: step, schema } });
    }
    expect(endpoint.requests.every((entry) => entry.structured && entry.status === 200)).toBe(true);
  });
});
