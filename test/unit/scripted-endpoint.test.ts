import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadScript, type Script } from '../../scripted/script.ts';
import { startScriptedEndpoint } from '../../scripted/server.ts';
import type { RequestLogEntry, ScriptedEndpoint } from '../../scripted/server.ts';
import { pngBase64 } from '../helpers/png.ts';
import { useTemporaryDirectory } from '../helpers/temporary-directory.ts';

const script: Script = {
  problems: {
    p1: {
      plan: '{"content":["a"],"layout":[],"labels":[],"constraints":[]}',
      judge: [{ when: 'pendulum', text: 'JUDGE-PENDULUM' }, { text: 'JUDGE-OTHER' }],
      code: [{ fault: { status: 503, times: 2 } }, { text: 'CODE-AFTER-FAULTS' }],
    },
    '*': { quiz: 'QUIZ-SHARED', judge: [{ when: 'fallback', text: 'JUDGE-FALLBACK' }] },
  },
};

let endpoint: ScriptedEndpoint;

beforeAll(async () => {
  endpoint = await startScriptedEndpoint({ script, port: 0 });
});

afterAll(async () => {
  await endpoint.close();
});

beforeEach(() => {
  endpoint.setScript(script);
  endpoint.reset();
});

interface PostOptions {
  headers?: Record<string, string | undefined>;
  body: unknown;
}

const scigenHeaders = (problem: string, step: string): Record<string, string> => ({
  'x-scigen-problem': problem,
  'x-scigen-step': step,
});

async function postOpenAi(options: PostOptions): Promise<{ status: number; body: any; headers: Headers }> {
  const headers = { 'content-type': 'application/json', authorization: 'Bearer sk-test-endpoint', ...options.headers };
  const response = await fetch(`${endpoint.openAiBaseUrl}/chat/completions`, {
    method: 'POST',
    headers: definedOnly(headers),
    body: JSON.stringify(options.body),
  });
  return { status: response.status, body: await response.json(), headers: response.headers };
}

async function postGemini(
  model: string,
  options: PostOptions,
): Promise<{ status: number; body: any; headers: Headers }> {
  const headers = { 'content-type': 'application/json', 'x-goog-api-key': 'gemini-test-endpoint', ...options.headers };
  const response = await fetch(`${endpoint.geminiBaseUrl}/v1beta/models/${model}:generateContent`, {
    method: 'POST',
    headers: definedOnly(headers),
    body: JSON.stringify(options.body),
  });
  return { status: response.status, body: await response.json(), headers: response.headers };
}

function definedOnly(headers: Record<string, string | undefined>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(headers).filter((entry): entry is [string, string] => entry[1] !== undefined),
  );
}

const userMessage = (text: string) => ({ model: 'gpt-test', messages: [{ role: 'user', content: text }] });
const geminiUser = (text: string) => ({ contents: [{ role: 'user', parts: [{ text }] }] });

describe('scripted endpoint, OpenAI protocol', () => {
  it('answers a chat completion in the OpenAI shape with usage from the text lengths', async () => {
    const request = {
      model: 'gpt-test',
      messages: [
        { role: 'system', content: 'abcd' },
        {
          role: 'user',
          content: [
            { type: 'text', text: 'efgh' },
            { type: 'image_url', image_url: { url: `data:image/png;base64,${pngBase64()}` } },
          ],
        },
      ],
    };
    const { status, body } = await postOpenAi({ headers: scigenHeaders('p1', 'plan'), body: request });
    expect(status).toBe(200);
    expect(body).toMatchObject({
      object: 'chat.completion',
      model: 'gpt-test',
      choices: [{ index: 0, message: { role: 'assistant', refusal: null }, finish_reason: 'stop' }],
    });
    expect(typeof body.id).toBe('string');
    expect(typeof body.created).toBe('number');
    const answer: string = body.choices[0].message.content;
    expect(answer).toBe(script.problems['p1']?.['plan']);
    // "abcd\nefgh" is 9 characters -> 3 tokens, plus the fixed charge for one image.
    expect(body.usage).toMatchObject({
      prompt_tokens: 3 + 258,
      completion_tokens: Math.ceil(answer.length / 4),
      total_tokens: 3 + 258 + Math.ceil(answer.length / 4),
      prompt_tokens_details: { cached_tokens: 0 },
    });
  });

  it('rejects malformed requests with 400 and an OpenAI error body', async () => {
    const headers = scigenHeaders('p1', 'plan');
    const cases: Array<[unknown, string]> = [
      [{ messages: [{ role: 'user', content: 'x' }] }, 'model'],
      [{ model: 'gpt-test', messages: 'hello' }, 'messages'],
      [{ model: 'gpt-test', messages: [{ role: 'robot', content: 'x' }] }, 'messages[0].role'],
      [
        {
          model: 'gpt-test',
          messages: [
            { role: 'user', content: [{ type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA' } }] },
          ],
        },
        'messages[0].content[0].image_url.url',
      ],
    ];
    for (const [body, param] of cases) {
      const response = await postOpenAi({ headers, body });
      expect(response.status).toBe(400);
      expect(response.body.error).toMatchObject({ type: 'invalid_request_error', param });
      expect(typeof response.body.error.message).toBe('string');
    }
  });

  it('answers 401 without a bearer token', async () => {
    const response = await postOpenAi({
      headers: { ...scigenHeaders('p1', 'plan'), authorization: undefined },
      body: userMessage('x'),
    });
    expect(response.status).toBe(401);
    expect(response.body.error.message).toMatch(/API key/);
  });

  it('requires the x-scigen-step and x-scigen-problem headers, with a known step', async () => {
    const withoutStep = await postOpenAi({ headers: { 'x-scigen-problem': 'p1' }, body: userMessage('x') });
    expect(withoutStep.status).toBe(400);
    expect(withoutStep.body.error.param).toBe('x-scigen-step');
    const withoutProblem = await postOpenAi({ headers: { 'x-scigen-step': 'plan' }, body: userMessage('x') });
    expect(withoutProblem.status).toBe(400);
    expect(withoutProblem.body.error.param).toBe('x-scigen-problem');
    const unknownStep = await postOpenAi({ headers: scigenHeaders('p1', 'draw'), body: userMessage('x') });
    expect(unknownStep.status).toBe(400);
  });

  it('answers 404 naming the problem and step when nothing is scripted', async () => {
    const response = await postOpenAi({ headers: scigenHeaders('nobody', 'plan'), body: userMessage('x') });
    expect(response.status).toBe(404);
    expect(response.body.error.message).toContain('"nobody"');
    expect(response.body.error.message).toContain('"plan"');
  });
});

describe('scripted endpoint, Gemini protocol', () => {
  it('answers generateContent in the Gemini shape', async () => {
    const request = {
      systemInstruction: { parts: [{ text: 'abcd' }] },
      contents: [
        { role: 'user', parts: [{ text: 'efgh' }, { inlineData: { mimeType: 'image/png', data: pngBase64() } }] },
      ],
      generationConfig: { temperature: 0.2 },
    };
    const { status, body } = await postGemini('gemini-test', { headers: scigenHeaders('p1', 'plan'), body: request });
    expect(status).toBe(200);
    const answer = script.problems['p1']?.['plan'] as string;
    expect(body).toEqual({
      candidates: [{ content: { role: 'model', parts: [{ text: answer }] }, finishReason: 'STOP', index: 0 }],
      usageMetadata: {
        promptTokenCount: 3 + 258,
        candidatesTokenCount: Math.ceil(answer.length / 4),
        totalTokenCount: 3 + 258 + Math.ceil(answer.length / 4),
        promptTokensDetails: [{ modality: 'TEXT', tokenCount: 3 + 258 }],
      },
      modelVersion: 'gemini-test',
      responseId: expect.any(String),
    });
  });

  it('rejects malformed requests with 400 INVALID_ARGUMENT', async () => {
    const headers = scigenHeaders('p1', 'plan');
    const bodies = [
      { contents: 'hello' },
      { contents: [{ role: 'robot', parts: [{ text: 'x' }] }] },
      { contents: [{ role: 'user', parts: [{ inlineData: { data: 'AAAA' } }] }] },
    ];
    for (const body of bodies) {
      const response = await postGemini('gemini-test', { headers, body });
      expect(response.status).toBe(400);
      expect(response.body.error).toMatchObject({ code: 400, status: 'INVALID_ARGUMENT' });
    }
  });

  it('answers 403 PERMISSION_DENIED without x-goog-api-key, as the Gemini API does for unregistered callers', async () => {
    const response = await postGemini('gemini-test', {
      headers: { ...scigenHeaders('p1', 'plan'), 'x-goog-api-key': undefined },
      body: geminiUser('x'),
    });
    expect(response.status).toBe(403);
    expect(response.body.error.status).toBe('PERMISSION_DENIED');
  });
});

describe('reply selection and faults', () => {
  it('uses the first reply whose `when` occurs in the request text, then the "*" fallback', async () => {
    const headers = scigenHeaders('p1', 'judge');
    const pendulum = await postOpenAi({ headers, body: userMessage('a pendulum of length 1 m') });
    expect(pendulum.body.choices[0].message.content).toBe('JUDGE-PENDULUM');
    const other = await postGemini('gemini-test', { headers, body: geminiUser('a spring') });
    expect(other.body.candidates[0].content.parts[0].text).toBe('JUDGE-OTHER');
    const shared = await postOpenAi({ headers: scigenHeaders('p2', 'quiz'), body: userMessage('anything') });
    expect(shared.body.choices[0].message.content).toBe('QUIZ-SHARED');
    const fallback = await postOpenAi({ headers: scigenHeaders('p2', 'judge'), body: userMessage('fallback please') });
    expect(fallback.body.choices[0].message.content).toBe('JUDGE-FALLBACK');
  });

  it('answers a fault for its first `times` requests, then passes it over', async () => {
    const headers = scigenHeaders('p1', 'code');
    const statuses: number[] = [];
    for (let attempt = 0; attempt < 3; attempt += 1)
      statuses.push((await postOpenAi({ headers, body: userMessage('x') })).status);
    expect(statuses).toEqual([503, 503, 200]);
    expect(endpoint.requests.map((entry) => entry.faulted)).toEqual([true, true, false]);
  });

  it('sends Retry-After and the provider error shape for http faults', async () => {
    endpoint.addFaults(
      { problem: 'p3', step: 'plan' },
      { status: 429, retryAfterSeconds: 3 },
      { status: 429, retryAfterSeconds: 3 },
    );
    const openAi = await postOpenAi({ headers: scigenHeaders('p3', 'plan'), body: userMessage('x') });
    expect(openAi.status).toBe(429);
    expect(openAi.headers.get('retry-after')).toBe('3');
    expect(openAi.body.error).toMatchObject({ code: 'rate_limit_exceeded' });
    const gemini = await postGemini('gemini-test', { headers: scigenHeaders('p3', 'plan'), body: geminiUser('x') });
    expect(gemini.status).toBe(429);
    expect(gemini.headers.get('retry-after')).toBe('3');
    expect(gemini.body.error).toMatchObject({
      code: 429,
      status: 'RESOURCE_EXHAUSTED',
      details: [{ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '3s' }],
    });
  });

  it("destroys the socket for a 'reset' fault", async () => {
    endpoint.addFaults({ problem: 'p4', step: 'plan' }, { kind: 'reset' });
    await expect(postOpenAi({ headers: scigenHeaders('p4', 'plan'), body: userMessage('x') })).rejects.toThrow(
      /fetch failed/,
    );
    expect(endpoint.requests).toEqual([
      expect.objectContaining<Partial<RequestLogEntry>>({ problem: 'p4', status: null, faulted: true }),
    ]);
  });

  it("never answers a 'hang' fault, and close() still ends", async () => {
    const hangingEndpoint = await startScriptedEndpoint({
      script: { problems: { p5: { plan: { fault: { kind: 'hang' } } } } },
    });
    const answer = fetch(`${hangingEndpoint.openAiBaseUrl}/chat/completions`, {
      method: 'POST',
      headers: { authorization: 'Bearer sk-test', 'content-type': 'application/json', ...scigenHeaders('p5', 'plan') },
      body: JSON.stringify(userMessage('x')),
    });
    const settled = answer.then(
      () => 'answered',
      () => 'failed',
    );
    await expect.poll(() => hangingEndpoint.count({ problem: 'p5' })).toBe(1);
    await hangingEndpoint.close();
    expect(await settled).toBe('failed');
  });

  it('adds latency before answering', async () => {
    const slowEndpoint = await startScriptedEndpoint({ script, latencyMs: 150 });
    try {
      const started = Date.now();
      const response = await fetch(`${slowEndpoint.openAiBaseUrl}/chat/completions`, {
        method: 'POST',
        headers: {
          authorization: 'Bearer sk-test',
          'content-type': 'application/json',
          ...scigenHeaders('p1', 'plan'),
        },
        body: JSON.stringify(userMessage('x')),
      });
      expect(response.status).toBe(200);
      expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    } finally {
      await slowEndpoint.close();
    }
  });
});

describe('the VE steps', () => {
  const veScript: Script = {
    problems: {
      v1: {
        'visual-answer': [
          { whenImage: { width: 60, height: 60 }, text: 'The marked distance is 15 cm. Final answer: 15 cm' },
          { text: 'I cannot make out the distance.', whenImage: { width: 1, height: 1 } },
        ],
        grade: [
          { when: 'Final answer: 15 cm', text: '```json\n{"correct": true, "reason": "15 cm as the reference"}\n```' },
          { text: '{"correct": false, "reason": "no distance given"}' },
        ],
      },
    },
  };
  const openAiImage = (text: string, size: number) => ({
    model: 'gpt-test',
    messages: [
      {
        role: 'user',
        content: [
          { type: 'image_url', image_url: { url: `data:image/png;base64,${pngBase64(size, size)}` } },
          { type: 'text', text },
        ],
      },
    ],
  });
  const geminiImage = (text: string, size: number) => ({
    contents: [
      { role: 'user', parts: [{ inlineData: { mimeType: 'image/png', data: pngBase64(size, size) } }, { text }] },
    ],
  });

  beforeEach(() => endpoint.setScript(veScript));

  it('refuses a visual-answer request without an image, on both protocols', async () => {
    const openAi = await postOpenAi({
      headers: scigenHeaders('v1', 'visual-answer'),
      body: userMessage('How far is the object from the lens?'),
    });
    expect(openAi.status).toBe(400);
    expect(openAi.body.error.message).toMatch(/carries none/);
    const gemini = await postGemini('gemini-test', {
      headers: scigenHeaders('v1', 'visual-answer'),
      body: geminiUser('How far is the object from the lens?'),
    });
    expect(gemini.status).toBe(400);
    expect(gemini.body.error.status).toBe('INVALID_ARGUMENT');
  });

  it('answers from the image it decodes: a reply for a 60x60 image is not given for another', async () => {
    const seen = await postOpenAi({ headers: scigenHeaders('v1', 'visual-answer'), body: openAiImage('How far?', 60) });
    expect(seen.status).toBe(200);
    expect(seen.body.choices[0].message.content).toBe('The marked distance is 15 cm. Final answer: 15 cm');
    const other = await postGemini('gemini-test', {
      headers: scigenHeaders('v1', 'visual-answer'),
      body: geminiImage('How far?', 40),
    });
    expect(other.status).toBe(404);
    const gemini = await postGemini('gemini-test', {
      headers: scigenHeaders('v1', 'visual-answer'),
      body: geminiImage('How far?', 60),
    });
    expect(gemini.body.candidates[0].content.parts[0].text).toMatch(/Final answer: 15 cm/);
  });

  it('grades from the answer it is sent', async () => {
    const right = await postGemini('gemini-test', {
      headers: scigenHeaders('v1', 'grade'),
      body: geminiUser('Reference: 15 cm\nStudent: The marked distance is 15 cm. Final answer: 15 cm'),
    });
    expect(right.body.candidates[0].content.parts[0].text).toMatch(/"correct": true/);
    const wrong = await postOpenAi({
      headers: scigenHeaders('v1', 'grade'),
      body: userMessage('Reference: 15 cm\nStudent: I cannot make out the distance.'),
    });
    expect(JSON.parse(wrong.body.choices[0].message.content)).toEqual({ correct: false, reason: 'no distance given' });
  });
});

describe('request log', () => {
  it('logs every request and serves the log and a health check over HTTP', async () => {
    await postOpenAi({ headers: scigenHeaders('p1', 'plan'), body: userMessage('x') });
    await postGemini('gemini-test', { headers: scigenHeaders('p1', 'plan'), body: geminiUser('x') });
    await postOpenAi({ headers: scigenHeaders('nobody', 'quiz'), body: { model: 'gpt-test' } });
    expect(endpoint.count()).toBe(3);
    expect(endpoint.count({ problem: 'p1' })).toBe(2);
    expect(endpoint.count({ problem: 'p1', protocol: 'gemini' })).toBe(1);
    expect(endpoint.count({ step: 'quiz' })).toBe(1);

    const served = (await (await fetch(`${endpoint.url}/_scigen/requests`)).json()) as RequestLogEntry[];
    expect(
      served.map(({ protocol, step, problem, model, status, faulted }) => ({
        protocol,
        step,
        problem,
        model,
        status,
        faulted,
      })),
    ).toEqual([
      { protocol: 'openai', step: 'plan', problem: 'p1', model: 'gpt-test', status: 200, faulted: false },
      { protocol: 'gemini', step: 'plan', problem: 'p1', model: 'gemini-test', status: 200, faulted: false },
      { protocol: 'openai', step: 'quiz', problem: 'nobody', model: null, status: 400, faulted: false },
    ]);
    expect(Number.isNaN(Date.parse(served[0]?.at ?? ''))).toBe(false);

    const health = await fetch(`${endpoint.url}/_scigen/health`);
    expect(health.status).toBe(200);
    expect(await health.text()).toBe('ok');
    expect(endpoint.count()).toBe(3);
  });

  it('answers 404 for unknown paths', async () => {
    const response = await fetch(`${endpoint.url}/v1/embeddings`, { method: 'POST', body: '{}' });
    expect(response.status).toBe(404);
  });
});

describe('loadScript', () => {
  const directory = useTemporaryDirectory('script');

  async function scriptFile(name: string, content: string): Promise<string> {
    const path = join(directory.path, name);
    await writeFile(path, content);
    return path;
  }

  it('loads a valid script', async () => {
    const path = await scriptFile('valid.json', JSON.stringify(script));
    expect(await loadScript(path)).toEqual(script);
  });

  it('names the file and the field of a mistake', async () => {
    const wrongType = await scriptFile(
      'wrong-type.json',
      JSON.stringify({ problems: { p1: { plan: { fault: { status: '429' } } } } }),
    );
    await expect(loadScript(wrongType)).rejects.toThrow(`${wrongType}: problems.p1.plan.fault.status:`);

    const unknownStep = await scriptFile('unknown-step.json', JSON.stringify({ problems: { p1: { plann: 'x' } } }));
    await expect(loadScript(unknownStep)).rejects.toThrow(/unknown-step\.json: problems\.p1: .*plann/);

    const emptyReply = await scriptFile(
      'empty-reply.json',
      JSON.stringify({ problems: { p1: { plan: [{ when: 'x' }] } } }),
    );
    await expect(loadScript(emptyReply)).rejects.toThrow(
      /empty-reply\.json: problems\.p1\.plan\[0\]: a reply needs "text", "image" or "fault"/,
    );

    const notJson = await scriptFile('not-json.json', '{ problems: ');
    await expect(loadScript(notJson)).rejects.toThrow(/not-json\.json: not valid JSON/);

    await expect(loadScript(join(directory.path, 'missing.json'))).rejects.toThrow(
      /missing\.json: cannot read the script \(ENOENT\)/,
    );
  });
});
