import { z } from 'zod';

/**
 * A variable that sets a config field unless a config file or the command line does. The first
 * non-empty variable of `variables` wins.
 */
interface ConfigVariable {
  variables: readonly string[];
  /** The field's dotted path in the config. */
  path: string;
  kind: 'string' | 'number';
}

const CONFIG_VARIABLES: readonly ConfigVariable[] = [
  { variables: ['SCIGEN_PROVIDER'], path: 'provider', kind: 'string' },
  { variables: ['OPENAI_BASE_URL'], path: 'openai.baseUrl', kind: 'string' },
  { variables: ['SCIGEN_GEMINI_BASE_URL'], path: 'gemini.baseUrl', kind: 'string' },
  { variables: ['SCIGEN_SCRIPTED_RESPONSES'], path: 'scripted.responses', kind: 'string' },
  { variables: ['TEMPORAL_ADDRESS'], path: 'temporal.address', kind: 'string' },
  { variables: ['TEMPORAL_NAMESPACE'], path: 'temporal.namespace', kind: 'string' },
  { variables: ['SCIGEN_TASK_QUEUE_PREFIX'], path: 'temporal.taskQueuePrefix', kind: 'string' },
  { variables: ['SCIGEN_TEMPORAL_PORT'], path: 'temporal.devServer.port', kind: 'number' },
  { variables: ['SCIGEN_TEMPORAL_UI_PORT'], path: 'temporal.devServer.uiPort', kind: 'number' },
  { variables: ['SCIGEN_TEMPORAL_BIN'], path: 'temporal.devServer.binary', kind: 'string' },
  { variables: ['SCIGEN_RETENTION_DAYS'], path: 'temporal.retentionDays', kind: 'number' },
  { variables: ['SCIGEN_STATE_DIR'], path: 'stateDirectory', kind: 'string' },
  { variables: ['SCIGEN_ARTIFACTS'], path: 'artifacts', kind: 'string' },
  { variables: ['SCIGEN_PYTHON'], path: 'render.python', kind: 'string' },
  { variables: ['SCIGEN_RENDER_SLOTS'], path: 'render.slots', kind: 'number' },
  { variables: ['SCIGEN_OPENAI_MAX_CONCURRENCY'], path: 'openai.maxConcurrency', kind: 'number' },
  { variables: ['SCIGEN_WINDOW_SIZE'], path: 'build.windowSize', kind: 'number' },
  { variables: ['SCIGEN_BUDGET_USD'], path: 'build.budgetUsd', kind: 'number' },
  { variables: ['SCIGEN_WORKER_BUILD_ID'], path: 'workers.deployment.buildId', kind: 'string' },
  { variables: ['SCIGEN_DEPLOYMENT_NAME'], path: 'workers.deployment.name', kind: 'string' },
  { variables: ['SCIGEN_TRACE_FILE'], path: 'telemetry.traceFile', kind: 'string' },
  // The standard OpenTelemetry variables; the OTLP exporter reads its headers and the rest itself.
  {
    variables: ['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', 'OTEL_EXPORTER_OTLP_ENDPOINT'],
    path: 'telemetry.otlpEndpoint',
    kind: 'string',
  },
  { variables: ['OTEL_SERVICE_NAME'], path: 'telemetry.serviceName', kind: 'string' },
];

/**
 * Secrets, read from the environment only: never from a config file, never into a workflow input.
 * They ride on the loaded config as a non-enumerable field (config/load.ts), so printing or
 * serializing a config shows none of them.
 */
export interface Credentials {
  /** OPENAI_API_KEY */
  openAiApiKey?: string;
  /** GEMINI_API_KEY, else GOOGLE_API_KEY */
  geminiApiKey?: string;
  /** TEMPORAL_API_KEY (Temporal Cloud); implies TLS. */
  temporalApiKey?: string;
}

export interface Environment {
  /** Config fields set by variables, nested as a config file would hold them; unparsed. */
  configValues: Record<string, unknown>;
  /** The variable behind each of those fields, by dotted path, for error messages. */
  configVariables: Record<string, string>;
  credentials: Credentials;
  /** SCIGEN_LOG_LEVEL / SCIGEN_LOG_FORMAT as given; cli/logger.ts reads them. */
  logging: { level?: string; format?: string };
  /** SCIGEN_METRICS_ADDRESS (host:port): where the workers' Prometheus metrics are served. */
  metricsAddress?: string;
}

/** An unset or blank variable is absent. */
const optionalText = z
  .string()
  .optional()
  .transform((value) => (value === undefined || value.trim() === '' ? undefined : value.trim()));

const variablesSchema = z.object({
  OPENAI_API_KEY: optionalText,
  GEMINI_API_KEY: optionalText,
  GOOGLE_API_KEY: optionalText,
  TEMPORAL_API_KEY: optionalText,
  SCIGEN_LOG_LEVEL: optionalText,
  SCIGEN_LOG_FORMAT: optionalText,
  SCIGEN_METRICS_ADDRESS: optionalText,
  AWS_ENDPOINT_URL_S3: optionalText,
  AWS_ENDPOINT_URL: optionalText,
  AWS_IGNORE_CONFIGURED_ENDPOINT_URLS: optionalText,
});

/**
 * Reads every environment variable scigen uses, once. The rest of the program gets these values
 * passed down (mostly on the config) and reads no variable itself.
 */
export function readEnvironment(variables: NodeJS.ProcessEnv = process.env): Environment {
  const known = variablesSchema.parse(variables);
  let configValues: Record<string, unknown> = {};
  const configVariables: Record<string, string> = {};
  for (const { variables: names, path, kind } of CONFIG_VARIABLES) {
    const variable = names.find((name) => variables[name] !== undefined && variables[name] !== '');
    if (variable === undefined) continue;
    const raw = variables[variable]!;
    // A non-numeric string is passed through so the config schema reports it with the field's path.
    const value = kind === 'number' && raw.trim() !== '' && Number.isFinite(Number(raw)) ? Number(raw) : raw;
    configValues = mergeInto(configValues, path.split('.'), value);
    configVariables[path] = variable;
  }
  // The AWS SDK reads the endpoint URL itself; scigen only needs to address buckets by path then.
  if (
    known.AWS_IGNORE_CONFIGURED_ENDPOINT_URLS !== 'true' &&
    Boolean(known.AWS_ENDPOINT_URL_S3 ?? known.AWS_ENDPOINT_URL) &&
    configValues['s3PathStyle'] === undefined
  ) {
    configValues = mergeInto(configValues, ['s3PathStyle'], true);
    configVariables['s3PathStyle'] = known.AWS_ENDPOINT_URL_S3 ? 'AWS_ENDPOINT_URL_S3' : 'AWS_ENDPOINT_URL';
  }
  const credentials: Credentials = {};
  if (known.OPENAI_API_KEY) credentials.openAiApiKey = known.OPENAI_API_KEY;
  const geminiApiKey = known.GEMINI_API_KEY ?? known.GOOGLE_API_KEY;
  if (geminiApiKey) credentials.geminiApiKey = geminiApiKey;
  if (known.TEMPORAL_API_KEY) credentials.temporalApiKey = known.TEMPORAL_API_KEY;
  return {
    configValues,
    configVariables,
    credentials,
    logging: {
      ...(known.SCIGEN_LOG_LEVEL ? { level: known.SCIGEN_LOG_LEVEL } : {}),
      ...(known.SCIGEN_LOG_FORMAT ? { format: known.SCIGEN_LOG_FORMAT } : {}),
    },
    ...(known.SCIGEN_METRICS_ADDRESS ? { metricsAddress: known.SCIGEN_METRICS_ADDRESS } : {}),
  };
}

function mergeInto(target: Record<string, unknown>, path: string[], value: unknown): Record<string, unknown> {
  const [head, ...rest] = path;
  if (head === undefined) return target;
  if (rest.length === 0) return { ...target, [head]: value };
  const inner = target[head];
  const nested = typeof inner === 'object' && inner !== null ? (inner as Record<string, unknown>) : {};
  return { ...target, [head]: mergeInto(nested, rest, value) };
}
