import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { readEnvironment, type Environment } from './environment.ts';
import { configSchema, type Config, type ConfigFields } from './schema.ts';

/** A configuration value that cannot be used; the message names the field, its source and the reason. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

type Source = { label: string; values: Record<string, unknown> };

export interface LoadConfigOptions {
  /** A JSON config file (`--config FILE`). */
  file?: string;
  /** Values given on the command line or by a caller; they win over everything. */
  explicit?: Record<string, unknown>;
  /** @default readEnvironment(), the process's variables */
  environment?: Environment;
  /**
   * Relative paths in the config are resolved against this; the prompt files and external
   * generators' image folders against the config file's folder. @default process.cwd()
   */
  baseDirectory?: string;
}

export function loadConfig(options: LoadConfigOptions = {}): Config {
  const environment = options.environment ?? readEnvironment();
  const baseDirectory = options.baseDirectory ?? process.cwd();
  const sources: Source[] = [{ label: 'environment', values: environment.configValues }];
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
  const fileDirectory = options.file ? dirname(resolve(baseDirectory, options.file)) : baseDirectory;
  const config = resolvePaths(parsed.data, baseDirectory, fileDirectory);
  // Not enumerable: a config printed or serialized shows no secret (config/environment.ts).
  Object.defineProperty(config, 'credentials', { value: environment.credentials, enumerable: false });
  return config as Config;
}

/** `s3://…`, `file://…`: a location given as a URI rather than a path. */
const URI_SCHEME = /^[a-z][a-z0-9+.-]*:\/\//i;

function resolvePaths(config: ConfigFields, baseDirectory: string, fileDirectory: string): ConfigFields {
  const stateDirectory = resolve(baseDirectory, config.stateDirectory);
  let artifacts = config.artifacts ?? pathToFileURL(resolve(stateDirectory, 'artifacts')).href;
  if (!URI_SCHEME.test(artifacts)) artifacts = pathToFileURL(resolve(baseDirectory, artifacts)).href;
  const references = config.input.references;
  return {
    ...config,
    stateDirectory,
    artifacts,
    input:
      references === undefined || URI_SCHEME.test(references)
        ? config.input
        : { references: resolve(baseDirectory, references) },
    scripted: { responses: resolve(baseDirectory, config.scripted.responses) },
    prompts: Object.fromEntries(
      Object.entries(config.prompts).map(([name, file]) => [name, resolve(fileDirectory, file)]),
    ),
    generators: config.generators.map((generator) =>
      generator.images === undefined
        ? generator
        : { ...generator, images: resolveImages(generator.images, fileDirectory) },
    ),
  };
}

/** An external generator's images: s3:// as written, file:// and relative paths as absolute paths (`{id}` kept). */
function resolveImages(images: string, fileDirectory: string): string {
  if (/^s3:\/\//i.test(images)) return images;
  if (/^file:/i.test(images)) return fileURLToPath(images);
  return resolve(fileDirectory, images);
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

function describeSource(sources: Source[], path: PropertyKey[], environment: Environment): string {
  for (const source of [...sources].reverse()) {
    if (lookup(source.values, path) === undefined) continue;
    if (source.label !== 'environment') return ` (from ${source.label})`;
    const variable = environment.configVariables[path.join('.')];
    return variable ? ` (from env ${variable})` : ' (from environment)';
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
