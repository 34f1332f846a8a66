/**
 * Where a problem's time goes, read from workflow histories: how long workflow tasks and each
 * activity type waited in their task queue (scheduled -> started) and ran (started -> completed).
 * Long waits point at a starved worker or server; long runs at the work itself.
 */
import type { Client } from '@temporalio/client';
import type { temporal } from '@temporalio/proto';
import type { CpuShares } from './pipeline-harness.ts';

export interface Timing {
  count: number;
  meanQueueMs: number;
  meanRunMs: number;
}

export type HistoryProfile = Record<string, Timing>;

function millis(time: temporal.api.history.v1.IHistoryEvent['eventTime']): number {
  if (!time) return 0;
  return Number(time.seconds ?? 0) * 1000 + Math.round((time.nanos ?? 0) / 1e6);
}

export async function profileHistories(client: Client, workflowIds: readonly string[]): Promise<HistoryProfile> {
  const sums = new Map<string, { count: number; queue: number; run: number }>();
  const add = (name: string, queue: number, run: number) => {
    const entry = sums.get(name) ?? { count: 0, queue: 0, run: 0 };
    entry.count++;
    entry.queue += queue;
    entry.run += run;
    sums.set(name, entry);
  };
  for (const workflowId of workflowIds) {
    const history = await client.workflow.getHandle(workflowId).fetchHistory();
    const scheduled = new Map<string, { name: string; at: number }>();
    const started = new Map<string, number>();
    for (const event of history.events ?? []) {
      const id = String(event.eventId);
      const at = millis(event.eventTime);
      if (event.workflowTaskScheduledEventAttributes) scheduled.set(id, { name: 'workflow task', at });
      if (event.activityTaskScheduledEventAttributes)
        scheduled.set(id, { name: event.activityTaskScheduledEventAttributes.activityType?.name ?? '?', at });
      const start = event.workflowTaskStartedEventAttributes ?? event.activityTaskStartedEventAttributes;
      if (start) started.set(String(start.scheduledEventId), at);
      const done = event.workflowTaskCompletedEventAttributes ?? event.activityTaskCompletedEventAttributes;
      if (done) {
        const key = String(done.scheduledEventId);
        const task = scheduled.get(key);
        const startedAt = started.get(key);
        if (task && startedAt !== undefined) add(task.name, startedAt - task.at, at - startedAt);
      }
    }
  }
  return Object.fromEntries(
    [...sums.entries()].map(([name, entry]) => [
      name,
      { count: entry.count, meanQueueMs: entry.queue / entry.count, meanRunMs: entry.run / entry.count },
    ]),
  );
}

export function formatProfile(profile: HistoryProfile): string {
  return Object.entries(profile)
    .sort(([, left], [, right]) => right.meanQueueMs + right.meanRunMs - (left.meanQueueMs + left.meanRunMs))
    .map(
      ([name, timing]) =>
        `  ${name.padEnd(22)} ${String(timing.count).padStart(6)}×  waited ${timing.meanQueueMs.toFixed(0).padStart(6)} ms  ran ${timing.meanRunMs.toFixed(0).padStart(6)} ms`,
    )
    .join('\n');
}

/** "server 120 ms, workers 90 ms, …": CPU per problem by process, from the harness's /proc readings. */
export function formatCpu(shares: CpuShares): string {
  return (
    `  CPU per problem: Temporal server ${shares.temporalServer.toFixed(0)} ms, workers (scigen build) ${shares.workers.toFixed(0)} ms, ` +
    `renders and the rest ${shares.rendersAndOther.toFixed(0)} ms, scripted endpoint ${shares.harness.toFixed(0)} ms; all ${shares.total.toFixed(0)} ms`
  );
}
