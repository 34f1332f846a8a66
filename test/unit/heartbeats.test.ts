import { MockActivityEnvironment } from '@temporalio/testing';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { heartbeatIntervalMs, withHeartbeats } from '../../activities/activity-context.ts';

afterEach(() => {
  vi.useRealTimers();
});

/** Runs `withHeartbeats` around a call of `callMs` in a mock activity; the heartbeats it sent. */
async function heartbeatsOfCall(callMs: number, heartbeatTimeoutMs: number | undefined): Promise<number> {
  vi.useFakeTimers();
  const activity = new MockActivityEnvironment(heartbeatTimeoutMs === undefined ? {} : { heartbeatTimeoutMs });
  let beats = 0;
  activity.on('heartbeat', () => beats++);
  const call = new Promise<string>((resolve) => setTimeout(() => resolve('answer'), callMs));
  const running = activity.run(() => withHeartbeats(call));
  await vi.advanceTimersByTimeAsync(callMs);
  expect(await running).toBe('answer');
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
    vi.useFakeTimers();
    const activity = new MockActivityEnvironment({ heartbeatTimeoutMs: 3_000 });
    let beats = 0;
    activity.on('heartbeat', () => beats++);
    const call = new Promise<void>((resolve) => setTimeout(resolve, 2_500));
    const running = activity.run(() => withHeartbeats(call));
    await vi.advanceTimersByTimeAsync(2_500);
    await running;
    await vi.advanceTimersByTimeAsync(10_000);
    expect(beats).toBe(2);
  });
});
