import { createHash } from 'node:crypto';
import { basename, extname } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import {
  CancelledFailure,
  TerminatedFailure,
  type Client,
  WorkflowExecutionAlreadyStartedError,
  WorkflowFailedError,
  WorkflowNotFoundError,
} from '@temporalio/client';
import { taskQueues } from '../../config/load.ts';
import { chooseProvider, type ResolvedProvider } from '../../config/provider.ts';
import { DEFAULT_IMAGE_MODELS, type Config } from '../../config/schema.ts';
import { formatInputError, invalidProblems, problemKey } from '../../domain/input.ts';
import { formatInputReportBrief } from '../../domain/input-report.ts';
import { protocolSettings } from '../../domain/protocol.ts';
import { cutPages, PAGE_BYTE_BUDGET, stagedLine, utf8Bytes } from '../../domain/staged-pages.ts';
import { createBuildOutcomeTally, formatCountedReason, type BuildOutcome } from '../../domain/build-outcome.ts';
import type { BuildSummary } from '../../domain/summary.ts';
import { unprocessedManifestLine, type ManifestRecord } from '../../domain/manifest.ts';
import { readManifest } from '../../export/items.ts';
import { JUDGE_DIMENSIONS, JUDGE_LABELS, realtimeCostOf, type StagedProblem } from '../../domain/types.ts';
import {
  inputDescriptionKey,
  invalidRecordsKey,
  manifestKey,
  stagedPageKey,
  summaryKey,
} from '../../storage/build-layout.ts';
import { ArtifactNotFoundError, type ArtifactStore } from '../../storage/artifact-store.ts';
import { runWorkers, QUEUE_KINDS, type RunningWorkers } from '../../workers/run-workers.ts';
import { batchTaskQueue, llmTaskQueue } from '../../workers/llm-queue.ts';
import { BATCH_BYTES_MARGIN, BATCH_LIMITS } from '../../domain/batch.ts';
import type { BatcherInput } from '../../workflows/batcher.ts';
import { createStore, loadConfiguredPrompts } from '../../workers/runtime.ts';
import {
  batcherWorkflowId,
  buildWorkflowId,
  type DatasetBuildInput,
  type DatasetBuildOutput,
  type ProblemBatchSettings,
  type ProblemSettings,
} from '../../workflows/definitions.ts';
import { badInput, infrastructureFailure, noEvaluatedImage } from '../errors.ts';
import type { Output } from '../output.ts';
import { followProgress } from '../progress.ts';
import { checkInputFile } from '../input-check.ts';
import { stageReferenceImages } from '../reference-images.ts';
import { silentTaskQueueWarnings } from '../task-queue-health.ts';
import { announceDeploymentVersion } from '../deployment.ts';
import { openTemporal, workflowUiUrl } from '../temporal.ts';
import { ModelCapabilities } from '../../doctor/model-capabilities.ts';
import { checkModels, describeUnservableSteps, formatDoctorTable } from './doctor.ts';
import { formatLeaderboard } from '../../report/leaderboard-table.ts';
import { reportAfterBuild } from './report.ts';

export interface BuildOptions {
  buildId?: string;
  json: boolean;
  progress: boolean;
  skipInvalid: boolean;
  /** Run in-process workers even against an external cluster. */
  workers: boolean;
  /** `npm start`: fall back to the scripted endpoint when no API key is set. */
  allowScripted: boolean;
  /** Run the doctor before starting (`--no-preflight` turns it off). @default true */
  preflight?: boolean;
}

const BUILD_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

export async function buildCommand(
  inputPath: string,
  config: Config,
  options: BuildOptions,
  output: Output,
): Promise<void> {
  const staged = await validateInput(inputPath, config, options.skipInvalid, output);
  const buildId = options.buildId ?? defaultBuildId(inputPath, staged.digest);
  if (!BUILD_ID.test(buildId)) {
    throw badInput(
      `--build-id ${JSON.stringify(buildId)}: use 1–100 letters, digits, ".", "_" or "-", starting with a letter or digit`,
    );
  }

  const store = createStore(config);
  const runWorkersHere = config.temporal.address === undefined || options.workers;
  // Decide the provider before starting anything, so a missing key is a config error (exit 2).
  // Only workers started here can serve the scripted demo endpoint.
  let provider: ResolvedProvider;
  try {
    provider = chooseProvider(config, { allowScripted: runWorkersHere && options.allowScripted });
  } catch (error) {
    throw badInput((error as Error).message);
  }
  // The prompt files are read here too, so a bad one stops the build before anything is staged,
  // and the build records which prompts it asked for (the llm workers read their own config's).
  const { replaced: replacedPrompts } = loadConfiguredPrompts(config);
  const layout = await stageInput(store, buildId, staged, config);
  const capabilities =
    options.preflight === false ? undefined : await preflight(config, provider, store, buildId, output);

  const temporal = await openTemporal(config, { startServer: true, log: output.line });
  let workers: RunningWorkers | undefined;
  let wasInterrupted = false;
  const interrupted = new Promise<never>((_, reject) => {
    const onSignal = (signal: string) => {
      wasInterrupted = true;
      reject(
        infrastructureFailure(
          `interrupted by ${signal}: the build keeps its state; run the same command again to resume`,
        ),
      );
    };
    process.once('SIGINT', () => onSignal('SIGINT'));
    process.once('SIGTERM', () => onSignal('SIGTERM'));
  });
  interrupted.catch(() => {});
  let batcherId: string | null = null;
  try {
    if (runWorkersHere) {
      workers = await runWorkers(config, {
        connection: temporal.workerConnection,
        queues: QUEUE_KINDS,
        provider,
        ...(capabilities ? { capabilities } : {}),
      });
      for (const description of workers.descriptions) output.line(description);
      workers.done.catch(() => {});
      await announceDeploymentVersion({
        client: temporal.client,
        namespace: temporal.namespace,
        version: workers.deploymentVersion,
        deploymentName: config.workers.deployment.name,
        embedded: temporal.embedded,
        log: output.line,
      });
    } else {
      output.line(
        `using the Temporal cluster at ${temporal.address}; dedicated workers must be running (scigen worker --queue workflows|llm|render)`,
      );
    }

    const workflowId = buildWorkflowId(buildId);
    const handle =
      temporal.client.workflow.getHandle<(input: DatasetBuildInput) => Promise<DatasetBuildOutput>>(workflowId);
    const previous = await handle.describe().catch((error: unknown) => {
      if (error instanceof WorkflowNotFoundError) return null;
      throw error;
    });
    if (previous?.status.name === 'COMPLETED') {
      output.line(`build ${buildId} already finished; its summary:`);
    } else {
      const batch = config.build.mode === 'batch' ? batchMode(config, provider, buildId) : null;
      batcherId = batch?.problems.batcherWorkflowId ?? null;
      const input: DatasetBuildInput = {
        buildId,
        inputPages: Array.from({ length: layout.pageCount }, (_, page) => stagedPageKey(buildId, page)),
        pageSize: layout.pageSize,
        ...(layout.pageCounts === undefined ? {} : { pageCounts: layout.pageCounts }),
        problemCount: staged.problems.length,
        invalidCount: staged.invalid.length,
        windowSize: batch ? config.batch.windowSize : config.build.windowSize,
        budgetUsd: config.build.budgetUsd ?? null,
        continueAsNewEvents: config.build.continueAsNewEvents,
        settings: { ...problemSettings(config, provider), ...(batch ? { batch: batch.problems } : {}) },
        ...(batch ? { batcher: batch.batcher } : {}),
        ...(replacedPrompts.length > 0 ? { prompts: [...replacedPrompts] } : {}),
      };
      try {
        await temporal.client.workflow.start('datasetBuildWorkflow', {
          workflowId,
          taskQueue: taskQueues(config).workflows,
          args: [input],
          // The same build id re-attaches to a running build instead of starting a second one.
          workflowIdConflictPolicy: 'USE_EXISTING',
          staticSummary: `dataset build ${buildId}: ${staged.problems.length} problems from ${basename(inputPath)}`,
        });
      } catch (error) {
        if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
      }
      output.line(
        previous === null
          ? `build ${buildId}: ${staged.problems.length} problems${staged.invalid.length ? ` (+${staged.invalid.length} invalid, recorded)` : ''}`
          : previous.status.name === 'RUNNING'
            ? `build ${buildId}: re-attached to the running build`
            : `build ${buildId}: resuming (previous run ${previous.status.name.toLowerCase()}); finished problems are not redone`,
      );
    }
    const attachedAt = new Date();
    const uiLink = workflowUiUrl(temporal, workflowId);
    if (temporal.uiUrl) output.line(`Temporal UI: ${temporal.uiUrl}${uiLink ? `  (this build: ${uiLink})` : ''}`);

    const result = await Promise.race([
      followProgress(handle, {
        enabled: options.progress,
        output,
        warnings: () =>
          silentTaskQueueWarnings({
            client: temporal.client,
            namespace: temporal.namespace,
            workflowId,
            waitingSince: attachedAt,
          }),
      }).then(() => handle.result().catch((error: unknown) => explainClosedBuild(error, buildId, store))),
      interrupted,
      ...(workers
        ? [
            workers.done.then(() =>
              Promise.reject(infrastructureFailure('the in-process workers stopped before the build finished')),
            ),
          ]
        : []),
    ]);
    const summary = JSON.parse(await store.getText(summaryKey(buildId))) as BuildSummary;
    const outcome = await buildOutcome(store, buildId);
    printSummary(summary, result, outcome, output);
    await reportAfterBuild(buildId, config, output);
    if (options.json) output.json(summary);
    if (outcome.evaluatedImages === 0) {
      throw noEvaluatedImage(
        `build ${buildId} finished with no evaluated image: every problem failed, was skipped or was invalid`,
      );
    }
  } finally {
    if (workers && batcherId) await waitForBatcherToClose(temporal.client, buildId, batcherId);
    await workers?.shutdown();
    // Interrupted, the progress queries and the result's long poll are still in flight: closing
    // their connection under them makes the client retry on a closed channel and crash from a
    // timer. The process exits right after (cli/main.ts), which closes everything anyway.
    if (!wasInterrupted) await temporal.close();
  }
}

/** How long a closed build's batcher gets to close before the in-process workers stop. */
const BATCHER_CLOSE_WAIT_MS = 60_000;

/**
 * The batcher closes after its build: `close` once the build finished, or cancelling the batches it
 * submitted once the build was cancelled. Without dedicated workers it runs on this process's
 * workers, so they stay until it has closed; a build still running (the CLI interrupted) leaves it be.
 */
async function waitForBatcherToClose(client: Client, buildId: string, batcherId: string): Promise<void> {
  const build = await client.workflow
    .getHandle(buildWorkflowId(buildId))
    .describe()
    .catch(() => null);
  if (build === null || build.status.name === 'RUNNING') return;
  await Promise.race([
    client.workflow
      .getHandle(batcherId)
      .result()
      .catch(() => undefined),
    // Unref'd: a batcher that closed sooner leaves no timer holding the process.
    delay(BATCHER_CLOSE_WAIT_MS, undefined, { ref: false }),
  ]);
}

/**
 * The doctor before the build (CONTRACT.md: exit 2 when a model cannot serve a step, naming the
 * step). A finished build asks no model anything, so it is not checked. Returns what was learnt,
 * for the in-process llm worker; undefined when nothing was checked.
 */
async function preflight(
  config: Config,
  provider: ResolvedProvider,
  store: ArtifactStore,
  buildId: string,
  output: Output,
): Promise<ModelCapabilities | undefined> {
  if (await store.exists(summaryKey(buildId))) return undefined;
  if (provider !== 'scripted' && !config.credentials[provider === 'gemini' ? 'geminiApiKey' : 'openAiApiKey']) {
    // The key is with dedicated llm workers; they show each model the canary before its first image.
    output.line(`preflight skipped: no ${provider} API key here; the llm workers check their models on first use`);
    return undefined;
  }
  const capabilities = new ModelCapabilities();
  const report = await checkModels(config, provider, { capabilities });
  if (!report.ok) {
    throw badInput(
      `${describeUnservableSteps(report)}\n${formatDoctorTable(report).join('\n')}\n` +
        'nothing was started; fix the config or the server (scigen doctor checks again), or pass --no-preflight',
    );
  }
  const slowest = Math.max(0, ...report.rows.map((row) => row.latencyMs ?? 0));
  output.line(`preflight: every step's model answers (${report.server}; slowest first call ${slowest} ms)`);
  for (const row of report.rows)
    if (row.warning !== null) output.line(`preflight warning: ${row.step} (model ${row.model}): ${row.warning}`);
  return capabilities;
}

/** A build that closed without finishing: say what happened, where the partial manifest is, and how to go on. */
async function explainClosedBuild(error: unknown, buildId: string, store: ArtifactStore): Promise<never> {
  if (!(error instanceof WorkflowFailedError)) throw error;
  const resume = `run the same command again to resume it (finished problems are not redone)`;
  if (error.cause instanceof CancelledFailure) {
    const manifest = manifestKey(buildId);
    const written = (await store.exists(manifest)) ? `; manifest of the finished problems: ${store.uri(manifest)}` : '';
    throw infrastructureFailure(`build ${buildId} was cancelled${written}; ${resume}`);
  }
  if (error.cause instanceof TerminatedFailure)
    throw infrastructureFailure(`build ${buildId} was terminated; ${resume}`);
  throw infrastructureFailure(`build ${buildId} failed: ${error.cause?.message ?? error.message}; ${resume}`);
}

interface ValidatedInput {
  problems: StagedProblem[];
  invalid: ManifestRecord[];
  /** Identifies the input, so the same build id with another input is refused. */
  digest: string;
  /** Reference image paths are relative to it. */
  inputPath: string;
}

/**
 * The same check `scigen validate` makes (cli/input-check.ts), printed in brief; invalid problems
 * stop the build unless `--skip-invalid` records them, and an error about the file as a whole always does.
 */
async function validateInput(
  inputPath: string,
  config: Config,
  skipInvalid: boolean,
  output: Output,
): Promise<ValidatedInput> {
  const { parsed, report } = await checkInputFile(inputPath, config);
  for (const line of formatInputReportBrief(report)) output.line(line);
  const wholeFileErrors = parsed.errors.filter((error) => error.index < 0);
  if (wholeFileErrors.length > 0 || (parsed.errors.length > 0 && !skipInvalid)) {
    const lines = parsed.errors.slice(0, 50).map((error) => formatInputError(inputPath, error));
    if (parsed.errors.length > 50) lines.push(`… and ${parsed.errors.length - 50} more`);
    const hint =
      wholeFileErrors.length === 0
        ? '\nnothing was started; fix the input, or pass --skip-invalid to record these lines as invalid (scigen validate lists what the file holds)'
        : '';
    throw badInput(`invalid input:\n${lines.join('\n')}${hint}`);
  }
  for (const error of parsed.errors) output.line(`skipping ${formatInputError(inputPath, error)}`);

  const problems = parsed.problems.map((problem) => ({ problemKey: problemKey(problem.id), problem }));
  const seen = new Map<string, string | number>();
  for (const { problemKey: key, problem } of problems) {
    const other = seen.get(key);
    if (other !== undefined)
      throw badInput(
        `${inputPath}: ids ${JSON.stringify(other)} and ${JSON.stringify(problem.id)} map to the same key ${key}`,
      );
    seen.set(key, problem.id);
  }
  const invalid = invalidProblems(inputPath, parsed.errors).map(({ id, reasons }) =>
    unprocessedManifestLine({ id, verdict: 'invalid', reason: reasons }),
  );
  const digest = createHash('sha256').update(JSON.stringify(problems)).update(JSON.stringify(invalid)).digest('hex');
  return { problems, invalid, digest, inputPath };
}

function defaultBuildId(inputPath: string, digest: string): string {
  const stem = basename(inputPath, extname(inputPath))
    .replace(/[^A-Za-z0-9._-]/g, '-')
    .replace(/^[^A-Za-z0-9]+/, '')
    .slice(0, 60);
  return `${stem || 'build'}-${digest.slice(0, 8)}`;
}

/** What `builds/<build>/input.json` says of the staged input; written last, so its presence means complete. */
interface StagedInputDescription {
  digest: string;
  pageSize: number;
  pageCount: number;
  /** Problems on each page (pages are cut by bytes too); absent when staged before that, every page but the last holding pageSize. */
  pageCounts?: number[];
  problemCount: number;
}

/**
 * Writes the validated input once, in pages; a build id already used for another input is refused.
 * A page closes at `build.pageSize` problems or before passing PAGE_BYTE_BUDGET bytes, so that
 * reading it stays far below Temporal's payload limits. A resumed build keeps the layout it was staged with.
 */
async function stageInput(
  store: ArtifactStore,
  buildId: string,
  staged: ValidatedInput,
  config: Config,
): Promise<StagedInputDescription> {
  const pageSize = config.build.pageSize;
  const descriptionKey = inputDescriptionKey(buildId);
  try {
    const existing = JSON.parse(await store.getText(descriptionKey)) as StagedInputDescription;
    if (existing.digest !== staged.digest) {
      throw badInput(`build ${buildId} already exists with a different input; choose another --build-id`);
    }
    return existing;
  } catch (error) {
    if (!(error instanceof ArtifactNotFoundError)) throw error;
  }
  await stageReferenceImages(store, buildId, staged.problems, staged.inputPath, {
    s3PathStyle: config.s3PathStyle,
  });
  const lines = staged.problems.map(stagedLine);
  const pageCounts = cutPages(lines.map(utf8Bytes), { maxProblems: pageSize, maxBytes: PAGE_BYTE_BUDGET });
  let first = 0;
  for (const [page, count] of pageCounts.entries()) {
    await store.put(stagedPageKey(buildId, page), lines.slice(first, first + count).join(''), 'application/x-ndjson');
    first += count;
  }
  if (staged.invalid.length > 0) {
    await store.put(
      invalidRecordsKey(buildId),
      staged.invalid.map((record) => `${JSON.stringify(record)}\n`).join(''),
      'application/x-ndjson',
    );
  }
  const description: StagedInputDescription = {
    digest: staged.digest,
    pageSize,
    pageCount: pageCounts.length,
    pageCounts,
    problemCount: staged.problems.length,
  };
  await store.put(descriptionKey, `${JSON.stringify(description, null, 2)}\n`, 'application/json');
  return description;
}

/** What an external generator's results name as their model. */
const EXTERNAL_MODEL = 'external';

export function problemSettings(config: Config, provider: ResolvedProvider): ProblemSettings {
  const models = provider === 'gemini' ? config.gemini.models : config.openai.models;
  const imageModel = provider === 'gemini' ? DEFAULT_IMAGE_MODELS.gemini : DEFAULT_IMAGE_MODELS.openai;
  // The protocol decides refinement, dpi and VE (scigenbench fixes them; dataset takes the config's).
  const protocol = protocolSettings({
    protocol: config.protocol,
    refinementRounds: config.refinement.rounds,
    dpi: config.render.dpi,
    visualAnswer: config.ve,
  });
  return {
    generators: config.generators.map((generator) => {
      const { name, paradigm } = generator;
      // An external generator calls no model: "external" stands in the manifest's model field.
      if (paradigm === 'external') return { name, paradigm, model: EXTERNAL_MODEL, images: generator.images! };
      return {
        name,
        paradigm,
        model: generator.model ?? (paradigm === 'code' ? models.code : imageModel),
        // A code generator that names no model asks each code step's own model; refine defaults to repair's.
        ...(paradigm === 'code' && generator.model === undefined
          ? { revisionModels: { repair: models.repair, refine: models.refine ?? models.repair } }
          : {}),
        ...(paradigm === 'pixel' && generator.baseUrl !== undefined ? { baseUrl: generator.baseUrl } : {}),
      };
    }),
    refinementRounds: protocol.settings.refinementRounds,
    policy: config.policy,
    maxRenderAttempts: config.render.maxAttempts,
    dpi: protocol.settings.dpi,
    renderTimeoutSeconds: config.render.timeoutSeconds,
    llmMaxAttempts: config.llm.maxAttempts,
    llmTimeoutSeconds: config.llm.requestTimeoutSeconds,
    // Model calls go to the provider's own queue, whose rate limit all its workers share.
    taskQueues: { ...taskQueues(config), llm: llmTaskQueue(config.temporal.taskQueuePrefix, provider) },
    provider,
    protocol,
  };
}

/**
 * Batch mode's settings: what each problem is told (which steps go through batches, and where) and
 * the batcher's. The bundled scripted endpoint speaks OpenAI's batch interface.
 */
export function batchMode(
  config: Config,
  provider: ResolvedProvider,
  buildId: string,
): { problems: ProblemBatchSettings; batcher: BatcherInput } {
  const batchProvider = provider === 'gemini' ? 'gemini' : 'openai';
  const prefix = config.temporal.taskQueuePrefix;
  const taskQueue = batchTaskQueue(prefix, provider);
  const limits = BATCH_LIMITS[batchProvider];
  return {
    problems: {
      steps: config.batch.steps,
      maxResubmits: config.batch.maxResubmits,
      batcherWorkflowId: batcherWorkflowId(buildId, batchProvider),
      taskQueue,
    },
    batcher: {
      buildId,
      provider: batchProvider,
      taskQueue,
      maxRequests: Math.min(config.batch.maxRequests, limits.maxRequests),
      maxBytes: Math.floor(limits.maxBytes * BATCH_BYTES_MARGIN),
      maxWaitMs: Math.round(config.batch.maxWaitMinutes * 60_000),
      pollMs: Math.round(config.batch.pollSeconds * 1000),
      maxPollMs: Math.round(Math.max(config.batch.maxPollSeconds, config.batch.pollSeconds) * 1000),
      continueAsNewEvents: config.build.continueAsNewEvents,
    },
  };
}

/** How many failure reasons a finished build prints. */
const PRINTED_FAILURE_REASONS = 5;

/** What the finished build's manifest says about its images and failures, read a line at a time. */
async function buildOutcome(store: ArtifactStore, buildId: string): Promise<BuildOutcome> {
  const tally = createBuildOutcomeTally();
  for await (const record of readManifest(store, buildId)) tally.add(record);
  return tally.finish(PRINTED_FAILURE_REASONS);
}

function printSummary(summary: BuildSummary, result: DatasetBuildOutput, outcome: BuildOutcome, output: Output): void {
  const verdicts = Object.entries(summary.verdicts)
    .filter(([, count]) => count > 0)
    .map(([verdict, count]) => `${verdict} ${count}`)
    .join(', ');
  output.line('');
  output.line(`build ${summary.build_id} finished: ${summary.problems} problems — ${verdicts}`);
  if (summary.r_inv_mean !== null)
    output.line(`per-image R_inv (mean of each image's share of quizzes right): ${summary.r_inv_mean.toFixed(3)}`);
  if (summary.judge_means) {
    output.line(
      `judge means: ${JUDGE_DIMENSIONS.map(
        (dimension) => `${JUDGE_LABELS[dimension].short} ${summary.judge_means![dimension].toFixed(2)}`,
      ).join(', ')}`,
    );
  }
  if (outcome.failureReasons.length > 0) {
    output.line('most frequent failure reasons (problems × reason):');
    for (const counted of outcome.failureReasons) output.line(`  ${formatCountedReason(counted)}`);
  }
  output.line(
    `build total: tokens in ${summary.usage.input_tokens}, out ${summary.usage.output_tokens}, cost $${summary.usage.cost_usd.toFixed(4)} (every step)` +
      (summary.usage.batch_calls
        ? `; ${summary.usage.batch_calls} calls through batches, the same calls in real time: $${realtimeCostOf(summary.usage).toFixed(4)}`
        : ''),
  );
  // A generator's cost is its own steps only; the shared ones (classify, plan, quiz) are in the total.
  if (summary.generators.length > 1 || summary.generators[0]?.usage.cost_usd !== summary.usage.cost_usd) {
    const each = summary.generators.map(
      (generator) => `${generator.generator} $${generator.usage.cost_usd.toFixed(4)}`,
    );
    output.line(`generator cost (its own steps; classify, plan and quiz are shared): ${each.join(', ')}`);
  }
  output.line('');
  output.line(formatLeaderboard([{ buildId: summary.build_id, summary }]));
  output.line('');
  output.line(`manifest: ${result.manifestUri}`);
  output.line(`summary:  ${result.summaryUri}`);
}
