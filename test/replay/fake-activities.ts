import { ApplicationFailure, Context } from '@temporalio/activity';
import type { LlmActivities, RenderActivities, StorageActivities } from '../../activities/index.ts';

/** Every activity a workflow of this project calls, by name. */
export type AllActivities = LlmActivities & RenderActivities & StorageActivities;
export type ActivityName = keyof AllActivities;
export type ActivityResult<Name extends ActivityName> = Awaited<ReturnType<AllActivities[Name]>>;

/**
 * What a fake activity does on one call: return a result, fail non-retryably (so the workflow's
 * failure branch runs at once, with no retry delay), or wait until the workflow cancels it.
 * `compute` is for the few answers that must follow the input (the build's page reads).
 */
export type FakeResponse<Result> =
  { result: Result } | { compute: (input: never) => Result } | { failure: string } | { waitForCancellation: true };

/**
 * Responses per activity name, used in order; the last one repeats. Names left out fall back to
 * the defaults. Keyed by name only, so the scripts survive changes to the activities' inputs.
 */
export type ActivityScript = { [Name in ActivityName]?: FakeResponse<ActivityResult<Name>>[] };

export interface FakeActivityOptions {
  /** Responses for every activity name: what a call of a workflow without a script of its own gets. */
  defaults: Required<ActivityScript>;
  /** The script of the workflow that called, by its workflow id. */
  scriptFor: (workflowId: string) => ActivityScript | undefined;
  /** Told when an activity starts waiting for its workflow to cancel it. */
  onWaitingForCancellation?: (workflowId: string) => void;
}

/**
 * Deterministic stand-ins for every activity (no model, renderer or store). Each call answers
 * from the calling workflow's script, found through the activity's own context rather than its
 * input, and counts calls per workflow run and activity name.
 */
export function createFakeActivities(options: FakeActivityOptions): AllActivities {
  const calls = new Map<string, number>();

  async function respond(name: ActivityName, input: unknown): Promise<unknown> {
    const context = Context.current();
    const execution = context.info.workflowExecution;
    if (!execution) throw ApplicationFailure.nonRetryable(`${name} was not called by a workflow`);
    const responses = options.scriptFor(execution.workflowId)?.[name] ?? options.defaults[name];
    const callKey = `${execution.runId}/${name}`;
    const index = calls.get(callKey) ?? 0;
    calls.set(callKey, index + 1);
    const response = responses[Math.min(index, responses.length - 1)];
    if (response === undefined) throw ApplicationFailure.nonRetryable(`no scripted response for ${name}`);
    if ('result' in response) return response.result;
    if ('compute' in response) return (response.compute as (input: unknown) => unknown)(input);
    if ('failure' in response) {
      const failure = ApplicationFailure.nonRetryable(response.failure, 'ScriptedFailure');
      // The stack would write this machine's paths into the committed histories.
      failure.stack = `ScriptedFailure: ${response.failure}`;
      throw failure;
    }
    options.onWaitingForCancellation?.(execution.workflowId);
    // Cancellation reaches an activity only through a heartbeat.
    const heartbeats = setInterval(() => context.heartbeat(), 500);
    try {
      return await context.cancelled;
    } finally {
      clearInterval(heartbeats);
    }
  }

  const names = Object.keys(options.defaults) as ActivityName[];
  return Object.fromEntries(
    names.map((name) => [name, (input: unknown) => respond(name, input)]),
  ) as unknown as AllActivities;
}
