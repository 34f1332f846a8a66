import { describe, expect, it } from 'vitest';
import { readEnvironment } from '../../config/environment.ts';
import { loadConfig } from '../../config/load.ts';
import { isLocalAddress, llmConcurrency, LOCAL_SERVER_CONCURRENCY } from '../../workers/llm-queue.ts';

function configWith(openai: Record<string, unknown>, workers: Record<string, unknown> = {}) {
  return loadConfig({
    explicit: { openai, workers },
    environment: readEnvironment({}),
    baseDirectory: '/work/project',
  });
}

describe('how many model calls an llm worker sends at once', () => {
  it('caps a server on this machine or a private network without a rate at the local default', () => {
    for (const baseUrl of [
      'http://localhost:8080/v1',
      'http://127.0.0.1:11434/v1',
      'http://[::1]:8000/v1',
      'http://10.0.3.7:8000/v1',
      'http://172.20.0.5/v1',
      'http://192.168.1.20:4000',
    ]) {
      expect(llmConcurrency(configWith({ baseUrl }), 'openai'), baseUrl).toBe(LOCAL_SERVER_CONCURRENCY);
    }
  });

  it("leaves the worker's own limit to the provider's API, a public server, or a local one given a rate", () => {
    expect(llmConcurrency(configWith({}), 'openai')).toBe(32);
    expect(llmConcurrency(configWith({ baseUrl: 'https://gateway.example.com/v1' }), 'openai')).toBe(32);
    expect(llmConcurrency(configWith({ baseUrl: 'http://localhost:8080/v1', requestsPerMinute: 600 }), 'openai')).toBe(
      32,
    );
  });

  it('honours maxConcurrency, within the worker limit', () => {
    expect(llmConcurrency(configWith({ baseUrl: 'http://localhost:8080/v1', maxConcurrency: 12 }), 'openai')).toBe(12);
    expect(llmConcurrency(configWith({ maxConcurrency: 64 }, { llmConcurrency: 16 }), 'openai')).toBe(16);
  });

  it('tells private addresses from public ones', () => {
    expect(isLocalAddress('http://172.32.0.1/v1')).toBe(false);
    expect(isLocalAddress('http://11.0.0.1/v1')).toBe(false);
    expect(isLocalAddress('http://localhost.example.com/v1')).toBe(false);
    expect(isLocalAddress('http://ollama.localhost:11434')).toBe(true);
    expect(isLocalAddress('http://[fd12:3456::1]:8000')).toBe(true);
  });
});
