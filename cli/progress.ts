import { setTimeout as sleep } from 'node:timers/promises';
import cliProgress from 'cli-progress';
import type { WorkflowClient, WorkflowHandle } from '@temporalio/client';
import { batchProgressQuery, progressQuery, type BatchProgress, type BuildProgress } from '../workflows/definitions.ts';
import { formatDuration, type Output } from './output.ts';

const POLL_INTERVAL_MILLISECONDS = 500;
/** Task queue health asks the server a few questions; once in a while is enough. */
const WARNING_INTERVAL_MILLISECONDS = 15_000;

/**
 * Shows a build's progress until its workflow closes: a live bar on a terminal, a line per change
 * otherwise (logs, CI). Reads the build's progress query, so it works for any build, anywhere.
 */
export async function followProgress(
  handle: WorkflowHandle,
  options: {
    enabled: boolean;
    output: Output;
    /** Lines to show while work is in flight, such as task queues no worker polls (cli/task-queue-health.ts). */
    warnings?: () => Promise<string[]>;
  },
): Promise<void> {
  const closed = handle.result().then(
    () => true,
    () => true,
  );
  let finished = false;
  void closed.then(() => {
    finished = true;
  });
  if (!options.enabled) {
    await closed;
    return;
  }

  const interactive = options.output.stream.isTTY === true;
  const bar = interactive
    ? new cliProgress.SingleBar(
        {
          stream: options.output.stream,
          format:
            '{bar} {value}/{total} problems | {verdicts} | {state} | {tokens} tokens, ${cost} | ETA {eta}{warning}',
          hideCursor: true,
          clearOnComplete: false,
          etaBuffer: 50,
        },
        cliProgress.Presets.shades_classic,
      )
    : null;
  let lastLine = '';
  const startedAt = Date.now();
  let warnings: string[] = [];
  let warningsCheckedAt = -Infinity;
  let lastWarnings = '';

  while (!finished) {
    const progress = await handle.query(progressQuery).catch(() => null);
    const batches = progress ? await queryBatches(handle.client, progress) : null;
    const waitingOnWorkers = progress === null || (progress.inFlight > 0 && progress.phase !== 'finished');
    if (options.warnings && Date.now() - warningsCheckedAt >= WARNING_INTERVAL_MILLISECONDS) {
      warningsCheckedAt = Date.now();
      warnings = waitingOnWorkers ? await options.warnings().catch(() => warnings) : [];
    }
    if (!bar && warnings.join('\n') !== lastWarnings) {
      for (const warning of warnings) options.output.line(warning);
      lastWarnings = warnings.join('\n');
    }
    if (progress) {
      const fields = {
        ...progressFields(progress),
        warning:
          (batches ? ` | ${describeBatches(batches)}` : '') + (warnings.length > 0 ? ` | ${warnings.join(' | ')}` : ''),
      };
      if (bar) {
        if (bar.getTotal() !== progress.total) bar.start(progress.total, progress.completed, fields);
        bar.update(progress.completed, fields);
      } else {
        // A line when the count or the state changes, not at every poll; it carries the rate, the
        // ETA and the cost so far, as the bar does on a terminal.
        const line =
          `progress: ${progress.completed}/${progress.total} problems | ${fields.verdicts} | ${fields.state}` +
          (batches ? ` | ${describeBatches(batches, false)}` : '');
        if (line !== lastLine) {
          const elapsed = Math.round((Date.now() - startedAt) / 1000);
          options.output.line(
            `${line} | ${fields.rate} | ETA ${fields.eta} | ${fields.tokens} tokens, $${fields.cost} | ${elapsed}s`,
          );
        }
        lastLine = line;
      }
    }
    await Promise.race([sleep(POLL_INTERVAL_MILLISECONDS), closed]);
  }
  if (bar) {
    const progress = await handle.query(progressQuery).catch(() => null);
    if (progress) bar.update(progress.completed, { ...progressFields(progress), warning: '' });
    bar.stop();
  }
}

function progressFields(progress: BuildProgress) {
  const verdicts = Object.entries(progress.counts)
    .filter(([, count]) => count > 0)
    .map(([verdict, count]) => `${verdict} ${count}`)
    .join(', ');
  const state =
    progress.phase === 'running'
      ? `in flight ${progress.inFlight}`
      : `${progress.phase}${progress.pausedBy ? ` by ${progress.pausedBy}` : ''}, in flight ${progress.inFlight}`;
  return {
    verdicts: verdicts || 'starting',
    state,
    eta: progress.etaSeconds === null ? '…' : formatDuration(progress.etaSeconds),
    rate: progress.problemsPerMinute === null ? 'rate …' : `${progress.problemsPerMinute.toFixed(1)} problems/min`,
    tokens: progress.usage.input_tokens + progress.usage.output_tokens,
    cost: progress.usage.cost_usd.toFixed(4),
  };
}

/** A batch-mode build's batches, from its batcher; null for a real-time build or a batcher that cannot answer. */
export async function queryBatches(client: WorkflowClient, progress: BuildProgress): Promise<BatchProgress | null> {
  if (!progress.batcherWorkflowId) return null;
  return client
    .getHandle(progress.batcherWorkflowId)
    .query(batchProgressQuery)
    .catch(() => null);
}

/** "batches 3 submitted, 1 in progress, 2 done; 120 requests waiting; expected by 14:05 UTC". */
export function describeBatches(batches: BatchProgress, withExpected = true): string {
  const parts = [
    `batches ${batches.submitted} submitted, ${batches.inProgress} in progress, ${batches.done} done`,
    `${batches.requestsInProgress} requests in batches, ${batches.waiting} waiting${batches.paused ? ' (paused)' : ''}`,
  ];
  if (withExpected && batches.expectedFinishMs !== null)
    parts.push(`expected by ${new Date(batches.expectedFinishMs).toISOString().slice(0, 16).replace('T', ' ')} UTC`);
  return parts.join('; ');
}
