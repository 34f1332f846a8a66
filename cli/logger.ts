import type { LogLevel, LogMetadata, Logger } from '@temporalio/common';

const LEVELS: LogLevel[] = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR'];

/**
 * The SDK's log lines, one per event, on stderr: an activity retry reads
 * `warn: planDiagram failed (attempt 1, retrying): openai unavailable (503) [build/x/problem/y]`
 * instead of a multi-screen object dump that would bury the progress bar.
 */
export function createConsoleLogger(minimum: LogLevel = 'WARN'): Logger {
  const threshold = LEVELS.indexOf(minimum);
  const log = (level: LogLevel, message: string, meta?: LogMetadata) => {
    if (LEVELS.indexOf(level) < threshold) return;
    // Normal for single-queue workers (llm, render), which register no workflows by design.
    if (message.startsWith('No workflows registered')) return;
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

function describe(message: string, meta: LogMetadata | undefined): string {
  if (!meta) return message;
  const error = meta['error'];
  const activityType = meta['activityType'];
  const workflowId = meta['workflowId'];
  const attempt = meta['attempt'];
  const subject = typeof activityType === 'string' ? `${activityType}: ${message.toLowerCase()}` : message;
  const attemptText = typeof attempt === 'number' ? ` (attempt ${attempt})` : '';
  const reason = error instanceof Error ? `: ${error.message}` : '';
  const where = typeof workflowId === 'string' ? ` [${workflowId}]` : typeof meta['taskQueue'] === 'string' ? ` [${String(meta['taskQueue'])}]` : '';
  return `${subject}${attemptText}${reason}${where}`;
}

/** `SCIGEN_LOG_LEVEL` (trace|debug|info|warn|error); anything else means warn. */
export function logLevelFromEnvironment(value: string | undefined): LogLevel {
  const level = value?.toUpperCase() as LogLevel | undefined;
  return level && LEVELS.includes(level) ? level : 'WARN';
}
