import { Context } from '@temporalio/activity';

/**
 * A long call reports that its worker is alive three times per heartbeat timeout, so a late beat or
 * two still arrives in time; without a timeout, heartbeats only carry cancellation, every 10 s.
 */
const BEATS_PER_HEARTBEAT_TIMEOUT = 3;
const HEARTBEAT_INTERVAL_WITHOUT_TIMEOUT_MILLISECONDS = 10_000;

function currentContext(): Context | undefined {
  try {
    return Context.current();
  } catch {
    // Outside an activity (a script or a unit test).
    return undefined;
  }
}

/** Records progress details on the running activity (and proves the worker alive); a no-op outside one. */
export function heartbeat(details?: unknown): void {
  currentContext()?.heartbeat(details);
}

/**
 * An INFO line through the activity's logger, which adds the workflow and activity ids
 * (SCIGEN_LOG_FORMAT=json makes them fields); a no-op outside an activity.
 */
export function logInfo(message: string, details: Record<string, unknown>): void {
  currentContext()?.log.info(message, details);
}

/** A WARN line through the activity's logger (console outside an activity). */
export function logWarning(message: string, details: Record<string, unknown>): void {
  const context = currentContext();
  if (context) context.log.warn(message, details);
  else console.warn(message, details);
}

/**
 * The longest a request inside the running activity may take: its start-to-close timeout less
 * `marginMs`; undefined outside an activity or without such a timeout. A model request given at
 * most this ends with its own clear reason (the server did not answer within …) instead of an
 * activity timeout that names nothing, even on a worker whose configured request timeout is longer
 * than the timeout the workflow gave the activity.
 */
export function activityRequestLimitMs(marginMs: number): number | undefined {
  const info = currentContext()?.info;
  if (!info || !(info.startToCloseTimeoutMs > 0)) return undefined;
  return Math.max(1_000, info.startToCloseTimeoutMs - marginMs);
}

/** The running activity's cancellation signal; undefined outside an activity. */
export function currentCancellationSignal(): AbortSignal | undefined {
  return currentContext()?.cancellationSignal;
}

/**
 * Heartbeats while `work` runs. A worker that dies mid-call then stops heartbeating, and Temporal
 * retries the activity elsewhere after the heartbeat timeout instead of the much longer
 * start-to-close timeout; heartbeats are also how a cancellation reaches the activity.
 */
export async function withHeartbeats<T>(work: Promise<T>): Promise<T> {
  const context = currentContext();
  if (!context) return work;
  // No heartbeat at the start: the SDK sends the first one at once, a server write per call that
  // tells it nothing (the activity just started, which the server's timeout already counts from);
  // a call shorter than the interval sends none. Each beat is a history-service write: with 4 s
  // model calls, a beat every 2 s cost one write per call (bench:pipeline (c)).
  const timer = setInterval(() => context.heartbeat(), heartbeatIntervalMs(context.info.heartbeatTimeoutMs));
  try {
    return await work;
  } finally {
    clearInterval(timer);
  }
}

/** How often `withHeartbeats` beats for an activity with this heartbeat timeout (ms; 0 or absent when it has none). */
export function heartbeatIntervalMs(heartbeatTimeoutMs: number | undefined): number {
  if (!heartbeatTimeoutMs) return HEARTBEAT_INTERVAL_WITHOUT_TIMEOUT_MILLISECONDS;
  return Math.max(100, Math.floor(heartbeatTimeoutMs / BEATS_PER_HEARTBEAT_TIMEOUT));
}
