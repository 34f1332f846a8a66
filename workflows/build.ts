import {
  ApplicationFailure,
  ChildWorkflowFailure,
  condition,
  continueAsNew,
  executeChild,
  isCancellation,
  proxyActivities,
  setHandler,
  allHandlersFinished,
  workflowInfo,
} from '@temporalio/workflow';
import type { StorageActivities } from '../activities/index.ts';
import type { ProblemPageEntry } from '../activities/records.ts';
import { addUsage, VERDICTS, ZERO_USAGE, type Usage, type Verdict } from '../domain/types.ts';
import {
  problemWorkflowId,
  progressQuery,
  searchAttributes,
  type BuildProgress,
  type DatasetBuildInput,
  type DatasetBuildOutput,
} from './definitions.ts';
import { problemWorkflow } from './problem.ts';

/** Problems read per page of staged input. */
const PAGE_SIZE = 200;

/** Where a continued build picks up, carried across continue-as-new. */
export interface BuildCursor {
  offset: number;
  counts: Record<Verdict, number>;
  usage: Usage;
}

/**
 * A dataset build: reads the staged input in pages, runs one child workflow per problem with at
 * most `concurrency` in flight, continues as new before its history grows large, and finally
 * writes manifest.jsonl and summary.json.
 */
export async function datasetBuildWorkflow(input: DatasetBuildInput, cursor?: BuildCursor): Promise<DatasetBuildOutput> {
  const storage = proxyActivities<StorageActivities>({
    taskQueue: input.settings.taskQueues.workflows,
    startToCloseTimeout: '10m',
    retry: { initialInterval: '1s', maximumAttempts: 20 },
  });

  const counts: Record<Verdict, number> = cursor?.counts ?? emptyCounts();
  let usage: Usage = cursor?.usage ?? ZERO_USAGE;
  let offset = cursor?.offset ?? 0;
  let inFlight = 0;
  // A child's fault that is not a problem outcome (cancellation, storage out of retries) ends the build.
  let fault: unknown = null;
  let phase: BuildProgress['phase'] = 'running';
  const total = input.problemCount + input.invalidCount;
  if (!cursor) counts.invalid = input.invalidCount;

  setHandler(progressQuery, () => ({
    buildId: input.buildId,
    total,
    completed: VERDICTS.reduce((sum, verdict) => sum + counts[verdict], 0),
    inFlight,
    counts: { ...counts },
    usage,
    phase,
  }));

  function settle(verdict: Verdict, problemUsage: Usage): void {
    counts[verdict] += 1;
    usage = addUsage(usage, problemUsage);
  }

  async function runProblem(entry: ProblemPageEntry): Promise<void> {
    const workflowId = problemWorkflowId(input.buildId, entry.problemKey);
    try {
      const result = await executeChild(problemWorkflow, {
        workflowId,
        taskQueue: input.settings.taskQueues.workflows,
        args: [{ buildId: input.buildId, problemKey: entry.problemKey, problem: entry.problem, settings: input.settings }],
        typedSearchAttributes: [
          { key: searchAttributes.buildId, value: input.buildId },
          { key: searchAttributes.stage, value: 'queued' },
        ],
        staticSummary: `problem ${String(entry.problem.id)}`,
      });
      settle(result.verdict, result.usage);
    } catch (error) {
      if (isCancellation(error) || !(error instanceof ChildWorkflowFailure)) throw error;
      // A problem workflow that failed as a whole still gets its manifest line, with the reason.
      const reason = `problem workflow failed: ${error.cause?.message ?? error.message}`;
      await storage.recordProblemResult({
        buildId: input.buildId,
        problemKey: entry.problemKey,
        problemId: entry.problem.id,
        extra: entry.problem.extra,
        outcome: {
          verdict: 'failed',
          reasons: [reason],
          subject: entry.problem.subject ?? null,
          imageType: entry.problem.image_type ?? null,
          imageKey: null,
          codeKey: null,
          planKey: null,
          judge: null,
          rInv: null,
          renderAttempts: 0,
          usage: ZERO_USAGE,
        },
      });
      settle('failed', ZERO_USAGE);
    }
  }

  async function drain(): Promise<void> {
    await condition(() => inFlight === 0);
    if (fault !== null) throw fault;
  }

  while (offset < input.problemCount) {
    const page = await storage.readProblemPage({ buildId: input.buildId, inputKey: input.inputKey, offset, limit: PAGE_SIZE });
    if (page.length === 0) {
      throw ApplicationFailure.nonRetryable(`staged input ends at ${offset} of ${input.problemCount} problems`, 'StagedInputTruncated');
    }
    for (const entry of page) {
      if (entry.finished) {
        settle(entry.finished.verdict, entry.finished.usage);
        continue;
      }
      await condition(() => inFlight < input.concurrency || fault !== null);
      if (fault !== null) throw fault;
      inFlight += 1;
      runProblem(entry)
        .catch((error: unknown) => {
          fault ??= error;
        })
        .finally(() => {
          inFlight -= 1;
        });
    }
    offset += page.length;

    if (offset < input.problemCount && workflowInfo().continueAsNewSuggested) {
      // Children report to the run that started them, so the window drains before the new run.
      await drain();
      await condition(allHandlersFinished);
      await continueAsNew<typeof datasetBuildWorkflow>(input, { offset, counts, usage });
    }
  }
  await drain();

  phase = 'finalizing';
  const finalized = await storage.finalizeBuild({ buildId: input.buildId, inputKey: input.inputKey });
  phase = 'finished';
  return {
    buildId: input.buildId,
    manifestUri: finalized.manifestUri,
    summaryUri: finalized.summaryUri,
    counts: { ...finalized.summary.verdicts },
    usage: finalized.summary.usage,
  };
}

function emptyCounts(): Record<Verdict, number> {
  return { accepted: 0, rejected: 0, skipped: 0, failed: 0, invalid: 0 };
}
