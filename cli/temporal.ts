import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import type { Config } from '../config/schema.ts';
import { ensureDevServer, isPortListening } from '../infra/dev-server.ts';
import { findTemporalBinary } from '../infra/tools.ts';
import { SEARCH_ATTRIBUTE_TYPES } from '../workflows/definitions.ts';
import { infrastructureFailure } from './errors.ts';

export interface TemporalSession {
  client: Client;
  /** For in-process workers. */
  workerConnection: NativeConnection;
  namespace: string;
  address: string;
  /** The web UI, when known (the embedded dev server's). */
  uiUrl: string | null;
  /** True when no TEMPORAL_ADDRESS was given: the CLI runs against its own dev server. */
  embedded: boolean;
  /** Closes connections and stops the dev server only if this process started it. */
  close(): Promise<void>;
}

/**
 * Connects to the configured cluster, or to the embedded dev server: reused when one already
 * listens on the port, started (state under the state directory) when `startServer` allows.
 */
export async function openTemporal(
  config: Config,
  options: { startServer: boolean; log: (line: string) => void },
): Promise<TemporalSession> {
  const namespace = config.temporal.namespace;
  let address: string;
  let uiUrl: string | null = null;
  let stopServer = async () => {};
  const embedded = config.temporal.address === undefined;

  if (!embedded) {
    address = config.temporal.address!;
  } else if (options.startServer) {
    const server = await ensureDevServer({
      port: config.temporal.devServer.port,
      uiPort: config.temporal.devServer.uiPort,
      ...(config.temporal.devServer.binary === undefined
        ? {}
        : { executable: findTemporalBinary(config.temporal.devServer.binary) }),
      dbFile: join(config.stateDirectory, 'temporal.db'),
      logFile: join(config.stateDirectory, 'temporal-server.log'),
      pidFile: join(config.stateDirectory, 'temporal-server.pid'),
      namespace,
      retentionDays: config.temporal.retentionDays,
      searchAttributes: SEARCH_ATTRIBUTE_TYPES,
    }).catch((error: unknown) => {
      throw infrastructureFailure(`cannot start the embedded Temporal dev server: ${(error as Error).message}`);
    });
    options.log(
      server.startedByUs
        ? `Temporal dev server started at ${server.address} (its log: ${server.logFile})`
        : `Temporal dev server reused at ${server.address}`,
    );
    address = server.address;
    uiUrl = server.uiUrl;
    stopServer = () => server.stop();
  } else {
    address = `127.0.0.1:${config.temporal.devServer.port}`;
    uiUrl = `http://localhost:${config.temporal.devServer.uiPort}`;
    if (!(await isPortListening('127.0.0.1', config.temporal.devServer.port))) {
      throw infrastructureFailure(
        `no Temporal server at ${address}: start one with \`scigen dev\`, or set TEMPORAL_ADDRESS`,
      );
    }
  }

  const apiKey = config.credentials.temporalApiKey;
  // A cloud API key implies TLS; the key goes to the connection only, never to workflows.
  const connectionOptions = { address, ...(apiKey ? { apiKey, tls: true } : {}) };
  let connection: Connection;
  let workerConnection: NativeConnection;
  try {
    connection = await Connection.connect(connectionOptions);
    workerConnection = await NativeConnection.connect(connectionOptions);
  } catch (error) {
    await stopServer();
    throw infrastructureFailure(`cannot connect to Temporal at ${address}: ${(error as Error).message}`);
  }
  return {
    client: new Client({ connection, namespace }),
    workerConnection,
    namespace,
    address,
    uiUrl,
    embedded,
    async close() {
      await workerConnection.close().catch(() => {});
      await connection.close().catch(() => {});
      await stopServer();
    },
  };
}

export function workflowUiUrl(session: TemporalSession, workflowId: string): string | null {
  if (!session.uiUrl) return null;
  return `${session.uiUrl}/namespaces/${encodeURIComponent(session.namespace)}/workflows/${encodeURIComponent(workflowId)}`;
}

/**
 * A protobuf Timestamp in epoch milliseconds; null when absent. Takes `seconds` as a Long (what
 * the gRPC client returns) or a number (a timestamp decoded from a JSON payload, such as a
 * local-activity marker's), which Temporal's own tsToMs does not.
 */
export function timestampMilliseconds(
  timestamp: { seconds?: unknown; nanos?: number | null } | null | undefined,
): number | null {
  if (!timestamp) return null;
  return Number(timestamp.seconds ?? 0) * 1000 + Math.floor((timestamp.nanos ?? 0) / 1e6);
}
