/**
 * How much a build writes into Temporal per problem: the encoded bytes and events of each problem
 * workflow's history, and the largest single payload any of them carries (Temporal warns at
 * 512 KiB and refuses 2 MiB); then the same of the build workflow's own history, every run of it.
 * Reads the histories of a finished build from the server the CLI uses:
 *
 *   npm run bench:history -- <build-id> [--config FILE]
 */
import { Client, Connection } from '@temporalio/client';
import proto from '@temporalio/proto';

const { temporal } = proto;
import { loadConfig } from '../config/load.ts';
import { buildWorkflowId } from '../workflows/definitions.ts';

export interface HistorySizes {
  problems: number;
  meanBytes: number;
  maxBytes: number;
  meanEvents: number;
  /** The biggest payload seen, and the event type that carried it. */
  largestPayload: { bytes: number; eventType: string; workflowId: string } | null;
}

/** Every payload's data size in an event, wherever it sits (inputs, results, markers, failures' details). */
function payloadSizes(value: unknown, sizes: number[] = []): number[] {
  if (value === null || typeof value !== 'object') return sizes;
  if (value instanceof Uint8Array) return sizes;
  const record = value as Record<string, unknown>;
  if (record['data'] instanceof Uint8Array && 'metadata' in record) {
    sizes.push(record['data'].byteLength);
    return sizes;
  }
  for (const inner of Object.values(record)) payloadSizes(inner, sizes);
  return sizes;
}

/** One workflow execution: its id, and the run (absent: the latest). */
export interface ExecutionRef {
  workflowId: string;
  runId?: string;
}

export async function measureHistories(
  client: Client,
  executions: readonly (string | ExecutionRef)[],
): Promise<HistorySizes & { totalBytes: number; totalEvents: number }> {
  let totalBytes = 0;
  let maxBytes = 0;
  let totalEvents = 0;
  let largestPayload: HistorySizes['largestPayload'] = null;
  for (const execution of executions) {
    const { workflowId, runId } =
      typeof execution === 'string' ? { workflowId: execution, runId: undefined } : execution;
    const history = await client.workflow.getHandle(workflowId, runId).fetchHistory();
    const bytes = temporal.api.history.v1.History.encode(history).finish().byteLength;
    totalBytes += bytes;
    maxBytes = Math.max(maxBytes, bytes);
    totalEvents += history.events?.length ?? 0;
    for (const event of history.events ?? []) {
      for (const size of payloadSizes(event)) {
        if (largestPayload === null || size > largestPayload.bytes) {
          const eventType = temporal.api.enums.v1.EventType[event.eventType ?? 0] ?? String(event.eventType);
          largestPayload = { bytes: size, eventType, workflowId };
        }
      }
    }
  }
  const count = executions.length;
  return {
    totalBytes,
    totalEvents,
    problems: count,
    meanBytes: count === 0 ? 0 : totalBytes / count,
    maxBytes,
    meanEvents: count === 0 ? 0 : totalEvents / count,
    largestPayload,
  };
}

async function main(): Promise<void> {
  const [buildId, ...rest] = process.argv.slice(2);
  if (!buildId) throw new Error('usage: npm run bench:history -- <build-id> [--config FILE]');
  const configIndex = rest.indexOf('--config');
  const config = loadConfig(configIndex >= 0 && rest[configIndex + 1] ? { file: rest[configIndex + 1]! } : {});
  const address = config.temporal.address ?? `127.0.0.1:${config.temporal.devServer.port}`;
  const connection = await Connection.connect({ address });
  try {
    const client = new Client({ connection, namespace: config.temporal.namespace });
    const workflowIds: string[] = [];
    const problemQuery = `ScigenBuildId = "${buildId}" AND WorkflowType = "problemWorkflow"`;
    for await (const execution of client.workflow.list({ query: problemQuery })) workflowIds.push(execution.workflowId);
    if (workflowIds.length === 0) throw new Error(`no problem workflows of build ${buildId} at ${address}`);
    const sizes = await measureHistories(client, workflowIds);
    console.log(`build ${buildId}: ${sizes.problems} problem histories`);
    console.log(`history bytes per problem: mean ${Math.round(sizes.meanBytes)}, max ${sizes.maxBytes}`);
    console.log(`events per problem: mean ${sizes.meanEvents.toFixed(1)}`);
    printLargest('largest payload of a problem', sizes.largestPayload);

    // Every run of the build workflow's continue-as-new chain.
    const runs: ExecutionRef[] = [];
    for await (const execution of client.workflow.list({ query: `WorkflowId = "${buildWorkflowId(buildId)}"` }))
      runs.push({ workflowId: execution.workflowId, runId: execution.runId });
    if (runs.length > 0) {
      const build = await measureHistories(client, runs);
      console.log(
        `build workflow history: ${build.totalBytes} bytes, ${build.totalEvents} events in ${runs.length} run(s); ${Math.round(build.totalBytes / sizes.problems)} bytes per problem`,
      );
      printLargest('largest payload of the build workflow', build.largestPayload);
    }
  } finally {
    await connection.close();
  }
}

function printLargest(label: string, largest: HistorySizes['largestPayload']): void {
  if (largest) console.log(`${label}: ${largest.bytes} bytes (${largest.eventType} in ${largest.workflowId})`);
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
