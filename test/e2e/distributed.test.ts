import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ManifestRecord } from '../../domain/manifest.ts';
import { ensureDevServer, type DevServer } from '../../infra/dev-server.ts';
import { findMinioBinary } from '../../infra/tools.ts';
import { createBucket, createMinioClient, startMinio, type MinioServer } from '../../infra/minio.ts';
import { startScriptedEndpoint, type ScriptedEndpoint } from '../../scripted/server.ts';
import { syntheticProblems, syntheticScript } from '../../scripted/synthetic.ts';
import { createS3Store } from '../../storage/s3-store.ts';
import { SEARCH_ATTRIBUTE_TYPES } from '../../workflows/definitions.ts';
import { createCliSandbox, readJsonLines, type CliSandbox } from '../helpers/cli.ts';

const WORKERS = ['workflows', 'llm', 'llm', 'render', 'render'] as const;
const pause = (milliseconds: number) => new Promise((resolve) => setTimeout(resolve, milliseconds));

describe('distributed: separate worker processes, S3 artifacts on MinIO, workers killed at random', () => {
  let server: DevServer;
  let minio: MinioServer;
  let endpoint: ScriptedEndpoint;
  let sandbox: CliSandbox;
  const bucket = 'scigen-distributed';

  beforeAll(async () => {
    const directory = await mkdtemp(join(tmpdir(), 'scigen-distributed-'));
    minio = await startMinio({
      dataDirectory: join(directory, 'minio'),
      executable: findMinioBinary(process.env['SCIGEN_MINIO_BIN']),
    });
    await createBucket(minio.endpoint, minio, bucket);
    endpoint = await startScriptedEndpoint({ script: syntheticScript, latencyMs: 50 });
    sandbox = await createCliSandbox('distributed', {
      OPENAI_API_KEY: 'sk-test-not-a-real-key',
      OPENAI_BASE_URL: endpoint.openAiBaseUrl,
      SCIGEN_ARTIFACTS: `s3://${bucket}/datasets`,
      AWS_ENDPOINT_URL_S3: minio.endpoint,
      AWS_ACCESS_KEY_ID: minio.accessKey,
      AWS_SECRET_ACCESS_KEY: minio.secretKey,
      AWS_REGION: minio.region,
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    });
    server = await ensureDevServer({
      port: sandbox.temporalPort,
      uiPort: sandbox.uiPort,
      dbFile: join(directory, 'temporal.db'),
      searchAttributes: SEARCH_ATTRIBUTE_TYPES,
    });
  });
  afterAll(async () => {
    await endpoint?.close();
    await server?.stop();
    await minio?.stop();
  });

  it('a 300-problem build completes with one manifest line per problem and every referenced artifact in S3', async () => {
    const directory = await mkdtemp(join(tmpdir(), 'scigen-distributed-input-'));
    const problems = syntheticProblems(300, 10);
    const inputFile = join(directory, 'problems.jsonl');
    await writeFile(inputFile, problems.map((problem) => JSON.stringify(problem)).join('\n'));
    const cluster = { TEMPORAL_ADDRESS: server.address };
    const buildId = 'distributed-e2e';

    const workers: Array<ReturnType<CliSandbox['run']>> = [];
    let stopping = false;
    const startWorker = (slot: number) => {
      const process = sandbox.run(['worker', '--queue', WORKERS[slot]!], cluster);
      workers[slot] = process;
      void process.then(() => {
        if (!stopping && workers[slot] === process) setTimeout(() => startWorker(slot), 300);
      });
    };
    WORKERS.forEach((_, slot) => startWorker(slot));

    const build = sandbox.run(['build', inputFile, '--build-id', buildId, '--window', '16', '--no-progress'], cluster);
    let finished = false;
    void build.then(() => {
      finished = true;
    });
    let kills = 0;
    while (!finished) {
      await pause(4000 + Math.random() * 4000);
      if (finished) break;
      // A random worker dies without warning; its supervisor (the loop above) starts it again.
      workers[Math.floor(Math.random() * WORKERS.length)]!.kill('SIGKILL');
      kills += 1;
    }
    const result = await build;
    stopping = true;
    for (const worker of workers) worker.kill('SIGTERM');
    await Promise.all(workers);
    expect(result.exitCode, result.all).toBe(0);
    expect(kills).toBeGreaterThanOrEqual(3);

    const store = createS3Store(`s3://${bucket}/datasets`, { client: createMinioClient(minio.endpoint, minio) });
    const manifest = readJsonLines<ManifestRecord>(await store.getText(`builds/${buildId}/manifest.jsonl`));
    expect(manifest.map((record) => record.id)).toEqual(problems.map((problem) => problem.id));
    const drawn = problems.filter((problem) => problem.question.startsWith('[draw]')).length;
    expect(manifest.filter((record) => record.verdict === 'accepted')).toHaveLength(drawn);

    const prefix = `s3://${bucket}/datasets/`;
    const referenced = manifest
      .flatMap((record) => [record.image, record.code, record.plan])
      .filter((uri): uri is string => uri !== null);
    expect(referenced.length).toBe(drawn * 3);
    for (const uri of referenced) {
      expect(uri.startsWith(prefix), uri).toBe(true);
      expect(await store.exists(uri.slice(prefix.length)), uri).toBe(true);
    }
  }, 900_000);
});
