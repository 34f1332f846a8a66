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
  server: DevServer;
  client: Client;
  close(): Promise<void>;
}

export async function startTestCluster(
  name: string,
  options: { script: Script; latencyMs?: number },
): Promise<TestCluster> {
  const endpoint = await startScriptedEndpoint({ script: options.script, latencyMs: options.latencyMs ?? 0 });
  const sandbox = await createCliSandbox(name, {
    OPENAI_API_KEY: 'sk-test-not-a-real-key',
    OPENAI_BASE_URL: endpoint.openAiBaseUrl,
  });
  const server = await ensureDevServer({
    port: sandbox.temporalPort,
    uiPort: sandbox.uiPort,
    dbFile: join(sandbox.stateDirectory, 'temporal.db'),
    searchAttributes: SEARCH_ATTRIBUTE_TYPES,
  });
  const client = new Client({ connection: await Connection.connect({ address: server.address }) });
  return {
    endpoint,
    sandbox,
    server,
    client,
    async close() {
      await client.connection.close();
      await endpoint.close();
      await server.stop();
    },
  };
}
