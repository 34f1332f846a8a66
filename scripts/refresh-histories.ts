/**
 * `npm run histories:refresh`: runs the sample build of test/replay/scenarios.ts against a
 * throwaway Temporal dev server, with fake activities, and rewrites test/replay/histories/ with
 * the histories it made. test/replay/replay.test.ts replays them against the current workflow code.
 * It rewrites only the folder's own files: the histories of older workflow code kept in its
 * subfolders (each with its own index.json) stay as they are, and keep proving the old paths replay.
 */
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client, Connection, WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { CancelledFailure } from '@temporalio/common';
import { historyToJSON, type History } from '@temporalio/common/lib/proto-utils.js';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import type { PageProblem } from '../activities/record.ts';
import { problemFacts } from '../domain/problem-facts.ts';
import { ensureDevServer, findFreePort } from '../infra/dev-server.ts';
import { createFakeActivities, type ActivityScript } from '../test/replay/fake-activities.ts';
import {
  BUILD_SCENARIO,
  DEFAULT_RESPONSES,
  PROBLEM_SCENARIOS,
  scenarioProblem,
  SETTINGS,
  TASK_QUEUES,
  type Expected,
  type HistoryEntry,
  type ProblemScenario,
} from '../test/replay/scenarios.ts';
import { workflowBundle } from '../workers/workflow-bundle.ts';
import { datasetBuildWorkflow } from '../workflows/build.ts';
import {
  buildWorkflowId,
  problemWorkflowId,
  SEARCH_ATTRIBUTE_TYPES,
  setWindowSizeUpdate,
  type DatasetBuildInput,
  type ProblemWorkflowInput,
} from '../workflows/definitions.ts';
import { problemWorkflow } from '../workflows/problem.ts';
import { stagedPageKey } from '../storage/build-layout.ts';

const historiesDirectory = fileURLToPath(new URL('../test/replay/histories/', import.meta.url));
/** Problems run on their own belong to this build id; its build workflow does not exist. */
const STANDALONE_BUILD_ID = 'replay';
const NO_USAGE = { input_tokens: 0, output_tokens: 0, cost_usd: 0 };

Runtime.install({ logger: new DefaultLogger('ERROR') });

const scripts = new Map<string, ActivityScript>();
const waitingForCancellation = new Map<string, () => void>();
const activities = createFakeActivities({
  defaults: DEFAULT_RESPONSES,
  scriptFor: (workflowId) => scripts.get(workflowId),
  onWaitingForCancellation: (workflowId) => waitingForCancellation.get(workflowId)?.(),
});

const runDirectory = await mkdtemp(path.join(tmpdir(), 'scigen-histories-'));
const server = await ensureDevServer({
  port: await findFreePort(),
  uiPort: await findFreePort(),
  dbFile: path.join(runDirectory, 'temporal.db'),
  searchAttributes: SEARCH_ATTRIBUTE_TYPES,
});
const workerConnection = await NativeConnection.connect({ address: server.address });
const client = new Client({ connection: await Connection.connect({ address: server.address }) });
// Every queue gets every fake: which activity runs where is the workflow's business, not the fakes'.
const workers = await Promise.all([
  Worker.create({
    connection: workerConnection,
    taskQueue: TASK_QUEUES.workflows,
    workflowBundle: await workflowBundle(),
    activities,
  }),
  Worker.create({ connection: workerConnection, taskQueue: TASK_QUEUES.llm, activities }),
  Worker.create({ connection: workerConnection, taskQueue: TASK_QUEUES.render, activities }),
]);
const running = Promise.all(workers.map((worker) => worker.run()));

try {
  await mkdir(historiesDirectory, { recursive: true });
  for (const file of await readdir(historiesDirectory)) {
    if (file.endsWith('.json')) await rm(path.join(historiesDirectory, file));
  }
  const entries = [...(await Promise.all(PROBLEM_SCENARIOS.map(runProblemScenario))), ...(await runBuildScenario())];
  await writeFile(path.join(historiesDirectory, 'index.json'), `${JSON.stringify(entries, null, 2)}\n`);
  console.log(`wrote ${entries.length} histories to ${path.relative(process.cwd(), historiesDirectory)}`);
} finally {
  for (const worker of workers) worker.shutdown();
  await running;
  await client.connection.close();
  await workerConnection.close();
  await server.stop();
  await rm(runDirectory, { recursive: true, force: true });
}

async function runProblemScenario(scenario: ProblemScenario): Promise<HistoryEntry> {
  const workflowId = problemWorkflowId(STANDALONE_BUILD_ID, scenario.name);
  const problem = scenarioProblem(scenario.name, scenario.problem);
  scripts.set(workflowId, { stageProblem: [{ compute: () => problemFacts(problem) }], ...scenario.activities });
  const waiting = new Promise<void>((resolve) => waitingForCancellation.set(workflowId, resolve));
  const input: ProblemWorkflowInput = {
    buildId: STANDALONE_BUILD_ID,
    problemKey: scenario.name,
    problemId: problem.id,
    staged: { pageKey: stagedPageKey(STANDALONE_BUILD_ID, 0), index: 0 },
    settings: { ...SETTINGS, ...scenario.settings },
  };
  const handle = await client.workflow.start(problemWorkflow, {
    workflowId,
    taskQueue: TASK_QUEUES.workflows,
    args: [input],
  });
  if (scenario.cancel) {
    await waiting;
    await handle.cancel();
  }
  await expectEnding(scenario.name, handle, scenario.expected);
  return saveHistory(scenario.name, scenario.description, 'problemWorkflow', workflowId, await handle.fetchHistory());
}

/** Runs the build to its end and saves the history of every run of its continue-as-new chain. */
async function runBuildScenario(): Promise<HistoryEntry[]> {
  const scenario = BUILD_SCENARIO;
  const workflowId = buildWorkflowId(scenario.buildId);
  const pages = new Map<string, PageProblem[]>();
  scenario.problems.forEach((problem, index) => {
    const pageKey = stagedPageKey(scenario.buildId, Math.floor(index / scenario.pageSize));
    const entry: PageProblem = {
      problemKey: problem.key,
      problemId: scenarioProblem(problem.key).id,
      ...(problem.finished ? { finished: { verdict: problem.finished, usage: NO_USAGE } } : {}),
    };
    pages.set(pageKey, [...(pages.get(pageKey) ?? []), entry]);
    if (problem.activities) scripts.set(problemWorkflowId(scenario.buildId, problem.key), problem.activities);
  });
  scripts.set(workflowId, {
    listPageProblems: [{ compute: (input: { pageKey: string }) => pages.get(input.pageKey) ?? [] }],
  });
  const input: DatasetBuildInput = {
    buildId: scenario.buildId,
    inputPages: [...pages.keys()],
    pageSize: scenario.pageSize,
    problemCount: scenario.problems.length,
    invalidCount: 0,
    windowSize: scenario.windowSize,
    budgetUsd: null,
    continueAsNewEvents: scenario.continueAsNewEvents,
    settings: SETTINGS,
  };
  const handle = await client.workflow.start(datasetBuildWorkflow, {
    workflowId,
    taskQueue: TASK_QUEUES.workflows,
    args: [input],
  });
  await handle.executeUpdate(setWindowSizeUpdate, { args: [scenario.windowSizeUpdate] });
  await handle.result();

  const entries: HistoryEntry[] = [];
  let runId: string | undefined = handle.firstExecutionRunId;
  while (runId !== undefined) {
    const history = await client.workflow.getHandle(workflowId, runId).fetchHistory();
    const run = entries.length + 1;
    entries.push(
      await saveHistory(
        `${scenario.name}.run-${run}`,
        `${scenario.description} (run ${run})`,
        'datasetBuildWorkflow',
        workflowId,
        history,
      ),
    );
    runId = history.events?.at(-1)?.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId ?? undefined;
  }
  if (entries.length < 2) {
    throw new Error(`${scenario.name} did not continue as new: raise its problems or lower continueAsNewEvents`);
  }
  return entries;
}

/** Fails the refresh when a scenario did not end as it says: its history would not cover its branch. */
async function expectEnding(name: string, handle: WorkflowHandle<typeof problemWorkflow>, expected: Expected) {
  let ending: string;
  try {
    const output = await handle.result();
    ending = `completed ${output.verdict}`;
  } catch (error) {
    if (!(error instanceof WorkflowFailedError)) throw error;
    ending = error.cause instanceof CancelledFailure ? 'cancelled' : 'failed';
  }
  const wanted = expected.status === 'completed' ? `completed ${expected.verdict}` : expected.status;
  if (ending !== wanted) throw new Error(`scenario ${name} ended ${ending}, expected ${wanted}`);
}

async function saveHistory(
  scenario: string,
  description: string,
  workflowType: string,
  workflowId: string,
  history: History,
): Promise<HistoryEntry> {
  const file = `${scenario}.json`;
  await writeFile(path.join(historiesDirectory, file), historyToJSON(history));
  const scheduled = (history.events ?? []).flatMap((event) => {
    const name = event.activityTaskScheduledEventAttributes?.activityType?.name;
    return name ? [name] : [];
  });
  return { file, workflowType, workflowId, scenario, description, activities: scheduled };
}
