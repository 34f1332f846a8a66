import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ManifestRecord } from '../../domain/manifest.ts';
import { readClusterSettings } from '../../infra/cluster-settings.ts';
import { createBucket, createMinioClient, startMinio, type MinioServer } from '../../infra/minio.ts';
import { findPostgresBinDirectory, startPostgres, type PostgresServer } from '../../infra/postgres.ts';
import { startTemporalCluster, type TemporalCluster } from '../../infra/temporal-cluster.ts';
import { startScriptedEndpoint, type ScriptedEndpoint } from '../../scripted/server.ts';
import { createS3Store } from '../../storage/s3-store.ts';
import { SEARCH_ATTRIBUTE_TYPES } from '../../workflows/definitions.ts';
import { createCliSandbox, readJsonLines, type CliSandbox } from '../helpers/cli.ts';
import { superviseWorkers } from '../helpers/cluster.ts';
import { loadSampleScript, samplesDirectory } from '../helpers/samples.ts';
import { makeTemporaryDirectory } from '../helpers/temporary-directory.ts';

// docker-compose.yml's topology as processes (README "The production topology without Docker"):
// PostgreSQL, temporal-server on it (persistence and visibility), the UI server, MinIO, one
// `scigen worker` process per queue and the CLI, all with the values of infra/cluster.env.
const settings = readClusterSettings();
const bucket = 'scigen';
const buildId = 'cluster-e2e';
const queues = ['workflows', 'llm', 'render'] as const;
const llmSlot = queues.indexOf('llm');

describe.skipIf(process.env['SCIGEN_SKIP_CLUSTER_TESTS'] === '1')(
  'the production topology without Docker: PostgreSQL, temporal-server, its UI, MinIO, a worker process per queue',
  () => {
    let postgres: PostgresServer | undefined;
    let temporal: TemporalCluster | undefined;
    let minio: MinioServer | undefined;
    let endpoint: ScriptedEndpoint | undefined;
    let sandbox: CliSandbox;
    let client: Client;

    beforeAll(async () => {
      const directory = await makeTemporaryDirectory('cluster');
      postgres = await startPostgres({ user: settings.POSTGRES_USER, password: settings.POSTGRES_PASSWORD });
      temporal = await startTemporalCluster({
        settings,
        postgres,
        directory,
        searchAttributes: SEARCH_ATTRIBUTE_TYPES,
      });
      minio = await startMinio({ dataDirectory: join(directory, 'minio') });
      await createBucket(minio.endpoint, minio, bucket);
      // Latency keeps the build running long enough to kill a worker in the middle of it.
      endpoint = await startScriptedEndpoint({ script: await loadSampleScript(), latencyMs: 100 });
      sandbox = await createCliSandbox('cluster', {
        OPENAI_API_KEY: 'sk-test-not-a-real-key',
        OPENAI_BASE_URL: endpoint.openAiBaseUrl,
        TEMPORAL_ADDRESS: temporal.address,
        TEMPORAL_NAMESPACE: temporal.namespace,
        SCIGEN_ARTIFACTS: `s3://${bucket}/artifacts`,
        AWS_ENDPOINT_URL_S3: minio.endpoint,
        AWS_ACCESS_KEY_ID: minio.accessKey,
        AWS_SECRET_ACCESS_KEY: minio.secretKey,
        AWS_REGION: minio.region,
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      });
      client = new Client({
        connection: await Connection.connect({ address: temporal.address }),
        namespace: temporal.namespace,
      });
    }, 300_000);

    afterAll(async () => {
      await client?.connection.close();
      await endpoint?.close();
      await minio?.stop();
      await temporal?.stop();
      await postgres?.stop();
    });

    it('has the namespace with the search attributes, and the UI server serves the UI and reads the server', async () => {
      const listing = await client.connection.operatorService.listSearchAttributes({ namespace: temporal!.namespace });
      expect(Object.keys(listing.customAttributes).sort()).toEqual(Object.keys(SEARCH_ATTRIBUTE_TYPES).sort());

      const page = await fetch(temporal!.uiUrl);
      expect(page.headers.get('content-type')).toContain('text/html');
      expect(await page.text()).toMatch(/<html/i);
      // The UI's API is the UI server calling the frontend over gRPC.
      const namespaces = (await (await fetch(`${temporal!.uiUrl}/api/v1/namespaces`)).json()) as {
        namespaces: Array<{ namespaceInfo: { name: string } }>;
      };
      expect(namespaces.namespaces.map((namespace) => namespace.namespaceInfo.name)).toContain(temporal!.namespace);
    });

    it('builds the samples with one worker process per queue, the llm worker SIGKILLed mid-build and replaced', async () => {
      const problemIds = readJsonLines<{ id: string }>(
        await readFile(join(samplesDirectory, 'problems.jsonl'), 'utf8'),
      ).map((problem) => problem.id);
      const workers = superviseWorkers(sandbox, queues, {}, 300);
      let killed = false;
      try {
        const build = sandbox.run(['build', 'samples/problems.jsonl', '--build-id', buildId, '--no-progress']);
        let finished = false;
        void build.then(() => {
          finished = true;
        });
        // Mid-build: a third of the sample build's model calls answered.
        while (!finished && !killed) {
          if (endpoint!.requests.length >= 25) {
            workers.kill(llmSlot, 'SIGKILL');
            killed = true;
          }
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
        const result = await build;
        expect(result.exitCode, result.all).toBe(0);
      } finally {
        await workers.stop();
      }
      expect(killed, 'the build finished before a worker could be killed').toBe(true);

      const store = createS3Store(`s3://${bucket}/artifacts`, { client: createMinioClient(minio!.endpoint, minio!) });
      const manifest = readJsonLines<ManifestRecord>(await store.getText(`builds/${buildId}/manifest.jsonl`));
      expect(manifest.map((record) => record.id).sort()).toEqual([...problemIds].sort());
    }, 600_000);

    it('scigen list and inspect read the build through PostgreSQL visibility', async () => {
      const expectedCount = readJsonLines(await readFile(join(samplesDirectory, 'problems.jsonl'), 'utf8')).length;
      // Visibility is written after the history, asynchronously: wait until every problem shows its verdict.
      let problems: Array<{ problem: string; verdict: string | null }> = [];
      const deadline = Date.now() + 30_000;
      for (;;) {
        const listed = await sandbox.run(['list', buildId, '--json']);
        expect(listed.exitCode, listed.all).toBe(0);
        problems = (JSON.parse(listed.stdout) as { problems: typeof problems }).problems;
        const settled = problems.length === expectedCount && problems.every((problem) => problem.verdict !== null);
        if (settled || Date.now() >= deadline) break;
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
      expect(problems).toHaveLength(expectedCount);

      const accepted = await sandbox.run(['list', buildId, '--verdict', 'accepted', '--json']);
      const acceptedProblems = (JSON.parse(accepted.stdout) as { problems: Array<{ problem: string }> }).problems;
      expect(acceptedProblems.length).toBeGreaterThan(0);
      expect(acceptedProblems.length).toBe(problems.filter((problem) => problem.verdict === 'accepted').length);

      const problemId = acceptedProblems[0]!.problem;
      const inspected = await sandbox.run(['inspect', buildId, problemId]);
      expect(inspected.exitCode, inspected.all).toBe(0);
      expect(inspected.stdout).toContain(`problem ${problemId} of build ${buildId}: accepted`);
      expect(inspected.stdout).toContain(`s3://${bucket}/artifacts/`);

      // The rows those queries read: PostgreSQL's visibility table, search attributes in its JSONB column.
      const rows = await execa(
        join(findPostgresBinDirectory(), 'psql'),
        [
          '--host',
          postgres!.host,
          '--port',
          String(postgres!.port),
          '--username',
          postgres!.user,
          '--dbname',
          'temporal_visibility',
          '--tuples-only',
          '--no-align',
          '--command',
          `SELECT count(*) FROM executions_visibility WHERE search_attributes::text LIKE '%"${buildId}"%'`,
        ],
        { env: { PGPASSWORD: postgres!.password } },
      );
      expect(Number(rows.stdout.trim())).toBeGreaterThanOrEqual(expectedCount);
    });
  },
);
