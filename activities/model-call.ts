import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { Parsed } from '../domain/parse-model-output.ts';
import type { Step, Usage } from '../domain/types.ts';
import { providerFailureDetails } from '../providers/errors.ts';
import { fitImage, type ImageLimits } from '../providers/image.ts';
import type {
  GeneratedImage,
  ImageAspect,
  ImageRequest,
  ImageResponse,
  ModelRequest,
  ModelPart,
  ModelProvider,
  ModelResponse,
  ResponseSchema,
  TokenUsage,
} from '../providers/provider.ts';
import { askCanary, doesNotSeeMessage } from '../doctor/canary.ts';
import { ModelCapabilities } from '../doctor/model-capabilities.ts';
import {
  isStructuredOutputRefusal,
  structuredOutputModes,
  type StructuredOutputSetting,
} from '../providers/structured-output.ts';
import { answerImageCall, answerTextCall, type CallAnswer } from './batch-calls.ts';
import {
  activityRequestLimitMs,
  currentCancellationSignal,
  logInfo,
  logWarning,
  withHeartbeats,
} from './activity-context.ts';

/** The steps answered with text (the image step is an image model's call, providers' generateImage). */
export type ModelStep = Exclude<Step, 'image'>;
/** Steps whose model and temperature fall back to another step's when not configured. */
type DerivedStep = 'refine' | 'visual-answer' | 'grade';

/** The config's names of the derived steps (config keys are camelCase). */
type DerivedStepSettings<T> = {
  /** @default the repair step's */
  refine?: T;
  /** @default the answer step's */
  visualAnswer?: T;
  /** Model: the quiz model's; temperature: 0. */
  grade?: T;
};

/** USD per million tokens of one way of calling a model. */
export interface Rates {
  input: number;
  output: number;
  /** Input tokens read from the prompt cache. @default input */
  cachedInput?: number;
  /** Output tokens that are a generated image. @default output */
  imageOutput?: number;
}

/**
 * USD per million tokens per model: the real-time rates, and `batch`, the rates of the providers'
 * batch interfaces (default: every real-time rate halved, what OpenAI and Gemini both charge).
 */
export type PriceTable = Record<string, Rates & { batch?: Rates }>;

/** What the providers' batch interfaces charge for a call, as a share of the real-time price. */
export const BATCH_PRICE_SHARE = 0.5;

export interface ModelCallSettings {
  provider: ModelProvider;
  /** Per step; `refine` falls back to `repair`, `visualAnswer` to `answer`, `grade` to `quiz`. */
  models: Record<Exclude<ModelStep, DerivedStep>, string> & DerivedStepSettings<string>;
  temperatures: Record<Exclude<ModelStep, DerivedStep>, number> & DerivedStepSettings<number>;
  prices: PriceTable;
  /**
   * How the JSON steps ask for JSON (providers/structured-output.ts): a fixed mode, or `auto`, which
   * starts with the strongest and steps down when the server refuses one. `true` and `false` are
   * the older spellings of `json_schema` and `prompt`. @default 'prompt'
   */
  structuredOutput?: StructuredOutputSetting | boolean;
  /**
   * What this process knows of the server's models (the mode that works, who sees images); shared
   * with the doctor of the same process. @default one of its own per settings object
   */
  capabilities?: ModelCapabilities;
  /**
   * Show a model the vision canary before its first call with an image, and refuse image steps to
   * a model that fails it (doctor/canary.ts). @default false
   */
  visionCanary?: boolean;
  /** @default 1024 px long side, 2 MiB */
  imageLimits?: ImageLimits;
  /**
   * The client of a pixel generator's own OpenAI-images-compatible server (its `baseUrl`), one per
   * URL. Absent: such a generator's image step fails, naming the URL.
   */
  imageProviderFor?: (baseUrl: string) => ModelProvider;
}

export interface ModelCall {
  step: ModelStep;
  problemId: string | number;
  system?: string;
  parts: ModelPart[];
  /** The JSON shape of the answer; sent only when the provider's structuredOutput is on. */
  responseSchema?: ResponseSchema;
  /** Overrides the step's configured model (a generator that names its own). */
  model?: string;
}

export interface ModelAnswer {
  text: string;
  usage: Usage;
  /** The provider's finish reason; null when the response held no answer candidate at all. */
  finishReason: string | null;
  /** Stopped at the output token limit. */
  truncated: boolean;
}

/**
 * One model request for a step, with the step's model and temperature; images shrunk to the
 * model limits first. Returns the text and what it cost. Provider failures pass through (they
 * are sorted already), with the cost of a billed refusal added to their details.
 */
export async function callModel(settings: ModelCallSettings, call: ModelCall): Promise<ModelAnswer> {
  const model = call.model ?? stepModel(settings, call.step);
  const temperature = stepTemperature(settings, call.step);
  const parts = call.parts.map((part) => (part.type === 'image' ? fitForModel(part, settings.imageLimits) : part));
  const capabilities = capabilitiesOf(settings);
  const timeoutMs = activityRequestLimitMs(REQUEST_MARGIN_MS);
  if (settings.visionCanary && parts.some((part) => part.type === 'image'))
    await refuseBlindModel(settings.provider, capabilities, { model, step: call.step, timeoutMs });
  const modes = structuredOutputModes(settings.provider.name, settings.structuredOutput ?? 'prompt');
  let mode = call.responseSchema ? capabilities.structuredMode(model, modes) : 'prompt';
  let answered: CallAnswer<ModelResponse>;
  for (;;) {
    const request: ModelRequest = {
      step: call.step,
      problemId: String(call.problemId),
      model,
      system: call.system,
      parts,
      temperature,
      ...(call.responseSchema && mode !== 'prompt'
        ? { responseSchema: call.responseSchema, structuredOutput: mode }
        : {}),
    };
    try {
      answered = await withHeartbeats(
        answerTextCall(request, () =>
          settings.provider.generate({
            ...request,
            ...(timeoutMs === undefined ? {} : { timeoutMs }),
            signal: currentCancellationSignal(),
          }),
        ),
      );
      break;
    } catch (error) {
      const next = mode !== 'prompt' && isStructuredOutputRefusal(error) && capabilities.stepDown(model, mode, modes);
      if (!next) throw withBilledCost(error, settings.prices, model);
      // Not a retry of the same request (Temporal owns those): a different request the server may take.
      if (next.changed)
        logWarning(`structured output: the server refused ${mode} for model ${model}; using ${next.mode} from now on`, {
          step: call.step,
          model,
          refused: mode,
          next: next.mode,
          reason: error instanceof Error ? error.message : String(error),
        });
      mode = next.mode;
    }
  }
  const { response } = answered;
  return {
    text: response.text,
    usage: pricedUsage(settings.prices, call.step, model, response, answered.batch),
    finishReason: response.finishReason,
    truncated: response.truncated,
  };
}

/** The model a step asks: its own, or for a derived step the one it falls back to. */
export function stepModel(settings: Pick<ModelCallSettings, 'models'>, step: ModelStep): string {
  const { models } = settings;
  if (step === 'refine') return models.refine ?? models.repair;
  if (step === 'visual-answer') return models.visualAnswer ?? models.answer;
  if (step === 'grade') return models.grade ?? models.quiz;
  return models[step];
}

function stepTemperature(settings: ModelCallSettings, step: ModelStep): number {
  const { temperatures } = settings;
  if (step === 'refine') return temperatures.refine ?? temperatures.repair;
  if (step === 'visual-answer') return temperatures.visualAnswer ?? temperatures.answer;
  // A grader says the same of the same answer every time.
  if (step === 'grade') return temperatures.grade ?? 0;
  return temperatures[step];
}

export interface ImageCall {
  problemId: string | number;
  /** The image model; pixel generators name their own, so it is not a per-step setting. */
  model: string;
  prompt: string;
  aspect?: ImageAspect;
  /** The generator's own OpenAI-images-compatible server; absent: the build's provider draws. */
  baseUrl?: string;
}

export interface ImageAnswer {
  /** The picture as the provider sent it (not yet checked); null when the model sent none. */
  image: GeneratedImage | null;
  text: string;
  usage: Usage;
  finishReason: string | null;
  /** The model that answered, as the provider reports it. */
  model: string;
}

/**
 * One image model request for the `image` step. Returns the picture and what it cost (image
 * output tokens at the image rate). Provider failures pass through, as in callModel.
 */
export async function callImageModel(settings: ModelCallSettings, call: ImageCall): Promise<ImageAnswer> {
  const provider = call.baseUrl === undefined ? settings.provider : imageProviderOf(settings, call.baseUrl);
  const request: ImageRequest = {
    step: 'image',
    problemId: String(call.problemId),
    model: call.model,
    prompt: call.prompt,
    ...(call.aspect ? { aspect: call.aspect } : {}),
  };
  const ask = () => provider.generateImage({ ...request, signal: currentCancellationSignal() });
  let answered: CallAnswer<ImageResponse>;
  try {
    // A generator's own image server has no batch interface: its calls are always real time.
    answered = await withHeartbeats(
      call.baseUrl === undefined
        ? answerImageCall(request, ask)
        : ask().then((response) => ({ response, batch: false })),
    );
  } catch (error) {
    throw withBilledCost(error, settings.prices, call.model);
  }
  const { response } = answered;
  return {
    image: response.image,
    text: response.text,
    usage: pricedUsage(settings.prices, 'image', call.model, response, answered.batch),
    finishReason: response.finishReason,
    model: response.model,
  };
}

/** Room left for a request inside its activity's start-to-close timeout (reading the problem, storing the answer). */
const REQUEST_MARGIN_MS = 10_000;

const ownCapabilities = new WeakMap<ModelCallSettings, ModelCapabilities>();

function capabilitiesOf(settings: ModelCallSettings): ModelCapabilities {
  if (settings.capabilities) return settings.capabilities;
  let capabilities = ownCapabilities.get(settings);
  if (!capabilities) ownCapabilities.set(settings, (capabilities = new ModelCapabilities()));
  return capabilities;
}

/**
 * Fails the step for good when its model failed the vision canary: a model that does not see the
 * image would invent scores and answers. The canary is shown once per model and process.
 */
async function refuseBlindModel(
  provider: ModelProvider,
  capabilities: ModelCapabilities,
  request: { model: string; step: ModelStep; timeoutMs: number | undefined },
): Promise<void> {
  const verdict = await withHeartbeats(
    capabilities.sees(request.model, () =>
      askCanary(provider, {
        model: request.model,
        step: request.step,
        ...(request.timeoutMs === undefined ? {} : { timeoutMs: request.timeoutMs }),
      }),
    ),
  );
  if (verdict.sees) return;
  throw ApplicationFailure.create({
    type: 'ModelDoesNotSee',
    message: doesNotSeeMessage(request.model, verdict),
    nonRetryable: true,
  });
}

function imageProviderOf(settings: ModelCallSettings, baseUrl: string): ModelProvider {
  if (settings.imageProviderFor) return settings.imageProviderFor(baseUrl);
  throw ApplicationFailure.create({
    type: 'ImageServerNotConfigured',
    message: `this llm worker has no client for the image server ${baseUrl}`,
    nonRetryable: true,
  });
}

/** A billed refusal's failure with the cost of its tokens filled in (the provider knows tokens, not prices). */
function withBilledCost(error: unknown, prices: PriceTable, model: string): unknown {
  if (error instanceof ApplicationFailure) {
    const billed = providerFailureDetails(error)?.usage;
    if (billed)
      billed.cost_usd = costOf(prices, model, model, {
        inputTokens: billed.input_tokens,
        outputTokens: billed.output_tokens,
        cachedInputTokens: 0,
      });
  }
  return error;
}

function pricedUsage(
  prices: PriceTable,
  step: Step,
  requestedModel: string,
  response: { usage: TokenUsage; model: string },
  batch: boolean,
): Usage {
  const { usage } = response;
  const realtimeCost = costOf(prices, requestedModel, response.model, usage, false);
  const cost = batch ? costOf(prices, requestedModel, response.model, usage, true) : realtimeCost;
  logInfo('model call', {
    step,
    model: response.model,
    inputTokens: usage.inputTokens,
    outputTokens: usage.outputTokens,
    costUsd: cost,
    ...(batch ? { batch: true } : {}),
  });
  return {
    input_tokens: usage.inputTokens,
    output_tokens: usage.outputTokens,
    cost_usd: cost,
    // Only batch answers say what real time would have cost; for the others it is cost_usd.
    ...(batch ? { realtime_cost_usd: realtimeCost, batch_calls: 1 } : {}),
  };
}

/**
 * Parses a step's answer, telling an empty or cut-off answer apart from a malformed one: both are
 * parse failures of the step (the model was paid and answered; asking the same again is the
 * workflow's decision), with a reason that says which.
 */
export function parseAnswer<T>(step: ModelStep, answer: ModelAnswer, parse: (text: string) => Parsed<T>): Parsed<T> {
  if (answer.text.trim() === '') {
    const why = answer.finishReason === null ? 'no answer candidates' : `finish reason ${answer.finishReason}`;
    return { ok: false, reason: `${step === 'answer' ? 'answer' : `${step} answer`} is empty (${why})` };
  }
  const parsed = parse(answer.text);
  if (parsed.ok || !answer.truncated) return parsed;
  return { ok: false, reason: `${parsed.reason} (the answer was cut off at the model's output limit)` };
}

/** An image no shrinking makes sendable fails the step for good: asking again cannot help. */
function fitForModel(
  part: Extract<ModelPart, { type: 'image' }>,
  limits: ImageLimits | undefined,
): Extract<ModelPart, { type: 'image' }> {
  try {
    return fitImage(part, limits);
  } catch (error) {
    throw ApplicationFailure.create({
      type: 'ImageNotSendable',
      message: `the figure cannot be sent to the model: ${error instanceof Error ? error.message : String(error)}`,
      nonRetryable: true,
    });
  }
}

const unpricedModels = new Set<string>();

/** USD for one call's tokens at the model's real-time rates, or its batch rates when `batch`. */
export function costOf(
  prices: PriceTable,
  requestedModel: string,
  answeringModel: string,
  usage: TokenUsage,
  batch = false,
): number {
  const listed = prices[requestedModel] ?? prices[answeringModel];
  if (!listed) {
    reportUnpriced(requestedModel);
    return 0;
  }
  const price = batch ? (listed.batch ?? batchRates(listed)) : listed;
  const cached = Math.min(usage.cachedInputTokens, usage.inputTokens);
  const imageOutput = Math.min(usage.imageOutputTokens ?? 0, usage.outputTokens);
  const dollars =
    (usage.inputTokens - cached) * price.input +
    cached * (price.cachedInput ?? price.input) +
    (usage.outputTokens - imageOutput) * price.output +
    imageOutput * (price.imageOutput ?? price.output);
  return dollars / 1_000_000;
}

/** The batch rates of a model whose price entry names none: every real-time rate at BATCH_PRICE_SHARE. */
function batchRates(rates: Rates): Rates {
  const share = (rate: number | undefined) => (rate === undefined ? undefined : rate * BATCH_PRICE_SHARE);
  return {
    input: rates.input * BATCH_PRICE_SHARE,
    output: rates.output * BATCH_PRICE_SHARE,
    ...(rates.cachedInput === undefined ? {} : { cachedInput: share(rates.cachedInput) }),
    ...(rates.imageOutput === undefined ? {} : { imageOutput: share(rates.imageOutput) }),
  };
}

function reportUnpriced(model: string): void {
  if (unpricedModels.has(model)) return;
  unpricedModels.add(model);
  const message = `no price for model "${model}": its calls count as $0; add it to the config's "prices" (USD per million tokens)`;
  try {
    Context.current().log.warn(message);
  } catch {
    // Outside an activity (a script or a unit test) there is no activity logger.
    console.warn(message);
  }
}
