import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import type { ModelCallSettings } from '../activities/model-call.ts';
import { loadPrompts, PromptReplacementError, type Prompts } from '../activities/prompts.ts';
import { ConfigError } from '../config/load.ts';
import type { ResolvedProvider } from '../config/provider.ts';
import type { Config } from '../config/schema.ts';
import { ModelCapabilities } from '../doctor/model-capabilities.ts';
import { createBatchClient, createProvider } from '../providers/create-provider.ts';
import type { BatchClient } from '../providers/batch.ts';
import { createOpenAiProvider } from '../providers/openai.ts';
import type { ModelProvider } from '../providers/provider.ts';
import { withRateLimitCooldown } from '../providers/rate-limit-cooldown.ts';
import { createRenderer } from '../render/create-renderer.ts';
import { findPython } from '../render/find-python.ts';
import type { Renderer } from '../render/renderer.ts';
import { loadScript } from '../scripted/script.ts';
import { startScriptedEndpoint } from '../scripted/server.ts';
import type { ArtifactStore } from '../storage/artifact-store.ts';
import { createArtifactStore } from '../storage/create-store.ts';
import { batchTaskQueue, llmConcurrency, llmRequestsPerSecond, llmTaskQueue } from './llm-queue.ts';

export interface ModelRuntime {
  model: ModelCallSettings;
  /** The bundled prompts with the config's replacements (config `prompts`). */
  prompts: Prompts;
  /** The provider's llm task queue (workers/llm-queue.ts). */
  taskQueue: string;
  /** The provider's batch-mode queue (workers/llm-queue.ts batchTaskQueue). */
  batchTaskQueue: string;
  /** The provider's batch interface; undefined where it has none. */
  batches: BatchClient | undefined;
  /** Server-side rate for that queue, in activities per second; undefined = unlimited. */
  requestsPerSecond: number | undefined;
  /** Model calls one worker has in flight (workers/llm-queue.ts llmConcurrency). */
  concurrency: number;
  /** One line for the console: which provider answers, and where. */
  description: string;
  close(): Promise<void>;
}

/**
 * The provider and per-step model choices an llm worker runs with, for the provider chosen by
 * config/provider.ts chooseProvider. Starts the scripted endpoint when that is the one.
 */
export async function createModelRuntime(
  config: Config,
  resolved: ResolvedProvider,
  options: {
    /** What a doctor of this process learnt about the same server (the build's preflight). @default nothing yet */
    capabilities?: ModelCapabilities;
  } = {},
): Promise<ModelRuntime> {
  // Read before anything starts: a replacement that cannot be used stops the worker with a config error.
  const prompts = loadConfiguredPrompts(config);
  const timeoutMs = config.llm.requestTimeoutSeconds * 1000;
  let provider: ModelProvider;
  let batches: BatchClient | undefined;
  let description: string;
  let close = async () => {};
  if (resolved === 'scripted') {
    const endpoint = await startScriptedEndpoint({ script: await loadScript(config.scripted.responses) });
    // The scripted endpoint speaks the OpenAI wire protocol, so the real openai SDK talks to it.
    provider = createOpenAiProvider({ apiKey: 'scripted-endpoint', baseURL: endpoint.openAiBaseUrl, timeoutMs });
    batches = createBatchClient({
      provider: 'openai',
      credentials: { openAiApiKey: 'scripted-endpoint' },
      baseUrl: endpoint.openAiBaseUrl,
      timeoutMs,
    });
    description =
      `scripted endpoint at ${endpoint.openAiBaseUrl} — not a real model: canned answers for the sample problems from ` +
      `${config.scripted.responses}; set GEMINI_API_KEY or OPENAI_API_KEY to use one`;
    close = () => endpoint.close();
  } else {
    const baseUrl = config[resolved].baseUrl;
    provider = createProvider({
      provider: resolved,
      timeoutMs,
      credentials: config.credentials,
      ...(baseUrl ? { baseUrl } : {}),
    });
    batches = createBatchClient({
      provider: resolved,
      timeoutMs,
      credentials: config.credentials,
      ...(baseUrl ? { baseUrl } : {}),
    });
    description = `${resolved}${baseUrl ? ` at ${baseUrl}` : ''}`;
  }
  const providerConfig = resolved === 'gemini' ? config.gemini : config.openai;
  const requestsPerSecond = llmRequestsPerSecond(config, resolved);
  const concurrency = llmConcurrency(config, resolved);
  // After a 429 the calls this worker still holds go out one request interval apart.
  const pacing = { releaseSpacingMs: requestsPerSecond ? 1000 / requestsPerSecond : 0 };
  const paced = withRateLimitCooldown(provider, pacing);
  // Pixel generators with their own baseUrl draw on that OpenAI-images-compatible server, whatever
  // the build's provider, with OPENAI_API_KEY (a server that needs no key gets a placeholder).
  const imageProviders = new Map<string, ModelProvider>();
  const imageProviderFor = (baseUrl: string): ModelProvider => {
    let imageProvider = imageProviders.get(baseUrl);
    if (!imageProvider) {
      const apiKey = config.credentials.openAiApiKey ?? 'no-key-set';
      imageProvider = withRateLimitCooldown(createOpenAiProvider({ apiKey, baseURL: baseUrl, timeoutMs }), pacing);
      imageProviders.set(baseUrl, imageProvider);
    }
    return imageProvider;
  };
  return {
    model: {
      provider: paced,
      imageProviderFor,
      models: providerConfig.models,
      temperatures: config.temperatures,
      prices: config.prices,
      structuredOutput: providerConfig.structuredOutput,
      capabilities: options.capabilities ?? new ModelCapabilities(),
      // No image reaches a model that has not shown it sees (once per model and process).
      visionCanary: true,
    },
    prompts,
    taskQueue: llmTaskQueue(config.temporal.taskQueuePrefix, resolved),
    batchTaskQueue: batchTaskQueue(config.temporal.taskQueuePrefix, resolved),
    batches,
    requestsPerSecond,
    concurrency,
    description:
      `${description}; ${requestsPerSecond ? `${Math.round(requestsPerSecond * 60)} requests/min shared by all workers` : 'no rate limit'}, ` +
      `${concurrency} calls at once per worker, ` +
      `structured output ${providerConfig.structuredOutput}` +
      (prompts.replaced.length > 0
        ? `; prompts replaced: ${prompts.replaced.map(({ name, sha256 }) => `${name} (sha256 ${sha256.slice(0, 12)})`).join(', ')}`
        : ''),
    close,
  };
}

/**
 * The prompts the config names (`prompts.<name>` -> a file) over the bundled ones. What is wrong
 * with them is a config error naming the prompt, the file and the placeholder (exit code 2).
 */
export function loadConfiguredPrompts(config: Pick<Config, 'prompts'>): Prompts {
  try {
    return loadPrompts({ replacements: config.prompts });
  } catch (error) {
    if (!(error instanceof PromptReplacementError)) throw error;
    const lines = error.problems.map((problem) => `  prompts.${problem.prompt}: ${problem.message}`);
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`, { cause: error });
  }
}

/**
 * The sandboxed renderer a render worker runs, already started: its isolation is probed and its
 * zygotes are warm, so a machine where nothing isolates fails here, at worker start, with the
 * reason, instead of failing every render.
 */
export async function createRendererRuntime(
  config: Config,
): Promise<{ renderer: Renderer; slots: number; python: string }> {
  const python = await findPython(config.render.python ? { python: config.render.python } : {});
  const slots = config.render.slots ?? availableParallelism();
  const { limits } = config.render;
  const mebibyte = 1024 * 1024;
  const renderer = createRenderer({
    python,
    workDirectory: join(config.stateDirectory, 'render-jobs'),
    slots,
    isolation: config.render.isolation,
    uidBase: config.render.uidBase,
    recycleAfterJobs: config.render.recycleAfterJobs,
    warmUpDpi: config.render.dpi,
    limits: {
      cpuSeconds: limits.cpuSeconds,
      addressSpaceBytes: limits.addressSpaceMebibytes * mebibyte,
      processes: limits.processes,
      fileSizeBytes: limits.fileSizeMebibytes * mebibyte,
      openFiles: limits.openFiles,
      outputBytes: limits.outputBytes,
      imageBytes: limits.imageMebibytes * mebibyte,
      imageSidePixels: limits.imageSidePixels,
      scratchBytes: limits.scratchMebibytes * mebibyte,
    },
  });
  try {
    await renderer.start();
  } catch (error) {
    await renderer.close();
    throw error;
  }
  return { renderer, slots, python };
}

export function createStore(config: Config): ArtifactStore {
  return createArtifactStore(config.artifacts!, { s3PathStyle: config.s3PathStyle });
}
