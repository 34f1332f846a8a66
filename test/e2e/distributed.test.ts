import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ManifestRecord } from '../../domain/manifest.ts';
import { findMinioBinary } from '../../infra/tools.ts';
import { createBucket, createMinioClient, startMinio, type MinioServer } from '../../infra/minio.ts';
import { syntheticProblems, syntheticScript } from '../../scripted/synthetic.ts';
import { createS3Store } from '../../storage/s3-store.ts';
import { readJsonLines, writeProblemsFile } from '../helpers/cli.ts';
import { startTestCluster, superviseWorkers, type TestCluster } from '../helpers/cluster.ts';
import { makeTemporaryDirectory } from '../helpers/temporary-directory.ts';

const WORKERS = ['workflows', 'llm', 'llm', 'render', 'render'] as const;
const pause = (milliseconds: number) => new Promise((resolve) => setTimeout(resolve, milliseconds));

describe('distributed: separate worker processes, S3 artifacts on MinIO, workers killed at random', () => {
  let minio: MinioServer;
  let cluster: TestCluster;
  const bucket = 'scigen-distributed';

  beforeAll(async () => {
    minio = await startMinio({
      dataDirectory: join(await makeTemporaryDirectory('distributed'), 'minio'),
      executable: findMinioBinary(process.env['SCIGEN_MINIO_BIN']),
    });
    await createBucket(minio.endpoint, minio, bucket);
    cluster = await startTestCluster('distributed', {
      script: syntheticScript,
      latencyMs: 50,
      environment: {
        SCIGEN_ARTIFACTS: `s3://${bucket}/datasets`,
        AWS_ENDPOINT_URL_S3: minio.endpoint,
        AWS_ACCESS_KEY_ID: minio.accessKey,
        AWS_SECRET_ACCESS_KEY: minio.secretKey,
        AWS_REGION: minio.region,
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      },
    });
  });
  afterAll(async () => {
    await cluster?.close();
    await minio?.stop();
  });

  it('a 300-problem build completes with one manifest line per problem and every referenced artifact in S3', async () => {
    const { sandbox } = cluster;
    const problems = syntheticProblems(300, 10);
    const inputFile = await writeProblemsFile('distributed-input', problems);
    const environment = { TEMPORAL_ADDRESS: cluster.server.address };
    const buildId = 'distributed-e2e';

    const workers = superviseWorkers(sandbox, WORKERS, environment, 300);

    const build = sandbox.run(
      ['build', inputFile, '--build-id', buildId, '--window', '16', '--no-progress'],
      environment,
    );
    let finished = false;
    void build.then(() => {
      finished = true;
    });
    let kills = 0;
    while (!finished) {
      await pause(4000 + Math.random() * 4000);
      if (finished) break;
      // A random worker dies without warning; its supervisor starts it again.
      workers.kill(Math.floor(Math.random() * WORKERS.length), 'SIGKILL');
      kills += 1;
    }
    const result = await build;
    await workers.stop();
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
