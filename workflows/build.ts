import {
  allHandlersFinished,
  ApplicationFailure,
  CancellationScope,
  condition,
  continueAsNew,
  getExternalWorkflowHandle,
  isCancellation,
  ParentClosePolicy,
  patched,
  proxyActivities,
  setHandler,
  setWorkflowOptions,
  startChild,
  workflowInfo,
  WorkflowIdReusePolicy,
} from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import type { StorageActivities } from '../activities/index.ts';
import type { PageProblem, ProblemPageEntry } from '../activities/record.ts';
import { addUsage, VERDICTS, ZERO_USAGE, type Usage, type Verdict } from '../domain/types.ts';
import { locateProblem } from '../domain/staged-pages.ts';
import { protocolSettings, type BuildProtocol } from '../domain/protocol.ts';
import { batcherWorkflow } from './batcher.ts';
import {
  batcherControlSignal,
  batcherWorkflowId,
  behaviorOnVersionedWorkers,
  pauseSignal,
  problemFinishedSignal,
  problemWorkflowId,
  progressQuery,
  resumeSignal,
  searchAttributes,
  setWindowSizeUpdate,
  type BuildPhase,
  type DatasetBuildInput,
  type DatasetBuildOutput,
  type ProblemFinished,
  type ProblemSettings,
  type ProblemWorkflowInput,
} from './definitions.ts';
import { problemWorkflow } from './problem.ts';

/** Everything a build carries into its next run when it continues as new: a cursor and running totals. */
export interface BuildCursor {
  /** Index of the next problem to start. */
  next: number;
  counts: Record<Verdict, number>;
  usage: Usage;
  /** Keys of the problems in flight; they signal whichever run is current when they finish. */
  inFlight: string[];
  /** Finish signals from problems this build had not reached yet (children of an earlier, failed run). */
  early: ProblemFinished[];
  pausedBy: 'user' | 'budget' | null;
  windowSize: number;
  budgetUsd: number | null;
  runs: number;
  /** For the rate: workflow time the measure started, and problems completed by then. */
  rateSince: { atMs: number; completed: number };
}

const MAX_WINDOW_SIZE = 10_000;

/**
 * Pages are read as keys and ids (`listPageProblems`) and children are started with a reference to
 * their problem's line, not the problem: before it, every problem's text sat in this history twice.
 */
const PROBLEMS_BY_REFERENCE = 'problems-by-reference';

/** A page's problem as this build read it: by key and id, or whole (runs begun before PROBLEMS_BY_REFERENCE). */
type PageEntry = PageProblem | ProblemPageEntry;

// Under Worker Versioning a build follows the deployment's current version: its next workflow task
// after a promotion runs on the new workers, which replay this run's history with their code (so a
// change to this file is guarded by patched(), README "Changing workflow code"), and the problems it
// starts from then on start on the new version. It is the one workflow that lives across releases.
setWorkflowOptions(behaviorOnVersionedWorkers('AUTO_UPGRADE'), datasetBuildWorkflow);

/**
 * A dataset build. Reads the staged input a page at a time and keeps a sliding window of problem
 * workflows in flight. Children outlive the run that started them (ABANDON) and report back with a
 * signal, so the build continues as new without draining the window, carrying only a cursor and
 * totals. Pause, resume, window size and cancellation steer it; finalize streams the records into
 * manifest.jsonl and summary.json.
 */
export async function datasetBuildWorkflow(
  input: DatasetBuildInput,
  cursor?: BuildCursor,
): Promise<DatasetBuildOutput> {
  const storage = proxyActivities<StorageActivities>({
    taskQueue: input.settings.taskQueues.workflows,
    // Reading a page and finalizing heartbeat as they go, so a dead worker's task is retried
    // within the heartbeat timeout while a long finalize still has room.
    startToCloseTimeout: '1h',
    heartbeatTimeout: '20s',
    retry: { initialInterval: '1s', maximumInterval: '1m', maximumAttempts: 50 },
  });

  const counts: Record<Verdict, number> = cursor?.counts ?? { ...emptyCounts(), invalid: input.invalidCount };
  let usage: Usage = cursor?.usage ?? ZERO_USAGE;
  let next = cursor?.next ?? 0;
  const inFlight = new Set<string>(cursor?.inFlight ?? []);
  const early = new Map<string, ProblemFinished>(
    (cursor?.early ?? []).map((finished) => [finished.problemKey, finished]),
  );
  let pausedBy: 'user' | 'budget' | null = cursor?.pausedBy ?? null;
  let windowSize = cursor?.windowSize ?? input.windowSize;
  let budgetUsd = cursor?.budgetUsd ?? input.budgetUsd;
  const runs = cursor?.runs ?? 0;
  const rateSince = cursor?.rateSince ?? { atMs: Date.now(), completed: completedCount() };
  let phase: BuildPhase = 'running';
  let pendingStarts = 0;
  // A fault that is not a problem outcome (storage out of retries, say) ends the build.
  let fault: unknown = null;
  const total = input.problemCount + input.invalidCount;

  function completedCount(): number {
    return VERDICTS.reduce((sum, verdict) => sum + counts[verdict], 0);
  }

  function checkBudget(): void {
    if (budgetUsd !== null && usage.cost_usd >= budgetUsd && pausedBy === null) {
      pausedBy = 'budget';
      tellBatcher('pause');
    }
  }

  /** Batch mode: the build's batcher, kept across the build's runs (it outlives each, ABANDON). */
  const batcher = input.batcher;
  const batcherId = batcher ? batcherWorkflowId(input.buildId, batcher.provider) : null;

  async function startBatcher(): Promise<void> {
    if (!batcher || !batcherId) return;
    try {
      await startChild(batcherWorkflow, {
        workflowId: batcherId,
        taskQueue: input.settings.taskQueues.workflows,
        args: [batcher],
        parentClosePolicy: ParentClosePolicy.ABANDON,
        workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE,
        typedSearchAttributes: [{ key: searchAttributes.buildId, value: input.buildId }],
        staticSummary: `${batcher.provider} batches of build ${input.buildId}`,
      });
    } catch (error) {
      // Started by an earlier run of this build, and still collecting.
      if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
    }
    // A build paused before it continued as new keeps its batcher paused.
    if (pausedBy !== null) tellBatcher('pause');
  }

  function tellBatcher(command: 'pause' | 'resume' | 'close'): void {
    if (!batcherId) return;
    // A batcher that is gone has nothing to pause or close.
    getExternalWorkflowHandle(batcherId)
      .signal(batcherControlSignal, command)
      .catch(() => undefined);
  }

  function settle(verdict: Verdict | null, problemUsage: Usage): void {
    usage = addUsage(usage, problemUsage);
    if (verdict !== null) counts[verdict] += 1;
    checkBudget();
  }

  setHandler(problemFinishedSignal, (finished) => {
    if (inFlight.delete(finished.problemKey)) settle(finished.verdict, finished.usage);
    else early.set(finished.problemKey, finished);
  });
  setHandler(pauseSignal, () => {
    pausedBy ??= 'user';
    tellBatcher('pause');
  });
  setHandler(resumeSignal, (options) => {
    if (options.budgetUsd !== undefined) budgetUsd = options.budgetUsd;
    pausedBy = null;
    tellBatcher('resume');
    checkBudget();
  });
  setHandler(
    setWindowSizeUpdate,
    (size) => {
      windowSize = size;
      return windowSize;
    },
    {
      validator: (size) => {
        if (!Number.isInteger(size) || size < 1 || size > MAX_WINDOW_SIZE)
          throw new Error(`window size must be an integer from 1 to ${MAX_WINDOW_SIZE}`);
      },
    },
  );
  setHandler(progressQuery, () => {
    const completed = completedCount();
    const elapsedMinutes = (Date.now() - rateSince.atMs) / 60_000;
    const finishedSince = completed - rateSince.completed;
    const problemsPerMinute = finishedSince > 0 && elapsedMinutes > 0 ? finishedSince / elapsedMinutes : null;
    return {
      buildId: input.buildId,
      total,
      completed,
      inFlight: inFlight.size,
      counts: { ...counts },
      usage,
      phase: pausedBy !== null && phase === 'running' ? 'paused' : phase,
      pausedBy,
      windowSize,
      budgetUsd,
      problemsPerMinute,
      etaSeconds: problemsPerMinute ? Math.round(((total - completed) / problemsPerMinute) * 60) : null,
      runs,
      ...(batcherId ? { batcherWorkflowId: batcherId } : {}),
    };
  });

  async function startProblem(entry: PageEntry, pageKey: string, index: number): Promise<void> {
    pendingStarts += 1;
    const common = { buildId: input.buildId, problemKey: entry.problemKey, settings: input.settings };
    const problemInput: ProblemWorkflowInput =
      'problem' in entry
        ? { ...common, problem: entry.problem }
        : { ...common, problemId: entry.problemId, staged: { pageKey, index } };
    const problemId = 'problem' in entry ? entry.problem.id : entry.problemId;
    try {
      await startChild(problemWorkflow, {
        workflowId: problemWorkflowId(input.buildId, entry.problemKey),
        taskQueue: input.settings.taskQueues.workflows,
        args: [problemInput],
        // Children outlive a run that continues as new; they report back by signal.
        parentClosePolicy: ParentClosePolicy.ABANDON,
        // A problem that completed is never run again; one that failed or was cancelled may be.
        workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
        typedSearchAttributes: [
          { key: searchAttributes.buildId, value: input.buildId },
          { key: searchAttributes.stage, value: 'queued' },
        ],
        staticSummary: `problem ${String(problemId)}`,
      });
    } catch (error) {
      if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
      // Started by an earlier run of this build: still running (it will signal), or completed.
      const record = await storage.readProblemRecord({ buildId: input.buildId, problemKey: entry.problemKey });
      if (record && inFlight.delete(entry.problemKey)) {
        early.delete(entry.problemKey);
        settle(record.verdict, record.usage);
      }
    } finally {
      pendingStarts -= 1;
    }
  }

  async function continueAsNewIfDue(): Promise<void> {
    const info = workflowInfo();
    if (!info.continueAsNewSuggested && info.historyLength < input.continueAsNewEvents) return;
    await condition(() => pendingStarts === 0 || fault !== null);
    if (fault !== null) throw fault;
    await condition(allHandlersFinished);
    await continueAsNew<typeof datasetBuildWorkflow>(input, {
      next,
      counts,
      usage,
      inFlight: [...inFlight],
      early: [...early.values()],
      pausedBy,
      windowSize,
      budgetUsd,
      runs: runs + 1,
      rateSince,
    });
  }

  async function finalize(partial: boolean): Promise<DatasetBuildOutput> {
    phase = 'finalizing';
    const finalized = await storage.finalizeBuild({
      buildId: input.buildId,
      inputPages: input.inputPages,
      partial,
      ...(input.settings.generators ? { generators: input.settings.generators } : {}),
      ...(input.prompts ? { prompts: input.prompts } : {}),
      protocol: input.settings.protocol ?? formerProtocol(input.settings),
    });
    phase = 'finished';
    return {
      buildId: input.buildId,
      manifestUri: finalized.manifestUri,
      summaryUri: finalized.summaryUri,
      counts: { ...finalized.summary.verdicts },
      usage: finalized.summary.usage,
    };
  }

  try {
    await startBatcher();
    while (next < input.problemCount) {
      const located = locateProblem(next, input, input.problemCount);
      const pageKey = input.inputPages[located.page]!;
      const page: PageEntry[] = patched(PROBLEMS_BY_REFERENCE)
        ? await storage.listPageProblems({ buildId: input.buildId, pageKey })
        : await storage.readProblemPage({ buildId: input.buildId, pageKey });
      for (let index = next - located.first; index < page.length; index++) {
        await continueAsNewIfDue();
        const entry = page[index]!;
        const signalled = early.get(entry.problemKey);
        early.delete(entry.problemKey);
        if (entry.finished) {
          settle(entry.finished.verdict, entry.finished.usage);
        } else if (signalled) {
          settle(signalled.verdict, signalled.usage);
        } else {
          await condition(() => (pausedBy === null && inFlight.size < windowSize) || fault !== null);
          if (fault !== null) throw fault;
          inFlight.add(entry.problemKey);
          startProblem(entry, pageKey, index).catch((error: unknown) => {
            fault ??= error;
          });
        }
        next = located.first + index + 1;
      }
      if (page.length < located.count) {
        // A page cut short was damaged after staging: retrying cannot mend it, so the build fails and says where.
        throw ApplicationFailure.nonRetryable(
          `staged input page ${pageKey} has ${page.length} problems, expected ${located.count}`,
          'StagedInputUnreadable',
        );
      }
    }
    await condition(() => (inFlight.size === 0 && pendingStarts === 0) || fault !== null);
    if (fault !== null) throw fault;
    tellBatcher('close');
    return await finalize(false);
  } catch (error) {
    if (!isCancellation(error)) throw error;
    // Cancelled: cancel what is in flight, wait for it to close, and write the manifest of what finished.
    await CancellationScope.nonCancellable(async () => {
      phase = 'cancelling';
      await condition(() => pendingStarts === 0);
      await Promise.all(
        [...inFlight].map((problemKey) =>
          getExternalWorkflowHandle(problemWorkflowId(input.buildId, problemKey))
            .cancel()
            .catch(() => inFlight.delete(problemKey)),
        ),
      );
      // The batcher cancels the batches it submitted, so what no problem waits for is not paid.
      if (batcherId)
        await getExternalWorkflowHandle(batcherId)
          .cancel()
          .catch(() => undefined);
      await condition(() => inFlight.size === 0, '10 minutes');
      await finalize(true);
    });
    throw error;
  }
}

function emptyCounts(): Record<Verdict, number> {
  return { accepted: 0, rejected: 0, skipped: 0, failed: 0, invalid: 0 };
}

/** What a build started before protocols ran: the dataset protocol with its settings, without VE. */
function formerProtocol(settings: ProblemSettings): BuildProtocol {
  return protocolSettings({
    protocol: 'dataset',
    refinementRounds: settings.refinementRounds ?? 0,
    dpi: settings.dpi,
    visualAnswer: false,
  });
}
