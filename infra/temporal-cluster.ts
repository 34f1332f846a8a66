import { mkdir, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { Connection, isGrpcServiceError } from '@temporalio/client';
import { execa } from 'execa';
import { stringify } from 'yaml';
import type { ClusterSettings } from './cluster-settings.ts';
import { findFreePort, type SearchAttributeTypeName } from './dev-server.ts';
import type { PostgresServer } from './postgres.ts';
import { startServiceProcess, waitUntilReady, type ServiceProcess } from './service-process.ts';
import { findTemporalBinary, findTemporalClusterTools, type TemporalClusterTools } from './tools.ts';

export interface TemporalClusterOptions {
  /** infra/cluster.env: versions, namespace, history shards. */
  settings: ClusterSettings;
  /** The database server; the cluster creates its two databases there. */
  postgres: PostgresServer;
  /** Where the server's and the UI server's config files are written. */
  directory: string;
  /** Custom search attributes registered with `temporal operator search-attribute create`, by name. */
  searchAttributes: Record<string, SearchAttributeTypeName>;
  /** @default findTemporalClusterTools(settings versions) */
  tools?: TemporalClusterTools;
  /**
   * The `temporal` CLI, used as docker-compose's admin-tools container uses it.
   * @default findTemporalBinary()
   */
  temporalCli?: string;
  /** For each of the server and the UI server. @default 120_000 */
  startTimeoutMilliseconds?: number;
}

export interface TemporalCluster {
  /** `127.0.0.1:<port>` of the frontend, for `TEMPORAL_ADDRESS`. */
  readonly address: string;
  readonly uiUrl: string;
  readonly namespace: string;
  stop(): Promise<void>;
}

const host = '127.0.0.1';
const databases = { persistence: 'temporal', visibility: 'temporal_visibility' } as const;
const services = ['frontend', 'history', 'matching', 'worker'] as const;

/**
 * What docker-compose's temporal, temporal-search-attributes and temporal-ui services do, as
 * processes: the schema tool creates and migrates both databases, `temporal-server` runs all four
 * services in one process on PostgreSQL persistence and PostgreSQL (SQL advanced) visibility, the
 * CLI registers the namespace and search attributes, and `temporal-ui-server` serves the UI.
 */
export async function startTemporalCluster(options: TemporalClusterOptions): Promise<TemporalCluster> {
  const { settings, postgres, directory } = options;
  const tools =
    options.tools ??
    findTemporalClusterTools({ server: settings.TEMPORAL_SERVER_VERSION, ui: settings.TEMPORAL_UI_VERSION });
  const timeout = options.startTimeoutMilliseconds ?? 120_000;
  const namespace = settings.TEMPORAL_NAMESPACE;
  await setUpSchemas(tools, settings, postgres);

  const ports = Object.fromEntries(
    await Promise.all(
      services.map(async (service) => [
        service,
        { grpc: await findFreePort(host), membership: await findFreeMembershipPort() },
      ]),
    ),
  ) as Record<(typeof services)[number], { grpc: number; membership: number }>;
  const address = `${host}:${ports.frontend.grpc}`;
  const configDirectory = path.join(directory, 'server-config');
  await mkdir(configDirectory, { recursive: true });
  const dynamicConfigFile = path.join(configDirectory, 'dynamic-config.yaml');
  await writeFile(dynamicConfigFile, stringify(dynamicConfig));
  await writeFile(
    path.join(configDirectory, 'cluster.yaml'),
    stringify(serverConfig({ settings, postgres, ports, address, dynamicConfigFile })),
  );

  const started: ServiceProcess[] = [];
  const stop = async (): Promise<void> => {
    for (const service of [...started].reverse()) await service.stop();
  };
  try {
    const server = startServiceProcess({
      name: 'temporal-server',
      executable: tools.server,
      arguments: ['--root', directory, '--config', 'server-config', '--env', 'cluster', '--allow-no-auth', 'start'],
    });
    started.push(server);
    await waitUntilReady(server, `answering on ${address}`, () => answers(address), timeout);
    await registerNamespaceAndSearchAttributes({
      cli: options.temporalCli ?? findTemporalBinary(),
      address,
      namespace,
      searchAttributes: options.searchAttributes,
    });

    const uiPort = await findFreePort(host);
    const uiUrl = `http://${host}:${uiPort}`;
    await mkdir(path.join(directory, 'ui-config'), { recursive: true });
    await writeFile(
      path.join(directory, 'ui-config', 'cluster.yaml'),
      stringify({
        temporalGrpcAddress: address,
        host,
        port: uiPort,
        enableUi: true,
        defaultNamespace: namespace,
        // No calls to the internet from a test.
        notifyOnNewVersion: false,
        refreshInterval: '1m',
      }),
    );
    const ui = startServiceProcess({
      name: 'temporal-ui-server',
      executable: tools.uiServer,
      arguments: ['--root', directory, '--config', 'ui-config', '--env', 'cluster', 'start'],
    });
    started.push(ui);
    await waitUntilReady(ui, `serving ${uiUrl}`, () => servesHtml(uiUrl), timeout);
    return { address, uiUrl, namespace, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

// The server's development defaults plus: search attributes readable as soon as they are
// created, and new namespaces visible to the frontend within a second (default 2 s).
const dynamicConfig = {
  'system.forceSearchAttributesCacheRefreshOnRead': [{ value: true }],
  'system.namespaceCacheRefreshInterval': [{ value: '1s' }],
  'system.enableEagerWorkflowStart': [{ value: true }],
};

/** create-database, setup-schema 0.0, update-schema to the newest version, for both databases (as auto-setup does). */
async function setUpSchemas(
  tools: TemporalClusterTools,
  settings: ClusterSettings,
  postgres: PostgresServer,
): Promise<void> {
  const connection = [
    '--plugin',
    settings.TEMPORAL_DB_PLUGIN,
    '--endpoint',
    postgres.host,
    '--port',
    String(postgres.port),
    '--user',
    postgres.user,
    '--password',
    postgres.password,
  ];
  for (const [schema, database] of Object.entries(databases)) {
    const schemaDirectory = path.join(
      tools.schemaDirectory,
      'postgresql',
      'v12',
      schema === 'persistence' ? 'temporal' : 'visibility',
      'versioned',
    );
    for (const command of [
      ['create-database'],
      ['setup-schema', '--version', '0.0'],
      ['update-schema', '--schema-dir', schemaDirectory],
    ]) {
      const result = await execa(tools.sqlTool, [...connection, '--database', database, ...command], {
        reject: false,
        all: true,
      });
      if (result.exitCode !== 0) {
        throw new Error(`temporal-sql-tool ${command[0]} of ${database} failed: ${result.all}`);
      }
    }
  }
}

interface ServerConfigInput {
  settings: ClusterSettings;
  postgres: PostgresServer;
  ports: Record<(typeof services)[number], { grpc: number; membership: number }>;
  address: string;
  dynamicConfigFile: string;
}

/** The server's config/development-postgres12.yaml with our ports, database and no archival, pprof or metrics. */
function serverConfig(input: ServerConfigInput): unknown {
  const { settings, postgres, ports } = input;
  const datastore = (databaseName: string, maxConns: number) => ({
    sql: {
      pluginName: settings.TEMPORAL_DB_PLUGIN,
      databaseName,
      connectAddr: `${postgres.host}:${postgres.port}`,
      connectProtocol: 'tcp',
      user: postgres.user,
      password: postgres.password,
      maxConns,
      maxIdleConns: maxConns,
      maxConnLifetime: '1h',
    },
  });
  return {
    log: { stdout: true, level: 'warn' },
    persistence: {
      defaultStore: 'postgres-default',
      visibilityStore: 'postgres-visibility',
      numHistoryShards: settings.TEMPORAL_HISTORY_SHARDS,
      datastores: {
        'postgres-default': datastore(databases.persistence, 20),
        'postgres-visibility': datastore(databases.visibility, 10),
      },
    },
    global: { membership: { maxJoinDuration: '30s', broadcastAddress: host } },
    services: Object.fromEntries(
      services.map((service) => [
        service,
        {
          rpc: {
            grpcPort: ports[service].grpc,
            membershipPort: ports[service].membership,
            bindOnLocalHost: true,
          },
        },
      ]),
    ),
    clusterMetadata: {
      enableGlobalNamespace: false,
      failoverVersionIncrement: 10,
      masterClusterName: 'active',
      currentClusterName: 'active',
      clusterInformation: {
        active: { enabled: true, initialFailoverVersion: 1, rpcName: 'frontend', rpcAddress: input.address },
      },
    },
    dcRedirectionPolicy: { policy: 'noop' },
    dynamicConfigClient: { filepath: input.dynamicConfigFile, pollInterval: '10s' },
  };
}

/**
 * A free port below 32768: the SQL schema keeps membership ports in a smallint column, and the
 * kernel hands out ephemeral ports from 32768 up.
 */
async function findFreeMembershipPort(): Promise<number> {
  for (;;) {
    const candidate = 20_000 + Math.floor(Math.random() * 12_000);
    const free = await new Promise<boolean>((resolve) => {
      const server = net.createServer();
      server.once('error', () => resolve(false));
      server.listen(candidate, host, () => server.close(() => resolve(true)));
    });
    if (free) return candidate;
  }
}

async function answers(address: string): Promise<boolean> {
  try {
    const connection = await Connection.connect({ address, connectTimeout: 2_000 });
    try {
      await connection.workflowService.getSystemInfo({});
      return true;
    } finally {
      await connection.close();
    }
  } catch {
    return false;
  }
}

async function servesHtml(url: string): Promise<boolean> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(2_000) });
    return response.ok && (response.headers.get('content-type') ?? '').includes('text/html');
  } catch {
    return false;
  }
}

const grpcNotFound = 5;
const namespaceVisibleTimeoutMilliseconds = 30_000;

async function registerNamespaceAndSearchAttributes(input: {
  cli: string;
  address: string;
  namespace: string;
  searchAttributes: Record<string, SearchAttributeTypeName>;
}): Promise<void> {
  const cli = async (argumentsList: string[]): Promise<void> => {
    const result = await execa(input.cli, [...argumentsList, '--address', input.address], { reject: false, all: true });
    if (result.exitCode !== 0) throw new Error(`temporal ${argumentsList.join(' ')} failed: ${result.all}`);
  };
  await cli(['operator', 'namespace', 'create', '--namespace', input.namespace, '--retention', '720h']);
  const connection = await Connection.connect({ address: input.address });
  try {
    // The frontend learns of a new namespace from a periodically refreshed cache.
    const deadline = Date.now() + namespaceVisibleTimeoutMilliseconds;
    for (;;) {
      try {
        await connection.operatorService.listSearchAttributes({ namespace: input.namespace });
        break;
      } catch (error) {
        if (!isGrpcServiceError(error) || error.code !== grpcNotFound || Date.now() >= deadline) throw error;
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    // One attribute a call, as docker-compose's temporal-search-attributes service does: given
    // several --name flags and one --type, the CLI creates only the first.
    for (const [name, type] of Object.entries(input.searchAttributes)) {
      await cli([
        'operator',
        'search-attribute',
        'create',
        '--namespace',
        input.namespace,
        '--name',
        name,
        '--type',
        type,
      ]);
    }
  } finally {
    await connection.close();
  }
}
