import type { Client } from '@temporalio/client';

/** The model step (as the scripted endpoint names it) each model-calling activity type stands for. */
export const MODEL_STEP_OF_ACTIVITY: Readonly<Record<string, string>> = {
  classifyProblem: 'classify',
  planDiagram: 'plan',
  writeDiagramCode: 'code',
  repairDiagramCode: 'repair',
  judgeImage: 'judge',
  generateQuizzes: 'quiz',
  answerQuizzes: 'answer',
  refineDiagramCode: 'refine',
};

/** Every payload a workflow run's history carries (inputs, results, markers, signals, failures' details), decoded as text. */
export async function historyPayloadTexts(client: Client, workflowId: string, runId?: string): Promise<string[]> {
  const history = await client.workflow.getHandle(workflowId, runId).fetchHistory();
  const texts: string[] = [];
  const decoder = new TextDecoder();
  const visit = (value: unknown): void => {
    if (value === null || typeof value !== 'object' || value instanceof Uint8Array) return;
    const record = value as Record<string, unknown>;
    if (record['data'] instanceof Uint8Array && 'metadata' in record) {
      texts.push(decoder.decode(record['data']));
      return;
    }
    for (const inner of Object.values(record)) visit(inner);
  };
  for (const event of history.events ?? []) visit(event);
  return texts;
}

/** The run ids of a workflow's continue-as-new chain, every run. */
export async function workflowRunIds(client: Client, workflowId: string): Promise<string[]> {
  const runIds: string[] = [];
  for await (const execution of client.workflow.list({ query: `WorkflowId = "${workflowId}"` }))
    runIds.push(execution.runId);
  return runIds;
}
