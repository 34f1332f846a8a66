import { isGrpcServiceError, WorkflowNotFoundError } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import { optionalTsToMs } from '@temporalio/common/lib/time.js';
import type { temporal } from '@temporalio/proto';
import type { Config } from '../../config/schema.ts';
import { problemKey } from '../../domain/input.ts';
import { manifestLine, type ManifestRecord } from '../../domain/manifest.ts';
import type { ProblemRecord } from '../../domain/problem-result.ts';
import { ArtifactNotFoundError } from '../../storage/artifact-store.ts';
import { isBuildArtifactKey, problemFolder, problemRecordKey } from '../../storage/build-layout.ts';
import { describeScores } from '../../domain/types.ts';
import { createStore } from '../../workers/runtime.ts';
import { problemWorkflowId, STEP_OF_MODEL_ACTIVITY } from '../../workflows/definitions.ts';
import { badInput } from '../errors.ts';
import type { Output } from '../output.ts';
import { openTemporal, timestampMilliseconds, type TemporalSession } from '../temporal.ts';

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

/** The step name `inspect` shows for each activity of a problem's history. */
const STEP_OF_ACTIVITY: Record<string, string> = {
  ...STEP_OF_MODEL_ACTIVITY,
  stageProblem: 'stage',
  renderDiagram: 'render',
  // Histories from before all of an image's quizzes were answered in one activity.
  answerQuiz: 'answer',
  compareWithReference: 'compare',
  recordProblemResult: 'record',
};

/** One activity call of a problem, as its history tells it. */
export interface InspectedStep {
  step: string;
  activity: string;
  summary: string | null;
  attempts: number;
  status: 'completed' | 'failed' | 'timed out' | 'cancelled' | 'running' | 'scheduled';
  scheduledAt: string | null;
  durationSeconds: number | null;
  /** The model's answer was unusable, the render failed, or the activity failed: in words. */
  problem: string | null;
  /** Failure of the attempt before the last, when there were retries. */
  previousAttemptFailure: string | null;
  artifacts: string[];
}

export interface Inspection {
  buildId: string;
  problemId: string;
  workflowId: string;
  status: string;
  steps: InspectedStep[];
  record: ManifestRecord | null;
  /**
   * Set when the server no longer has the problem's history (its namespace's retention passed):
   * then `steps` is empty and `record` and `storedArtifacts` are all there is.
   */
  historyGone: { retentionDays: number | null } | null;
  /** The problem's stored artifacts, listed when its history is gone (the steps name them otherwise). */
  storedArtifacts: string[];
  /**
   * The Worker Deployment Versions (`deployment:buildId`) whose workers ran the problem's workflow
   * tasks, in order: one for a pinned problem; empty when its workers were unversioned.
   */
  deploymentVersions: string[];
}

/** `scigen inspect <build> <problem>`: the problem's steps, attempts, durations, failures and artifacts. */
export async function inspectCommand(
  buildId: string,
  problemId: string,
  config: Config,
  options: { json: boolean },
  output: Output,
): Promise<void> {
  const store = createStore(config);
  const temporalSession = await openTemporal(config, { startServer: false, log: () => {} });
  let inspection: Inspection;
  try {
    const key = problemKey(problemId);
    const workflowId = problemWorkflowId(buildId, key);
    const handle = temporalSession.client.workflow.getHandle(workflowId);
    const uri = (artifactKey: string) => store.uri(artifactKey);
    const fromHistory = await (async () => {
      const description = await handle.describe();
      const history = await handle.fetchHistory();
      const events = history.events ?? [];
      return {
        status: description.status.name,
        steps: stepsFromHistory(events, uri),
        deploymentVersions: deploymentVersionsFromHistory(events),
      };
    })().catch((error: unknown) => {
      if (isWorkflowGone(error)) return null;
      throw error;
    });
    const record = await readRecord(store, buildId, key);
    if (fromHistory === null && record === null)
      throw badInput(`no problem ${JSON.stringify(problemId)} in build ${buildId} (workflow ${workflowId} not found)`);
    inspection = {
      buildId,
      problemId,
      workflowId,
      status: fromHistory?.status ?? 'UNKNOWN',
      steps: fromHistory?.steps ?? [],
      record,
      historyGone: fromHistory === null ? { retentionDays: await retentionDays(temporalSession, config) } : null,
      storedArtifacts:
        fromHistory === null ? (await store.list(problemFolder({ buildId, problemKey: key }))).sort().map(uri) : [],
      deploymentVersions: fromHistory?.deploymentVersions ?? [],
    };
  } finally {
    await temporalSession.close();
  }
  if (options.json) {
    output.json(inspection);
    return;
  }
  for (const line of describeInspection(inspection)) output.line(line);
}

/** The server has no such workflow: never started, or deleted once its retention passed. */
function isWorkflowGone(error: unknown): boolean {
  // describe() throws WorkflowNotFoundError; fetchHistory() a plain gRPC NOT_FOUND.
  return error instanceof WorkflowNotFoundError || (isGrpcServiceError(error) && error.code === grpcNotFound);
}

const grpcNotFound = 5;

/** How long the namespace keeps closed workflows, as the server says, else as configured for the embedded server. */
async function retentionDays(session: TemporalSession, config: Config): Promise<number | null> {
  try {
    const description = await session.client.workflowService.describeNamespace({ namespace: session.namespace });
    const milliseconds = optionalTsToMs(description.config?.workflowExecutionRetentionTtl);
    if (milliseconds !== undefined) return milliseconds / (24 * 60 * 60 * 1000);
  } catch {
    // Not allowed to describe the namespace (a cloud key may lack the permission): say what we know.
  }
  return session.embedded ? config.temporal.retentionDays : null;
}

async function readRecord(
  store: ReturnType<typeof createStore>,
  buildId: string,
  key: string,
): Promise<ManifestRecord | null> {
  try {
    const record = JSON.parse(await store.getText(problemRecordKey(buildId, key))) as ProblemRecord | ManifestRecord;
    return manifestLine(record, (artifactKey) => store.uri(artifactKey));
  } catch (error) {
    if (error instanceof ArtifactNotFoundError) return null;
    throw error;
  }
}

export function stepsFromHistory(events: HistoryEvent[], uri: (key: string) => string): InspectedStep[] {
  const steps = new Map<string, InspectedStep & { startedAtMs: number | null; scheduledAtMs: number | null }>();
  for (const event of events) {
    const at = timestampMilliseconds(event.eventTime);
    const scheduled = event.activityTaskScheduledEventAttributes;
    if (scheduled) {
      const activity = scheduled.activityType?.name ?? 'unknown';
      steps.set(String(event.eventId), {
        step: STEP_OF_ACTIVITY[activity] ?? activity,
        activity,
        summary: decodeSummary(event),
        attempts: 0,
        status: 'scheduled',
        scheduledAt: at === null ? null : new Date(at).toISOString(),
        scheduledAtMs: at,
        startedAtMs: null,
        durationSeconds: null,
        problem: null,
        previousAttemptFailure: null,
        artifacts: [],
      });
      continue;
    }
    const marker = event.markerRecordedEventAttributes;
    if (marker?.markerName === LOCAL_ACTIVITY_MARKER) {
      const step = localActivityStep(marker, event, at, uri);
      if (step) steps.set(String(event.eventId), step);
      continue;
    }
    const started = event.activityTaskStartedEventAttributes;
    if (started) {
      const step = steps.get(String(started.scheduledEventId));
      if (step) {
        step.attempts = started.attempt ?? 1;
        step.status = 'running';
        step.startedAtMs = at;
        step.previousAttemptFailure = started.lastFailure?.message ?? null;
      }
      continue;
    }
    const closing =
      event.activityTaskCompletedEventAttributes ??
      event.activityTaskFailedEventAttributes ??
      event.activityTaskTimedOutEventAttributes ??
      event.activityTaskCanceledEventAttributes;
    if (!closing) continue;
    const step = steps.get(String(closing.scheduledEventId));
    if (!step) continue;
    const from = step.scheduledAtMs;
    step.durationSeconds = from !== null && at !== null ? (at - from) / 1000 : null;
    if (event.activityTaskCompletedEventAttributes) {
      step.status = 'completed';
      const result = decodePayload(event.activityTaskCompletedEventAttributes.result?.payloads?.[0]);
      step.problem = outcomeProblem(result);
      step.artifacts = artifactKeys(result).map(uri);
    } else if (event.activityTaskFailedEventAttributes) {
      step.status = 'failed';
      step.problem = event.activityTaskFailedEventAttributes.failure?.message ?? 'failed';
    } else if (event.activityTaskTimedOutEventAttributes) {
      step.status = 'timed out';
      step.problem = event.activityTaskTimedOutEventAttributes.failure?.message ?? 'timed out';
    } else {
      step.status = 'cancelled';
    }
  }
  return [...steps.values()].map(({ startedAtMs: _started, scheduledAtMs: _scheduled, ...step }) => step);
}

/** The deployment versions that completed the history's workflow tasks, each once, in the order they first did. */
export function deploymentVersionsFromHistory(events: HistoryEvent[]): string[] {
  const versions: string[] = [];
  for (const event of events) {
    const completed = event.workflowTaskCompletedEventAttributes;
    if (!completed) continue;
    const version = completed.deploymentVersion;
    const described = version?.buildId
      ? `${version.deploymentName}:${version.buildId}`
      : completed.workerDeploymentVersion || null;
    if (described && !versions.includes(described)) versions.push(described);
  }
  return versions;
}

/** Local activities (writing the record) leave one marker in the history instead of scheduled/started/closed events. */
const LOCAL_ACTIVITY_MARKER = 'core_local_activity';

function localActivityStep(
  marker: temporal.api.history.v1.IMarkerRecordedEventAttributes,
  event: HistoryEvent,
  at: number | null,
  uri: (key: string) => string,
): (InspectedStep & { startedAtMs: number | null; scheduledAtMs: number | null }) | null {
  const data = decodePayload(marker.details?.['data']?.payloads?.[0]) as {
    activity_type?: string;
    attempt?: number;
    original_schedule_time?: unknown;
  } | null;
  if (!data?.activity_type) return null;
  const activity = data.activity_type;
  const scheduledAtMs = scheduleTimeMilliseconds(data.original_schedule_time);
  const shownAtMs = scheduledAtMs ?? at;
  const failed = marker.failure ?? null;
  const result = failed ? null : decodePayload(marker.details?.['result']?.payloads?.[0]);
  return {
    step: STEP_OF_ACTIVITY[activity] ?? activity,
    activity,
    summary: decodeSummary(event),
    attempts: data.attempt ?? 1,
    status: failed ? 'failed' : 'completed',
    scheduledAt: shownAtMs === null ? null : new Date(shownAtMs).toISOString(),
    scheduledAtMs,
    startedAtMs: null,
    durationSeconds: scheduledAtMs !== null && at !== null ? Math.max(0, at - scheduledAtMs) / 1000 : null,
    problem: failed ? (failed.message ?? 'failed') : outcomeProblem(result),
    previousAttemptFailure: null,
    artifacts: artifactKeys(result).map(uri),
  };
}

/** The marker's schedule time, as core writes it: an RFC 3339 string or { seconds, nanos }. */
function scheduleTimeMilliseconds(value: unknown): number | null {
  if (typeof value === 'string') {
    const parsed = Date.parse(value);
    return Number.isNaN(parsed) ? null : parsed;
  }
  if (typeof value === 'object' && value !== null && 'seconds' in value)
    return timestampMilliseconds(value as HistoryEvent['eventTime']);
  return null;
}

export function describeInspection(inspection: Inspection): string[] {
  const record = inspection.record;
  const verdict = record
    ? `${record.verdict}${record.reasons.length ? ` (${record.reasons.join('; ')})` : ''}`
    : 'no verdict yet';
  const gone = inspection.historyGone;
  const lines = [
    `problem ${inspection.problemId} of build ${inspection.buildId}: ${verdict}`,
    gone
      ? `workflow ${inspection.workflowId} — history no longer on the server (retention ${
          gone.retentionDays === null ? 'unknown' : `${gone.retentionDays} days`
        }); showing the stored record`
      : `workflow ${inspection.workflowId} — ${inspection.status.toLowerCase()}`,
  ];
  if (inspection.deploymentVersions.length > 0)
    lines.push(`ran on worker deployment version ${inspection.deploymentVersions.join(', then ')}`);
  lines.push('');
  inspection.steps.forEach((step, index) => {
    const attempts =
      step.attempts > 1 ? `${step.attempts} attempts` : step.attempts === 1 ? '1 attempt' : 'not started';
    const duration = step.durationSeconds === null ? '' : `${step.durationSeconds.toFixed(2)} s`;
    const outcome = step.problem ? `${step.status}: ${step.problem}` : step.status;
    lines.push(
      `${String(index + 1).padStart(3)}. ${step.step.padEnd(8)} ${attempts.padEnd(11)} ${duration.padStart(8)}  ${outcome}`,
    );
    if (step.summary) lines.push(`       ${step.summary}`);
    if (step.previousAttemptFailure) lines.push(`       earlier attempt failed: ${step.previousAttemptFailure}`);
    for (const artifact of step.artifacts) lines.push(`       ${artifact}`);
  });
  if (record) {
    lines.push('');
    if (record.judge) lines.push(`judge: ${describeScores(record.judge)}`);
    if (record.r_inv !== null) lines.push(`R_inv: ${record.r_inv.toFixed(2)}`);
    lines.push(`render attempts: ${record.render_attempts}`);
    lines.push(
      `tokens in ${record.usage.input_tokens}, out ${record.usage.output_tokens}, cost $${record.usage.cost_usd.toFixed(4)}`,
    );
    for (const [name, value] of [
      ['image', record.image],
      ['code', record.code],
      ['plan', record.plan],
    ] as const) {
      if (value) lines.push(`${name}: ${value}`);
    }
  }
  if (inspection.storedArtifacts.length > 0) {
    lines.push('', 'stored artifacts:');
    for (const artifact of inspection.storedArtifacts) lines.push(`  ${artifact}`);
  }
  return lines;
}

function decodePayload(payload: temporal.api.common.v1.IPayload | null | undefined): unknown {
  if (!payload) return null;
  try {
    return defaultPayloadConverter.fromPayload(payload);
  } catch {
    return null;
  }
}

function decodeSummary(event: HistoryEvent): string | null {
  const summary = decodePayload(event.userMetadata?.summary);
  return typeof summary === 'string' ? summary : null;
}

/** Why a completed activity's result is not a success: an unusable model answer or a failed render. */
function outcomeProblem(result: unknown): string | null {
  if (typeof result !== 'object' || result === null || !('ok' in result) || result.ok !== false) return null;
  const { reason, kind, message } = result as { reason?: string; kind?: string; message?: string };
  if (reason) return `unusable answer: ${reason}`;
  return `${kind ?? 'error'}: ${(message ?? '').split('\n').filter(Boolean).at(-1) ?? ''}`;
}

/** Artifact keys an activity returned (`planKey`, `codeKey`, `imageKey`, `figureKeys`, …), wherever they sit. */
function artifactKeys(result: unknown): string[] {
  const keys: string[] = [];
  const visit = (value: unknown, name: string) => {
    if (typeof value === 'string' && /Keys?$/.test(name) && isBuildArtifactKey(value)) keys.push(value);
    else if (Array.isArray(value)) for (const item of value) visit(item, name);
    else if (typeof value === 'object' && value !== null)
      for (const [key, inner] of Object.entries(value)) visit(inner, key);
  };
  visit(result, '');
  return [...new Set(keys)];
}
