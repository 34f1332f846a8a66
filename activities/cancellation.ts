import { Context } from '@temporalio/activity';

/** The running activity's cancellation signal; undefined outside an activity (scripts, unit tests). */
export function currentCancellationSignal(): AbortSignal | undefined {
  try {
    return Context.current().cancellationSignal;
  } catch {
    return undefined;
  }
}
