/**
 * Batch mode, on the problem workflow's side: the model steps of `batch.steps` are called as in
 * real time, but with `batch` in their input. A step whose calls have no answer yet returns
 * `{ deferred }`; the requests go to the build's batcher, the problem waits (durably, for hours if
 * need be) for the batcher's note that each is answered, and runs the step again, which now finds
 * its answers. A request the batch could not answer goes into a later batch, `maxResubmits` times,
 * then the step runs once more in real time for what is still unanswered.
 */
import {
  condition,
  getExternalWorkflowHandle,
  setHandler,
  workflowInfo,
  type ActivityInterfaceFor,
} from '@temporalio/workflow';
import type { ActivityOptions } from '@temporalio/common';
import type { LlmActivities } from '../activities/index.ts';
import { batchCustomId, isDeferred, type DeferredCall } from '../domain/batch.ts';
import type { Step } from '../domain/types.ts';
import {
  batchAnswersSignal,
  batchRequestSignal,
  STEP_OF_MODEL_ACTIVITY,
  type BatchAnswerNote,
  type ProblemBatchSettings,
} from './definitions.ts';

type RawStep = ((input: unknown) => Promise<unknown>) & {
  executeWithOptions(options: Partial<ActivityOptions>, args: [unknown]): Promise<unknown>;
};

/** The model activities with the steps of `batch.steps` answered through batches. */
export function batchedSteps(
  llm: ActivityInterfaceFor<LlmActivities>,
  onBatchQueue: ActivityInterfaceFor<LlmActivities>,
  batch: ProblemBatchSettings,
  problemId: string | number,
): ActivityInterfaceFor<LlmActivities> {
  const notes = new Map<string, BatchAnswerNote>();
  setHandler(batchAnswersSignal, (answers) => {
    for (const note of answers) notes.set(note.customId, note);
  });
  const batcher = getExternalWorkflowHandle(batch.batcherWorkflowId);
  const attempts = new Map<Step, number>();
  let invocations = 0;

  function nextCustomId(step: Step): string {
    const attempt = (attempts.get(step) ?? 0) + 1;
    attempts.set(step, attempt);
    return batchCustomId({ step, problemId: String(problemId), attempt });
  }

  /** Sends the calls through batches; false when some are left for real time. */
  async function answerByBatch(calls: DeferredCall[]): Promise<boolean> {
    const resubmits = new Map<string, number>();
    let waiting = calls;
    let allAnswered = true;
    while (waiting.length > 0) {
      const sent = waiting.map((call) => ({ call, customId: nextCustomId(call.step) }));
      try {
        await batcher.signal(
          batchRequestSignal,
          sent.map(({ call, customId }) => ({
            customId,
            requestKey: call.requestKey,
            kind: call.kind,
            model: call.model,
            bytes: call.bytes,
            workflowId: workflowInfo().workflowId,
          })),
        );
      } catch {
        // No batcher to take them (the build that ran it is gone): real time still answers.
        return false;
      }
      await condition(() => sent.every(({ customId }) => notes.has(customId)));
      waiting = [];
      for (const { call, customId } of sent) {
        const note = notes.get(customId)!;
        notes.delete(customId);
        if (note.answered) continue;
        const count = resubmits.get(call.requestKey) ?? 0;
        if (count < batch.maxResubmits) {
          resubmits.set(call.requestKey, count + 1);
          waiting.push(call);
        } else {
          allAnswered = false;
        }
      }
    }
    return allAnswered;
  }

  /**
   * The step on the batch queue until its calls are answered; once some are left for real time, on
   * the llm queue, whose rate limit real calls share.
   */
  async function run(name: keyof LlmActivities, options: Partial<ActivityOptions>, input: object): Promise<unknown> {
    invocations += 1;
    const seq = invocations;
    let realtime = false;
    for (;;) {
      const step: RawStep = (realtime ? realtimeProxies : batchProxies)[name];
      const result: unknown = await step.executeWithOptions(options, [
        { ...input, batch: { seq, ...(realtime ? { realtime } : {}) } },
      ]);
      if (!isDeferred(result)) return result;
      realtime = !(await answerByBatch(result.deferred));
    }
  }

  const realtimeProxies = llm as unknown as Record<keyof LlmActivities, RawStep>;
  const batchProxies = onBatchQueue as unknown as Record<keyof LlmActivities, RawStep>;
  const steps = {} as Record<keyof LlmActivities, RawStep>;
  for (const name of Object.keys(STEP_OF_MODEL_ACTIVITY) as (keyof LlmActivities)[]) {
    if (!batch.steps.includes(STEP_OF_MODEL_ACTIVITY[name])) {
      steps[name] = realtimeProxies[name];
      continue;
    }
    const batched = (input: unknown) => run(name, {}, input as object);
    batched.executeWithOptions = (options: Partial<ActivityOptions>, args: [unknown]) =>
      run(name, options, args[0] as object);
    steps[name] = batched;
  }
  return steps as unknown as ActivityInterfaceFor<LlmActivities>;
}
