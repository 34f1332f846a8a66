import { ApplicationFailure } from '@temporalio/common';
import { z } from 'zod';
import type { ModelStep } from '../activities/model-call.ts';
import type { ResolvedProvider } from '../config/provider.ts';
import type { Config } from '../config/schema.ts';
import { createProvider } from '../providers/create-provider.ts';
import { providerFailureDetails } from '../providers/errors.ts';
import { createOpenAiProvider } from '../providers/openai.ts';
import type { ModelProvider, ModelRequest } from '../providers/provider.ts';
import {
  isStructuredOutputRefusal,
  structuredOutputModes,
  type StructuredOutputMode,
} from '../providers/structured-output.ts';
import { loadScript } from '../scripted/script.ts';
import { startScriptedEndpoint } from '../scripted/server.ts';
import { askCanary, doesNotSeeMessage, DOCTOR_PROBLEM_ID, type VisionVerdict } from './canary.ts';
import { ModelCapabilities } from './model-capabilities.ts';
import { configuredStepModels, type StepModel } from './steps.ts';

/** One step's line in the doctor's table. */
export interface DoctorRow {
  step: ModelStep;
  /** The code generator whose own model this is; null for the provider's per-step models. */
  generator: string | null;
  model: string;
  /** The server answered (any HTTP answer); false when it could not be reached or did not answer in time. */
  reachable: boolean;
  /** The server has the model: true once it answered a call for it, false on a 404, null when it could not be told. */
  modelExists: boolean | null;
  /** For a step that asks for JSON: the structured-output mode that works; null when none does or it could not be told. */
  structuredOutput: StructuredOutputMode | null;
  /** For a step that sends an image: whether the model passed the vision canary; null for other steps or when it could not be told. */
  vision: 'sees' | 'blind' | null;
  /** How long the model's first successful call took; null when none succeeded. */
  latencyMs: number | null;
  /** Why the step cannot work, in the server's words where it gave any; null when it can. */
  problem: string | null;
  /** Something worth knowing that does not stop the step (the server was busy, an answer held no JSON). */
  warning: string | null;
}

export interface DoctorReport {
  /** Which server was checked, e.g. "openai at http://localhost:8080/v1". */
  server: string;
  rows: DoctorRow[];
  /** Every step can work. */
  ok: boolean;
}

export interface DoctorOptions {
  provider: ModelProvider;
  /** Names the server in the report. */
  server: string;
  steps: readonly StepModel[];
  /** The provider's structured-output modes, in the order tried (providers/structured-output.ts). */
  structuredOutputModes: readonly StructuredOutputMode[];
  /** Where what is learnt is kept, for the workers of the same process. @default a fresh one */
  capabilities?: ModelCapabilities;
  /** Each check's deadline. */
  timeoutMs?: number;
}

/** What the checks of one model found, before it is spread over the model's steps. */
interface ModelFindings {
  reachable: boolean;
  modelExists: boolean | null;
  structuredOutput: StructuredOutputMode | null;
  vision: VisionVerdict | null;
  latencyMs: number | null;
  /** The failure of a call that says the model cannot be used at all (unreachable, missing, key refused). */
  modelProblem: string | null;
  /** A failure of the JSON probe that is not about the model as a whole. */
  jsonProblem: string | null;
  /** A failure of the canary call (a server that refuses images says so here). */
  visionProblem: string | null;
  warnings: string[];
}

const probeSchema = z.object({ ok: z.boolean() });

/**
 * Checks every step's model with a few cheap calls each, one model at a time per model and all
 * models at once: a JSON probe per structured-output mode until the server takes one (steps that
 * ask for JSON), the vision canary (steps that send images), else one short text call. What it
 * learns goes into `capabilities`. Never throws for a provider failure: that is what the table is for.
 */
export async function runDoctor(options: DoctorOptions): Promise<DoctorReport> {
  const capabilities = options.capabilities ?? new ModelCapabilities();
  const byModel = new Map<string, StepModel[]>();
  for (const step of options.steps) byModel.set(step.model, [...(byModel.get(step.model) ?? []), step]);
  const findings = new Map<string, ModelFindings>();
  await Promise.all(
    [...byModel].map(async ([model, steps]) => {
      findings.set(model, await checkModel(options, capabilities, model, steps));
    }),
  );
  const rows = options.steps.map((step) => rowOf(step, findings.get(step.model)!));
  return { server: options.server, rows, ok: rows.every((row) => row.problem === null) };
}

async function checkModel(
  options: DoctorOptions,
  capabilities: ModelCapabilities,
  model: string,
  steps: readonly StepModel[],
): Promise<ModelFindings> {
  const found: ModelFindings = {
    reachable: false,
    modelExists: null,
    structuredOutput: null,
    vision: null,
    latencyMs: null,
    modelProblem: null,
    jsonProblem: null,
    visionProblem: null,
    warnings: [],
  };
  const timeout = options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs };
  /** One call, timed; its failure read into the findings. Returns whether it answered. */
  async function call<T>(work: () => Promise<T>): Promise<{ ok: true; value: T } | { ok: false; error: unknown }> {
    const started = performance.now();
    try {
      const value = await work();
      found.reachable = true;
      found.modelExists = true;
      found.latencyMs ??= Math.round(performance.now() - started);
      return { ok: true, value };
    } catch (error) {
      // A refused structured-output mode is about the request; the caller tries the next.
      const kind = isStructuredOutputRefusal(error) ? 'other' : failureKind(error);
      if (kind !== 'unreachable') found.reachable = true;
      if (kind === 'missing') found.modelExists = false;
      if (kind === 'busy') found.warnings.push(messageOf(error));
      if (kind === 'unreachable' || kind === 'missing' || kind === 'auth') found.modelProblem ??= messageOf(error);
      return { ok: false, error };
    }
  }

  const jsonStep = steps.find((step) => step.needs.json);
  if (jsonStep) {
    let refusal = '';
    for (const mode of options.structuredOutputModes) {
      const request = probeRequest(jsonStep.step, model, mode, timeout);
      const answered = await call(() => options.provider.generate(request));
      if (answered.ok) {
        found.structuredOutput = mode;
        capabilities.recordStructuredMode(model, mode);
        if (!/\{[\s\S]*\}/.test(answered.value.text))
          found.warnings.push(
            `the ${mode} probe's answer held no JSON: ${JSON.stringify(answered.value.text.slice(0, 80))}`,
          );
        break;
      }
      if (mode !== 'prompt' && isStructuredOutputRefusal(answered.error)) {
        refusal = messageOf(answered.error);
        continue;
      }
      if (failureKind(answered.error) === 'other') found.jsonProblem = messageOf(answered.error);
      break;
    }
    if (found.structuredOutput === null && found.modelProblem === null && found.jsonProblem === null)
      found.jsonProblem =
        `the server takes none of the structured-output modes tried (${options.structuredOutputModes.join(', ')}); ` +
        `the last refusal: ${refusal}`;
  }

  const visionStep = steps.find((step) => step.needs.vision);
  if (visionStep && found.modelProblem === null) {
    const seen = await call(() =>
      capabilities.sees(model, () => askCanary(options.provider, { model, step: visionStep.step, ...timeout })),
    );
    if (seen.ok) found.vision = seen.value;
    else if (failureKind(seen.error) === 'other') found.visionProblem = messageOf(seen.error);
  }

  if (!jsonStep && !visionStep) {
    const first = steps[0]!;
    await call(() =>
      options.provider.generate({
        step: first.step,
        problemId: DOCTOR_PROBLEM_ID,
        model,
        parts: [{ type: 'text', text: 'Reply with the word OK.' }],
        temperature: 0,
        ...timeout,
      }),
    );
  }
  return found;
}

function probeRequest(
  step: ModelStep,
  model: string,
  mode: StructuredOutputMode,
  timeout: { timeoutMs?: number },
): ModelRequest {
  return {
    step,
    problemId: DOCTOR_PROBLEM_ID,
    model,
    // "JSON" in the prompt: OpenAI's json_object mode refuses a request whose messages do not say it.
    system: 'You answer with JSON only.',
    parts: [{ type: 'text', text: 'Reply with this JSON object and nothing else: {"ok": true}' }],
    temperature: 0,
    ...(mode === 'prompt'
      ? {}
      : { responseSchema: { name: 'doctor_probe', schema: probeSchema }, structuredOutput: mode }),
    ...timeout,
  };
}

function rowOf(step: StepModel, found: ModelFindings): DoctorRow {
  let problem = found.modelProblem;
  if (problem === null && step.needs.json) problem = found.jsonProblem;
  if (problem === null && step.needs.vision) {
    if (found.visionProblem !== null) problem = found.visionProblem;
    else if (found.vision && !found.vision.sees) problem = doesNotSeeMessage(step.model, found.vision);
  }
  return {
    step: step.step,
    generator: step.generator ?? null,
    model: step.model,
    reachable: found.reachable,
    modelExists: found.modelExists,
    structuredOutput: step.needs.json ? found.structuredOutput : null,
    vision: step.needs.vision && found.vision ? (found.vision.sees ? 'sees' : 'blind') : null,
    latencyMs: found.latencyMs,
    problem,
    warning: found.warnings.length > 0 ? [...new Set(found.warnings)].join('; ') : null,
  };
}

/**
 * What a failed call says about the model: `unreachable` (no answer: connection, timeout),
 * `missing` (404), `auth` (key refused), `busy` (rate limit or overload: retried in a build, so
 * only a warning here), or `other` (the server refused this request: the step's problem).
 */
function failureKind(error: unknown): 'unreachable' | 'missing' | 'auth' | 'busy' | 'other' {
  if (!(error instanceof ApplicationFailure)) return 'other';
  switch (error.type) {
    case 'ProviderConnectionError':
    case 'ProviderTimeout':
      return 'unreachable';
    case 'ProviderNotFound':
      return 'missing';
    case 'ProviderAuthError':
      return 'auth';
    case 'ProviderRateLimited':
    case 'ProviderUnavailable':
      return 'busy';
    default:
      // A status the sorter did not know is still an answer; without one, nothing answered.
      return error.type === 'ProviderUnexpectedError' && providerFailureDetails(error)?.status === undefined
        ? 'unreachable'
        : 'other';
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Runs the doctor for a build's configuration and provider: the provider it would call (for the
 * scripted demo endpoint, one started for the check and closed after), every configured step's
 * model. `capabilities` receives what is learnt, so an embedded build's workers need not ask again.
 */
export async function doctorForConfig(
  config: Config,
  provider: ResolvedProvider,
  options: { capabilities?: ModelCapabilities } = {},
): Promise<DoctorReport> {
  const timeoutMs = config.llm.requestTimeoutSeconds * 1000;
  // The scripted endpoint speaks the OpenAI protocol, with the openai section's models and modes.
  const section = provider === 'gemini' ? 'gemini' : 'openai';
  const common = {
    steps: configuredStepModels(config, section),
    structuredOutputModes: structuredOutputModes(section, config[section].structuredOutput),
    timeoutMs,
    ...(options.capabilities ? { capabilities: options.capabilities } : {}),
  };
  if (provider === 'scripted') {
    const endpoint = await startScriptedEndpoint({ script: await loadScript(config.scripted.responses) });
    try {
      const client = createOpenAiProvider({ apiKey: 'scripted-endpoint', baseURL: endpoint.openAiBaseUrl, timeoutMs });
      return await runDoctor({ ...common, provider: client, server: 'the scripted endpoint' });
    } finally {
      await endpoint.close();
    }
  }
  const baseUrl = config[provider].baseUrl;
  const client = createProvider({
    provider,
    timeoutMs,
    credentials: config.credentials,
    ...(baseUrl ? { baseUrl } : {}),
  });
  return runDoctor({ ...common, provider: client, server: `${provider}${baseUrl ? ` at ${baseUrl}` : ''}` });
}
