/**
 * Human-readable lines. With `--json`, stdout is kept for the summary JSON, so people-facing lines
 * go to stderr.
 */
export interface Output {
  line(text: string): void;
  json(value: unknown): void;
  readonly stream: NodeJS.WriteStream;
}

export function createOutput(options: { json: boolean }): Output {
  const stream = options.json ? process.stderr : process.stdout;
  return {
    stream,
    line(text) {
      stream.write(`${text}\n`);
    },
    json(value) {
      process.stdout.write(`${JSON.stringify(value)}\n`);
    },
  };
}

/** 45s, 12m, 3.5h: an ETA at the precision people read it. */
export function formatDuration(seconds: number): string {
  if (seconds < 90) return `${Math.round(seconds)}s`;
  if (seconds < 5400) return `${Math.round(seconds / 60)}m`;
  return `${(seconds / 3600).toFixed(1)}h`;
}
