/**
 * The workflow bundle of the batcher's workflow tests: the batcher itself, and a listener that
 * stands in for a problem workflow waiting on its batched requests.
 */
import { condition, defineQuery, setHandler } from '@temporalio/workflow';
import { batchAnswersSignal, type BatchAnswerNote } from '../../workflows/definitions.ts';

export { batcherWorkflow } from '../../workflows/batcher.ts';

/** Every note the listener was sent, in the order it came. */
export const listenerNotesQuery = defineQuery<BatchAnswerNote[]>('listenerNotes');

/** Records what the batcher tells it, and waits to be asked (it never ends by itself). */
export async function batchListenerWorkflow(): Promise<void> {
  const notes: BatchAnswerNote[] = [];
  setHandler(batchAnswersSignal, (answers) => {
    notes.push(...answers);
  });
  setHandler(listenerNotesQuery, () => notes);
  await condition(() => false);
}
