import { afterAll, beforeAll } from 'vitest';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { ensureDevServer, type DevServer } from '../../infra/dev-server.ts';
import { startScriptedEndpoint, type ScriptedEndpoint } from '../../scripted/server.ts';
import type { Script } from '../../scripted/script.ts';
import { SEARCH_ATTRIBUTE_TYPES } from '../../workflows/definitions.ts';
import { createCliSandbox, type CliSandbox } from './cli.ts';

/**
 * What an end-to-end test of a running build needs: the scripted model endpoint, a CLI sandbox
 * pointed at it, a dev server the test owns (so it outlives any CLI the test kills) on the
 * sandbox's ports and state directory, and a client to read progress and histories.
 */
export interface TestCluster {
  endpoint: ScriptedEndpoint;
  sandbox: CliSandbox;
  /** The dev server now running (a new one after `restartServer`). */
  readonly server: DevServer;
  client: Client;
  /** Stops the dev server and, after `downtimeMs`, starts it again on the same ports and database. */
  restartServer(downtimeMs: number): Promise<void>;
  close(): Promise<void>;
}

/** A dev server on the sandbox's ports, its database in the sandbox's state directory, as the CLI would start. */
export function startSandboxDevServer(sandbox: CliSandbox): Promise<DevServer> {
  return ensureDevServer({
    port: sandbox.temporalPort,
    uiPort: sandbox.uiPort,
    dbFile: join(sandbox.stateDirectory, 'temporal.db'),
    searchAttributes: SEARCH_ATTRIBUTE_TYPES,
  });
}

export interface TestClusterOptions {
  script: Script;
  latencyMs?: number;
  /** Keep every request's headers and body in the endpoint's log. @default false */
  recordBodies?: boolean;
  /** More variables for the CLI; they win over the endpoint's test key and address. */
  environment?: Record<string, string>;
}

export async function startTestCluster(name: string, options: TestClusterOptions): Promise<TestCluster> {
  const endpoint = await startScriptedEndpoint({
    script: options.script,
    latencyMs: options.latencyMs ?? 0,
    recordBodies: options.recordBodies ?? false,
  });
  const sandbox = await createCliSandbox(name, {
    OPENAI_API_KEY: 'sk-test-not-a-real-key',
    OPENAI_BASE_URL: endpoint.openAiBaseUrl,
    ...options.environment,
  });
  let server = await startSandboxDevServer(sandbox);
  const client = new Client({ connection: await Connection.connect({ address: server.address }) });
  return {
    endpoint,
    sandbox,
    get server() {
      return server;
    },
    client,
    async restartServer(downtimeMs) {
      await server.stop();
      await new Promise((resolve) => setTimeout(resolve, downtimeMs));
      server = await startSandboxDevServer(sandbox);
    },
    async close() {
      await client.connection.close();
      await endpoint.close();
      await server.stop();
    },
  };
}

/**
 * A cluster for the describe block that calls this: started before its tests, closed after them.
 * The object returned reads through to the started cluster (`cluster.sandbox.run(…)`).
 */
export function useTestCluster(name: string, options: () => Promise<TestClusterOptions>): TestCluster {
  let started: TestCluster | undefined;
  beforeAll(async () => {
    started = await startTestCluster(name, await options());
  });
  afterAll(async () => {
    await started?.close();
  });
  return new Proxy({} as TestCluster, {
    get(_target, property) {
      if (started === undefined) throw new Error(`the ${name} test cluster is used before it started`);
      return Reflect.get(started, property) as unknown;
    },
  });
}

type CliRun = ReturnType<CliSandbox['run']>;

/** Worker processes kept running as a supervisor would: one that exits is started again. */
export interface SupervisedWorkers {
  /** Kills the process in a slot (its supervisor starts another). */
  kill(slot: number, signal: NodeJS.Signals): void;
  /** Kills every slot's process. */
  killAll(signal: NodeJS.Signals): void;
  /** Stops restarting, asks every worker to stop (SIGTERM) and waits for them. */
  stop(): Promise<void>;
}

/** Starts `scigen worker --queue <queue>`, one slot per entry of `queues`, restarting each `restartDelayMs` after it exits. */
export function superviseWorkers(
  sandbox: CliSandbox,
  queues: readonly string[],
  environment: Record<string, string>,
  restartDelayMs: number,
): SupervisedWorkers {
  const processes: CliRun[] = [];
  let stopping = false;
  const start = (slot: number) => {
    if (stopping) return;
    const process = sandbox.run(['worker', '--queue', queues[slot]!], environment);
    processes[slot] = process;
    void process.then(() => {
      if (!stopping && processes[slot] === process) setTimeout(() => start(slot), restartDelayMs);
    });
  };
  queues.forEach((_, slot) => start(slot));
  return {
    kill(slot, signal) {
      processes[slot]?.kill(signal);
    },
    killAll(signal) {
      for (const process of processes) process.kill(signal);
    },
    async stop() {
      stopping = true;
      for (const process of processes) process.kill('SIGTERM');
      await Promise.all(processes);
    },
  };
}
