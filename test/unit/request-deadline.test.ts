import { getEventListeners } from 'node:events';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createOpenAiProvider } from '../../providers/openai.ts';
import { requestDeadline } from '../../providers/provider.ts';

afterEach(() => {
  vi.useRealTimers();
});

describe('requestDeadline', () => {
  it('aborts once the time is up, and says it expired', () => {
    vi.useFakeTimers();
    const deadline = requestDeadline(2_000);
    vi.advanceTimersByTime(1_999);
    expect(deadline.signal.aborted).toBe(false);
    vi.advanceTimersByTime(1);
    expect(deadline.signal.aborted).toBe(true);
    expect(deadline.expired()).toBe(true);
  });

  it("aborts with the caller's signal, which is not an expiry", () => {
    const caller = new AbortController();
    const deadline = requestDeadline(60_000, caller.signal);
    caller.abort(new Error('activity cancelled'));
    expect(deadline.signal.aborted).toBe(true);
    expect(deadline.signal.reason).toEqual(new Error('activity cancelled'));
    expect(deadline.expired()).toBe(false);
    deadline.dispose();
  });

  it("leaves no listener on the caller's signal and no timer once disposed", () => {
    vi.useFakeTimers();
    const caller = new AbortController();
    const deadline = requestDeadline(1_000, caller.signal);
    expect(getEventListeners(caller.signal, 'abort')).toHaveLength(1);
    deadline.dispose();
    expect(getEventListeners(caller.signal, 'abort')).toHaveLength(0);
    vi.advanceTimersByTime(5_000);
    expect(deadline.signal.aborted).toBe(false);
  });
});

describe('an OpenAI request', () => {
  it('leaves nothing alive once answered (no signal kept until its timeout)', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    // Weak references to what each request's abort machinery was made of: the activity's signal
    // and the signal the SDK handed to fetch (its own controller's, tied to ours by a listener).
    const held: WeakRef<AbortSignal>[] = [];
    const fetch = async (_url: unknown, init?: { signal?: AbortSignal | null }) => {
      if (init?.signal) held.push(new WeakRef(init.signal));
      return new Response(
        JSON.stringify({
          id: 'chatcmpl-1',
          object: 'chat.completion',
          created: 0,
          model: 'm',
          choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }],
          usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
        }),
        { status: 200, headers: { 'content-type': 'application/json' } },
      );
    };
    const provider = createOpenAiProvider({
      apiKey: 'sk-test-deadline',
      baseURL: 'http://127.0.0.1:9/v1',
      timeoutMs: 120_000,
      fetch: fetch as never,
    });
    for (let index = 0; index < 50; index++) {
      const activity = new AbortController();
      held.push(new WeakRef(activity.signal));
      const answer = await provider.generate({
        step: 'classify',
        problemId: `p${index}`,
        model: 'm',
        parts: [{ type: 'text', text: 'hello' }],
        signal: activity.signal,
      });
      expect(answer.text).toBe('ok');
    }
    expect(held).toHaveLength(100);
    // WeakRefs hold their target until the current job ends; then collect twice (finalizers).
    await new Promise((resolve) => setTimeout(resolve, 0));
    gc();
    await new Promise((resolve) => setTimeout(resolve, 0));
    gc();
    const alive = held.flatMap((ref, index) => (ref.deref() === undefined ? [] : [index]));
    // Before the fix every request's SDK signal stayed (kept until its 120 s timeout, or for ever);
    // only the last request's may linger, still referenced from this function's frame.
    expect(alive.filter((index) => index < held.length - 2)).toEqual([]);
  });
});
