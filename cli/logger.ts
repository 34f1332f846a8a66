import type { LogLevel, LogMetadata, Logger } from '@temporalio/common';

const LEVELS: LogLevel[] = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR'];

export type LogFormat = 'text' | 'json';

/**
 * The SDK's log lines (workers, workflows, activities), one per event, on stderr.
 * `text`: `warn: planDiagram: activity failed (attempt 1): openai unavailable (503) [build/x/problem/y]`,
 * readable next to the progress bar. `json`: one object per line with the build, problem,
 * workflow and activity ids, for log pipelines.
 */
export function createConsoleLogger(minimum: LogLevel = 'WARN', format: LogFormat = 'text'): Logger {
  const threshold = LEVELS.indexOf(minimum);
  const log = (level: LogLevel, message: string, meta?: LogMetadata) => {
    if (LEVELS.indexOf(level) < threshold) return;
    // Normal for single-queue workers (llm, render), which register no workflows by design.
    if (message.startsWith('No workflows registered')) return;
    if (format === 'json') {
      process.stderr.write(`${JSON.stringify(structuredRecord(level, message, meta))}\n`);
      return;
    }
    // On a terminal, clear the progress bar's line first; the bar redraws itself below.
    const clearLine = process.stderr.isTTY ? '\r\x1b[2K' : '';
    process.stderr.write(`${clearLine}${level.toLowerCase()}: ${describe(message, meta)}\n`);
  };
  return {
    log,
    trace: (message, meta) => log('TRACE', message, meta),
    debug: (message, meta) => log('DEBUG', message, meta),
    info: (message, meta) => log('INFO', message, meta),
    warn: (message, meta) => log('WARN', message, meta),
    error: (message, meta) => log('ERROR', message, meta),
  };
}

/** A JSON log record: the SDK's metadata (workflowId, runId, activityId, activityType, taskQueue, …) plus build and problem ids. */
export function structuredRecord(
  level: LogLevel,
  message: string,
  meta: LogMetadata | undefined,
): Record<string, unknown> {
  const record: Record<string, unknown> = { time: new Date().toISOString(), level: level.toLowerCase(), message };
  for (const [key, value] of Object.entries(meta ?? {})) {
    record[key] = value instanceof Error ? { name: value.name, message: value.message } : value;
  }
  const workflowId = typeof meta?.['workflowId'] === 'string' ? meta['workflowId'] : undefined;
  const ids = workflowId ? /^build\/([^/]+)(?:\/problem\/(.+))?$/.exec(workflowId) : null;
  if (ids) {
    record['buildId'] = ids[1];
    if (ids[2]) record['problemKey'] = ids[2];
  }
  return record;
}

function describe(message: string, meta: LogMetadata | undefined): string {
  if (!meta) return message;
  const error = meta['error'];
  const activityType = meta['activityType'];
  const workflowId = meta['workflowId'];
  const attempt = meta['attempt'];
  const subject = typeof activityType === 'string' ? `${activityType}: ${message.toLowerCase()}` : message;
  const attemptText = typeof attempt === 'number' ? ` (attempt ${attempt})` : '';
  const reason = error instanceof Error ? `: ${error.message}` : '';
  const where =
    typeof workflowId === 'string'
      ? ` [${workflowId}]`
      : typeof meta['taskQueue'] === 'string'
        ? ` [${String(meta['taskQueue'])}]`
        : '';
  return `${subject}${attemptText}${reason}${where}`;
}

/** `SCIGEN_LOG_LEVEL` (trace|debug|info|warn|error); anything else means warn. */
export function logLevelFromEnvironment(value: string | undefined): LogLevel {
  const level = value?.toUpperCase() as LogLevel | undefined;
  return level && LEVELS.includes(level) ? level : 'WARN';
}

/** `SCIGEN_LOG_FORMAT` (text|json). */
export function logFormatFromEnvironment(value: string | undefined): LogFormat {
  return value?.toLowerCase() === 'json' ? 'json' : 'text';
}
