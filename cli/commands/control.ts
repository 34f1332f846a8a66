import { WorkflowNotFoundError, type Client, type WorkflowHandle } from '@temporalio/client';
import { taskQueues } from '../../config/load.ts';
import type { Config } from '../../config/schema.ts';
import {
  PROBLEM_STAGES,
  buildWorkflowId,
  pauseSignal,
  progressQuery,
  resumeSignal,
  setWindowSizeUpdate,
  type BuildProgress,
} from '../../workflows/definitions.ts';
import { badInput } from '../errors.ts';
import { formatDuration, type Output } from '../output.ts';
import { silentTaskQueueWarnings } from '../task-queue-health.ts';
import { openTemporal, type TemporalSession } from '../temporal.ts';
import { describeBatches, queryBatches } from '../progress.ts';

/** Runs `action` against a build's workflow, with a clear error when there is no such build. */
async function withBuild<T>(
  buildId: string,
  config: Config,
  action: (handle: WorkflowHandle, temporal: TemporalSession) => Promise<T>,
): Promise<T> {
  const temporal = await openTemporal(config, { startServer: false, log: () => {} });
  try {
    const handle = temporal.client.workflow.getHandle(buildWorkflowId(buildId));
    await handle.describe().catch((error: unknown) => {
      if (error instanceof WorkflowNotFoundError)
        throw badInput(`no build ${buildId} on ${temporal.address} (namespace ${temporal.namespace})`);
      throw error;
    });
    return await action(handle, temporal);
  } finally {
    await temporal.close();
  }
}

/** How many of the build's problems are running, per stage, from the search attributes they keep current. */
export async function countStages(client: Client, buildId: string): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  await Promise.all(
    PROBLEM_STAGES.map(async (stage) => {
      const { count } = await client.workflow.count(
        `ScigenBuildId = '${buildId}' AND ExecutionStatus = 'Running' AND ScigenStage = '${stage}'`,
      );
      if (count > 0) counts[stage] = count;
    }),
  );
  return counts;
}

/** `scigen status <build-id>`: progress, per verdict and per stage, rate and ETA. */
export async function statusCommand(
  buildId: string,
  config: Config,
  options: { json: boolean },
  output: Output,
): Promise<void> {
  await withBuild(buildId, config, async (handle, temporal) => {
    const description = await handle.describe();
    const progress = await handle.query(progressQuery).catch(() => null);
    const running = description.status.name === 'RUNNING';
    const stages = running ? await countStages(temporal.client, buildId).catch(() => ({})) : {};
    // Work in flight (or a build that cannot even answer its query) waits on workers: name the missing ones.
    const warnings =
      running && (progress === null || progress.inFlight > 0)
        ? await silentTaskQueueWarnings({
            client: temporal.client,
            namespace: temporal.namespace,
            workflowId: handle.workflowId,
            waitingSince: description.startTime,
          }).catch(() => [])
        : [];
    const batches = progress ? await queryBatches(temporal.client.workflow, progress) : null;
    const status = {
      buildId,
      status: description.status.name,
      startTime: description.startTime,
      closeTime: description.closeTime ?? null,
      progress,
      batches,
      stages,
      warnings,
    };
    if (options.json) {
      output.json(status);
      return;
    }
    output.line(`build ${buildId}: ${status.status.toLowerCase()} (started ${description.startTime.toISOString()})`);
    for (const warning of warnings) output.line(warning);
    if (!progress) {
      output.line(`progress unavailable: no worker is polling ${taskQueues(config).workflows}`);
      return;
    }
    for (const line of describeProgress(progress, stages)) output.line(line);
    if (batches) output.line(describeBatches(batches));
  });
}

export function describeProgress(progress: BuildProgress, stages: Record<string, number> = {}): string[] {
  const verdicts = Object.entries(progress.counts)
    .map(([verdict, count]) => `${verdict} ${count}`)
    .join(', ');
  const lines = [
    `${progress.completed}/${progress.total} problems, ${progress.inFlight} in flight (window ${progress.windowSize}), ${progress.phase}${progress.pausedBy ? ` by ${progress.pausedBy}` : ''}`,
    verdicts,
  ];
  const stageText = Object.entries(stages)
    .map(([stage, count]) => `${stage} ${count}`)
    .join(', ');
  if (stageText) lines.push(`in flight by stage: ${stageText}`);
  const rate =
    progress.problemsPerMinute === null ? 'rate unknown yet' : `${progress.problemsPerMinute.toFixed(1)} problems/min`;
  const eta = progress.etaSeconds === null ? '' : `, ETA ${formatDuration(progress.etaSeconds)}`;
  lines.push(`${rate}${eta}`);
  const budget = progress.budgetUsd === null ? '' : ` of a $${progress.budgetUsd.toFixed(2)} budget`;
  lines.push(
    `tokens in ${progress.usage.input_tokens}, out ${progress.usage.output_tokens}, cost $${progress.usage.cost_usd.toFixed(4)}${budget}`,
  );
  return lines;
}

/** `scigen pause <build-id>`: no new problems start; those in flight finish. */
export async function pauseCommand(buildId: string, config: Config, output: Output): Promise<void> {
  await withBuild(buildId, config, async (handle) => {
    await handle.signal(pauseSignal);
    output.line(
      `build ${buildId}: pausing — problems in flight finish, no new ones start; \`scigen resume ${buildId}\` continues`,
    );
  });
}

/** `scigen resume <build-id> [--budget USD]`: starts new problems again, optionally with a higher budget. */
export async function resumeCommand(
  buildId: string,
  config: Config,
  options: { budgetUsd?: number },
  output: Output,
): Promise<void> {
  if (options.budgetUsd !== undefined && !(options.budgetUsd > 0))
    throw badInput('--budget must be a positive number of US dollars');
  await withBuild(buildId, config, async (handle) => {
    await handle.signal(resumeSignal, options.budgetUsd === undefined ? {} : { budgetUsd: options.budgetUsd });
    output.line(
      `build ${buildId}: resumed${options.budgetUsd === undefined ? '' : ` with a budget of $${options.budgetUsd.toFixed(2)}`}`,
    );
  });
}

/** `scigen cancel <build-id>`: cancels problems in flight and writes the manifest of what finished. */
export async function cancelCommand(buildId: string, config: Config, output: Output): Promise<void> {
  await withBuild(buildId, config, async (handle) => {
    await handle.cancel();
    output.line(
      `build ${buildId}: cancelling — problems in flight are cancelled, then the manifest of finished problems is written`,
    );
    output.line(`the same \`scigen build … --build-id ${buildId}\` later resumes it`);
  });
}

/** `scigen window <build-id> <size>`: changes the number of problems in flight, live. */
export async function windowCommand(buildId: string, size: number, config: Config, output: Output): Promise<void> {
  if (!Number.isInteger(size) || size < 1) throw badInput(`window size ${size}: expected a positive integer`);
  await withBuild(buildId, config, async (handle) => {
    const applied = await handle.executeUpdate(setWindowSizeUpdate, { args: [size] });
    output.line(`build ${buildId}: window size ${applied}`);
  });
}

export interface ListFilters {
  verdict?: string;
  subject?: string;
  imageType?: string;
  stage?: string;
  /** Extra visibility-query text, ANDed with the rest. */
  query?: string;
}

/** The visibility query that `scigen list` runs; also what users paste into `temporal workflow list --query`. */
export function problemListQuery(buildId: string, filters: ListFilters): string {
  const quote = (value: string) => `'${value.replace(/'/g, "\\'")}'`;
  const clauses = [`ScigenBuildId = ${quote(buildId)}`];
  if (filters.verdict) clauses.push(`ScigenVerdict = ${quote(filters.verdict)}`);
  if (filters.subject) clauses.push(`ScigenSubject = ${quote(filters.subject)}`);
  if (filters.imageType) clauses.push(`ScigenImageType = ${quote(filters.imageType)}`);
  if (filters.stage) clauses.push(`ScigenStage = ${quote(filters.stage)}`);
  if (filters.query) clauses.push(`(${filters.query})`);
  return clauses.join(' AND ');
}

/** `scigen list <build-id> [filters]`: the build's problem workflows matching the filters, from visibility. */
export async function listCommand(
  buildId: string,
  filters: ListFilters,
  config: Config,
  options: { json: boolean; limit: number },
  output: Output,
): Promise<void> {
  const temporal = await openTemporal(config, { startServer: false, log: () => {} });
  try {
    const query = problemListQuery(buildId, filters);
    const rows: Array<Record<string, unknown>> = [];
    for await (const execution of temporal.client.workflow.list({ query })) {
      const attributes = execution.typedSearchAttributes;
      const value = (name: string) => attributes.getAll().find((pair) => pair.key.name === name)?.value ?? null;
      rows.push({
        workflowId: execution.workflowId,
        problem: execution.workflowId.split('/problem/')[1] ?? execution.workflowId,
        status: execution.status.name,
        stage: value('ScigenStage'),
        verdict: value('ScigenVerdict'),
        subject: value('ScigenSubject'),
        imageType: value('ScigenImageType'),
        renderAttempts: value('ScigenRenderAttempts'),
        rInv: value('ScigenRInv'),
      });
      if (rows.length >= options.limit) break;
    }
    if (options.json) {
      output.json({ query, problems: rows });
      return;
    }
    output.line(`query: ${query}`);
    for (const row of rows) {
      const rInv = typeof row['rInv'] === 'number' ? ` R_inv ${(row['rInv'] as number).toFixed(2)}` : '';
      output.line(
        `${String(row['problem']).padEnd(32)} ${String(row['verdict'] ?? row['stage'] ?? row['status']).padEnd(9)} ${String(row['subject'] ?? '').padEnd(12)} ${String(row['imageType'] ?? '').padEnd(22)}${rInv}`,
      );
    }
    output.line(
      `${rows.length} problem${rows.length === 1 ? '' : 's'}${rows.length >= options.limit ? ` (limit ${options.limit}; --limit shows more)` : ''}`,
    );
  } finally {
    await temporal.close();
  }
}
