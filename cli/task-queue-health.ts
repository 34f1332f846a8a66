import type { Client } from '@temporalio/client';
import type { DatasetBuildInput, ProblemSettings } from '../workflows/definitions.ts';
import { formatDuration } from './output.ts';
import { providerOfLlmTaskQueue } from '../workers/llm-queue.ts';
import { timestampMilliseconds } from './temporal.ts';

/** A task queue a build waits on, and the `scigen worker --queue` kind that serves it. */
export interface WatchedTaskQueue {
  kind: 'workflows' | 'llm' | 'render';
  name: string;
  /** The provider the llm queue's workers must be started with. */
  provider?: ProblemSettings['provider'];
}

/** A watched queue no worker has polled for a while. */
export interface SilentTaskQueue extends WatchedTaskQueue {
  /** How long no poll has been seen, at least. */
  silentForMs: number;
}

export interface TaskQueueHealthOptions {
  client: Client;
  namespace: string;
  queues: readonly WatchedTaskQueue[];
  /**
   * A queue counts as unserved once no worker has polled it for this long.
   * @default 60000
   */
  silentAfterMs?: number;
  /**
   * Since when the build has been waiting on these queues (its start): how long a queue that no
   * worker has polled at all, as far as the server remembers, has been unserved.
   */
  waitingSince: Date;
  /** @default new Date() */
  now?: Date;
}

/**
 * An idle worker sits in a long poll that the server answers empty after about a minute, and the
 * server records the poll when it arrives: a healthy worker's last poll can be this old.
 */
const LONG_POLL_MS = 70_000;

/** temporal.api.enums.v1.TaskQueueType: TASK_QUEUE_TYPE_WORKFLOW and TASK_QUEUE_TYPE_ACTIVITY. */
const WORKFLOW_TASK_QUEUE = 1;
const ACTIVITY_TASK_QUEUE = 2;

/**
 * The build's task queues that no worker has polled for `silentAfterMs` (DescribeTaskQueue's
 * pollers and their last access time). The workflows queue is judged by its workflow pollers,
 * the llm and render queues by their activity pollers.
 */
export async function findSilentTaskQueues(options: TaskQueueHealthOptions): Promise<SilentTaskQueue[]> {
  const silentAfterMs = options.silentAfterMs ?? 60_000;
  const now = (options.now ?? new Date()).getTime();
  const silent: SilentTaskQueue[] = [];
  for (const queue of options.queues) {
    const response = await options.client.workflowService.describeTaskQueue({
      namespace: options.namespace,
      taskQueue: { name: queue.name },
      taskQueueType: queue.kind === 'workflows' ? WORKFLOW_TASK_QUEUE : ACTIVITY_TASK_QUEUE,
    });
    const lastPoll = Math.max(
      0,
      ...(response.pollers ?? []).map((poller) => timestampMilliseconds(poller.lastAccessTime) ?? 0),
    );
    if (lastPoll > 0) {
      const sinceLastPoll = now - lastPoll;
      if (sinceLastPoll >= silentAfterMs + LONG_POLL_MS) silent.push({ ...queue, silentForMs: sinceLastPoll });
    } else {
      // The server forgets pollers a few minutes after their last poll; none means none lately.
      const waited = now - options.waitingSince.getTime();
      if (waited >= silentAfterMs) silent.push({ ...queue, silentForMs: waited });
    }
  }
  return silent;
}

/** The line `scigen status` and the progress display show for a silent queue. */
export function describeSilentTaskQueue(queue: SilentTaskQueue): string {
  const provider = queue.kind === 'llm' && queue.provider ? ` (SCIGEN_PROVIDER=${queue.provider})` : '';
  return (
    `warning: no worker has polled task queue "${queue.name}" for ${formatDuration(queue.silentForMs / 1000)}; ` +
    `start one with: scigen worker --queue ${queue.kind}${provider}`
  );
}

/** The queues a build's settings name, with the provider its llm workers need. */
export function watchedTaskQueues(settings: ProblemSettings): WatchedTaskQueue[] {
  const { workflows, llm, render } = settings.taskQueues;
  // Builds started before the provider was recorded: the llm queue is `<prefix>-llm-<provider>`.
  const provider = settings.provider ?? providerOfLlmTaskQueue(llm);
  return [
    { kind: 'workflows', name: workflows },
    { kind: 'llm', name: llm, ...(provider ? { provider } : {}) },
    { kind: 'render', name: render },
  ];
}

/**
 * The settings a running build was started with, from the first event of its current run (a run
 * continued as new carries them on): one history page of one event.
 */
export async function readBuildSettings(
  client: Client,
  namespace: string,
  workflowId: string,
): Promise<ProblemSettings | null> {
  const history = await client.workflowService.getWorkflowExecutionHistory({
    namespace,
    execution: { workflowId },
    maximumPageSize: 1,
  });
  const payload = history.history?.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0];
  if (!payload) return null;
  const input = client.options.loadedDataConverter.payloadConverter.fromPayload<DatasetBuildInput>(payload);
  return input.settings ?? null;
}

/**
 * The warning lines for a running build: its settings' queues that no worker has polled for
 * `silentAfterMs`. None when the build's settings cannot be read.
 */
export async function silentTaskQueueWarnings(options: {
  client: Client;
  namespace: string;
  workflowId: string;
  waitingSince: Date;
  silentAfterMs?: number;
}): Promise<string[]> {
  const settings = await readBuildSettings(options.client, options.namespace, options.workflowId);
  if (!settings) return [];
  const silent = await findSilentTaskQueues({
    client: options.client,
    namespace: options.namespace,
    queues: watchedTaskQueues(settings),
    waitingSince: options.waitingSince,
    ...(options.silentAfterMs === undefined ? {} : { silentAfterMs: options.silentAfterMs }),
  });
  return silent.map(describeSilentTaskQueue);
}
