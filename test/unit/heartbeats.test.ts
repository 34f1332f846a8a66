import { MockActivityEnvironment } from '@temporalio/testing';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { heartbeatIntervalMs, withHeartbeats } from '../../activities/activity-context.ts';

afterEach(() => {
  vi.useRealTimers();
});

/**
 * Runs `withHeartbeats` around a call of `callMs` in a mock activity, then lets `afterMs` more pass;
 * the heartbeats it sent.
 */
async function heartbeatsOfCall(callMs: number, heartbeatTimeoutMs: number, afterMs = 0): Promise<number> {
  vi.useFakeTimers();
  const activity = new MockActivityEnvironment({ heartbeatTimeoutMs });
  let beats = 0;
  activity.on('heartbeat', () => beats++);
  const call = new Promise<string>((resolve) => setTimeout(() => resolve('answer'), callMs));
  const running = activity.run(() => withHeartbeats(call));
  await vi.advanceTimersByTimeAsync(callMs);
  expect(await running).toBe('answer');
  await vi.advanceTimersByTimeAsync(afterMs);
  return beats;
}

describe('withHeartbeats', () => {
  it('beats three times per heartbeat timeout, never at the start', () => {
    expect(heartbeatIntervalMs(15_000)).toBe(5_000);
    expect(heartbeatIntervalMs(60_000)).toBe(20_000);
    expect(heartbeatIntervalMs(undefined)).toBe(10_000);
    expect(heartbeatIntervalMs(0)).toBe(10_000);
  });

  it('sends nothing for a call shorter than a third of the heartbeat timeout', async () => {
    expect(await heartbeatsOfCall(4_000, 15_000)).toBe(0);
  });

  it('keeps a long call alive within its heartbeat timeout', async () => {
    // Beats at 5 s and 10 s of an 11 s call with a 15 s heartbeat timeout.
    expect(await heartbeatsOfCall(11_000, 15_000)).toBe(2);
  });

  it('stops beating once the call is answered', async () => {
    // Beats at 1 s and 2 s of a 2.5 s call with a 3 s heartbeat timeout, none in the 10 s after.
    expect(await heartbeatsOfCall(2_500, 3_000, 10_000)).toBe(2);
  });
});
