import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { configSchema, type Config } from './schema.ts';

/** A configuration value that cannot be used; the message names the field, its source and the reason. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

type Source = { label: string; values: Record<string, unknown> };

/** Environment variables that override defaults (a config file or an explicit value wins over them). */
const ENVIRONMENT_OVERRIDES: Array<{ variable: string; path: string; kind: 'string' | 'number' }> = [
  { variable: 'SCIGEN_PROVIDER', path: 'provider', kind: 'string' },
  { variable: 'OPENAI_BASE_URL', path: 'openai.baseUrl', kind: 'string' },
  { variable: 'SCIGEN_GEMINI_BASE_URL', path: 'gemini.baseUrl', kind: 'string' },
  { variable: 'SCIGEN_SCRIPTED_RESPONSES', path: 'scripted.responses', kind: 'string' },
  { variable: 'TEMPORAL_ADDRESS', path: 'temporal.address', kind: 'string' },
  { variable: 'TEMPORAL_NAMESPACE', path: 'temporal.namespace', kind: 'string' },
  { variable: 'SCIGEN_TASK_QUEUE_PREFIX', path: 'temporal.taskQueuePrefix', kind: 'string' },
  { variable: 'SCIGEN_TEMPORAL_PORT', path: 'temporal.devServer.port', kind: 'number' },
  { variable: 'SCIGEN_TEMPORAL_UI_PORT', path: 'temporal.devServer.uiPort', kind: 'number' },
  { variable: 'SCIGEN_STATE_DIR', path: 'stateDirectory', kind: 'string' },
  { variable: 'SCIGEN_ARTIFACTS', path: 'artifacts', kind: 'string' },
  { variable: 'SCIGEN_PYTHON', path: 'render.python', kind: 'string' },
  { variable: 'SCIGEN_RENDER_SLOTS', path: 'render.slots', kind: 'number' },
  { variable: 'SCIGEN_WINDOW_SIZE', path: 'build.windowSize', kind: 'number' },
  { variable: 'SCIGEN_BUDGET_USD', path: 'build.budgetUsd', kind: 'number' },
];

export interface LoadConfigOptions {
  /** A JSON config file (`--config FILE`). */
  file?: string;
  /** Values given on the command line or by a caller; they win over everything. */
  explicit?: Record<string, unknown>;
  environment?: NodeJS.ProcessEnv;
  /** Relative paths in the config are resolved against this. @default process.cwd() */
  baseDirectory?: string;
}

export function loadConfig(options: LoadConfigOptions = {}): Config {
  const environment = options.environment ?? process.env;
  const baseDirectory = options.baseDirectory ?? process.cwd();
  const sources: Source[] = [{ label: 'environment', values: environmentValues(environment) }];
  if (options.file) sources.push({ label: options.file, values: readConfigFile(options.file) });
  if (options.explicit) sources.push({ label: 'command line', values: options.explicit });

  const merged = sources.reduce<Record<string, unknown>>((result, source) => deepMerge(result, source.values), {});
  const parsed = configSchema.safeParse(merged);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => {
      const path = issue.path.join('.') || '(root)';
      return `  ${path}${describeSource(sources, issue.path, environment)}: ${issue.message}`;
    });
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
  }
  return resolvePaths(parsed.data, baseDirectory);
}

function resolvePaths(config: Config, baseDirectory: string): Config {
  const stateDirectory = resolve(baseDirectory, config.stateDirectory);
  let artifacts = config.artifacts ?? pathToFileURL(resolve(stateDirectory, 'artifacts')).href;
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(artifacts)) artifacts = pathToFileURL(resolve(baseDirectory, artifacts)).href;
  return {
    ...config,
    stateDirectory,
    artifacts,
    scripted: { responses: resolve(baseDirectory, config.scripted.responses) },
  };
}

function readConfigFile(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConfigError(`cannot read config file ${file}: ${(error as Error).message}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(`config file ${file} is not valid JSON: ${(error as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ConfigError(`config file ${file} must hold a JSON object`);
  }
  return value as Record<string, unknown>;
}

function environmentValues(environment: NodeJS.ProcessEnv): Record<string, unknown> {
  let values: Record<string, unknown> = {};
  for (const { variable, path, kind } of ENVIRONMENT_OVERRIDES) {
    const raw = environment[variable];
    if (raw === undefined || raw === '') continue;
    // A non-numeric string is passed through so the schema reports it with the field's path.
    const value = kind === 'number' && raw.trim() !== '' && Number.isFinite(Number(raw)) ? Number(raw) : raw;
    values = deepMerge(values, nest(path.split('.'), value));
  }
  return values;
}

function describeSource(sources: Source[], path: PropertyKey[], environment: NodeJS.ProcessEnv): string {
  for (const source of [...sources].reverse()) {
    if (lookup(source.values, path) === undefined) continue;
    if (source.label !== 'environment') return ` (from ${source.label})`;
    const override = ENVIRONMENT_OVERRIDES.find((entry) => entry.path === path.join('.'));
    return override && environment[override.variable] !== undefined
      ? ` (from env ${override.variable})`
      : ' (from environment)';
  }
  return '';
}

function lookup(values: unknown, path: PropertyKey[]): unknown {
  let current = values;
  for (const key of path) {
    if (typeof current !== 'object' || current === null) return undefined;
    current = (current as Record<PropertyKey, unknown>)[key];
  }
  return current;
}

function nest(path: string[], value: unknown): Record<string, unknown> {
  const [head, ...rest] = path;
  if (head === undefined) return {};
  return { [head]: rest.length === 0 ? value : nest(rest, value) };
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function deepMerge(base: Record<string, unknown>, override: Record<string, unknown>): Record<string, unknown> {
  const result: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(override)) {
    const existing = result[key];
    result[key] = isPlainObject(existing) && isPlainObject(value) ? deepMerge(existing, value) : value;
  }
  return result;
}

/**
 * The workflows and render task queues, named from the configured prefix. Model calls go to one
 * queue per provider (workers/llm-queue.ts), so that a provider's rate limit is one queue's.
 */
export function taskQueues(config: Config): { workflows: string; render: string } {
  const prefix = config.temporal.taskQueuePrefix;
  return { workflows: `${prefix}-workflows`, render: `${prefix}-render` };
}
