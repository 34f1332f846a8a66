import { WorkflowFailedError, type Client } from '@temporalio/client';
import { ApplicationFailure, ActivityFailure } from '@temporalio/common';
import { Runtime } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createConsoleLogger } from '../../cli/logger.ts';
import { DEFAULT_FILTER_POLICY } from '../../domain/filter-policy.ts';
import type { ArtifactStore } from '../../storage/artifact-store.ts';
import { stagedPageKey } from '../../storage/build-layout.ts';
import { createWorkflowsWorker } from '../../workers/workers.ts';
import { buildWorkflowId, type DatasetBuildInput } from '../../workflows/definitions.ts';
import { datasetBuildWorkflow } from '../../workflows/build.ts';
import { startWorkflowTestEnvironment, type WorkflowTestEnvironment } from '../helpers/workflow-environment.ts';

Runtime.install({ logger: createConsoleLogger() });

// A staged page that cannot be read can never be read by retrying: the build must fail at once,
// saying which page and why, instead of retrying its task forever.
describe('a build whose staged input is damaged', () => {
  let environment: WorkflowTestEnvironment;
  let store: ArtifactStore;
  let client: Client;
  const taskQueue = `staged-input-${process.pid}`;

  beforeAll(async () => {
    environment = await startWorkflowTestEnvironment('staged-input', async (common) => [
      await createWorkflowsWorker({ ...common, taskQueue }),
    ]);
    ({ store, client } = environment);
  });

  afterAll(async () => {
    await environment?.close();
  });

  function buildInput(buildId: string, pageKey: string, problemCount: number): DatasetBuildInput {
    return {
      buildId,
      inputPages: [pageKey],
      pageSize: 2,
      problemCount,
      invalidCount: 0,
      windowSize: 2,
      budgetUsd: null,
      continueAsNewEvents: 10_000,
      settings: {
        policy: DEFAULT_FILTER_POLICY,
        maxRenderAttempts: 3,
        dpi: 60,
        renderTimeoutSeconds: 20,
        llmMaxAttempts: 2,
        llmTimeoutSeconds: 20,
        taskQueues: { workflows: taskQueue, llm: `${taskQueue}-llm`, render: `${taskQueue}-render` },
      },
    };
  }

  /** The build's failure, after checking the workflow failed (not timed out, not retried forever). */
  async function failureOf(input: DatasetBuildInput): Promise<{ message: string; type: string | undefined }> {
    const error = await client.workflow
      .execute(datasetBuildWorkflow, {
        workflowId: buildWorkflowId(input.buildId),
        taskQueue,
        args: [input],
        workflowExecutionTimeout: '2 minutes',
      })
      .then(
        () => undefined,
        (reason: unknown) => reason,
      );
    expect(error).toBeInstanceOf(WorkflowFailedError);
    let cause = (error as WorkflowFailedError).cause;
    if (cause instanceof ActivityFailure) cause = cause.cause;
    expect(cause).toBeInstanceOf(ApplicationFailure);
    const failure = cause as ApplicationFailure;
    expect(failure.nonRetryable).toBe(true);
    return { message: failure.message, type: failure.type ?? undefined };
  }

  it('a page that does not parse fails the build, naming the page and the line', async () => {
    const pageKey = stagedPageKey('corrupt-page', 0);
    await store.put(pageKey, '{"problemKey": "p1", "problem": {"id": "p1", "question": "?", "extra": {}}}\n{"problemK');
    const failure = await failureOf(buildInput('corrupt-page', pageKey, 2));
    expect(failure.type).toBe('StagedInputUnreadable');
    expect(failure.message).toContain(store.uri(pageKey));
    expect(failure.message).toMatch(/is corrupt at line 2: .*JSON/);
  });

  it('a line that is JSON but not a staged problem is named too', async () => {
    const pageKey = stagedPageKey('not-a-problem', 0);
    await store.put(pageKey, '{"id": "p1", "question": "?"}\n');
    const failure = await failureOf(buildInput('not-a-problem', pageKey, 1));
    expect(failure.message).toContain('is corrupt at line 1: not a staged problem');
  });

  it('a missing page fails the build, naming it', async () => {
    const pageKey = stagedPageKey('missing-page', 0);
    const failure = await failureOf(buildInput('missing-page', pageKey, 2));
    expect(failure.type).toBe('StagedInputUnreadable');
    expect(failure.message).toBe(
      `staged input page ${store.uri(pageKey)} is missing; start the build again from its input file`,
    );
  });

  it('a page cut short fails the build, naming the page and the count', async () => {
    const pageKey = stagedPageKey('short-page', 0);
    await store.put(pageKey, '\n');
    const failure = await failureOf(buildInput('short-page', pageKey, 2));
    expect(failure.type).toBe('StagedInputUnreadable');
    expect(failure.message).toBe(`staged input page ${pageKey} has 0 problems, expected 2`);
  });

  it('a page cut short of the count staged for it (pages cut by bytes) fails the build the same way', async () => {
    const pageKey = stagedPageKey('short-counted-page', 0);
    await store.put(pageKey, '\n');
    const failure = await failureOf({
      ...buildInput('short-counted-page', pageKey, 3),
      pageSize: 500,
      pageCounts: [3],
    });
    expect(failure.type).toBe('StagedInputUnreadable');
    expect(failure.message).toBe(`staged input page ${pageKey} has 0 problems, expected 3`);
  });
});
