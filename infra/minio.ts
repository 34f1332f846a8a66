import { mkdir } from 'node:fs/promises';
import { CreateBucketCommand, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { findFreePort } from './dev-server.ts';
import { startServiceProcess, waitUntilReady } from './service-process.ts';
import { findMinioBinary } from './tools.ts';

export interface MinioOptions {
  /** Where MinIO keeps objects; created when missing. Use a fresh one per test run. */
  dataDirectory: string;
  /**
   * S3 API port.
   * @default a free port
   */
  port?: number;
  /**
   * Web console port.
   * @default a free port
   */
  consolePort?: number;
  /** @default findMinioBinary() */
  executable?: string;
  /** @default 30_000 */
  startTimeoutMilliseconds?: number;
}

export interface MinioCredentials {
  accessKey: string;
  secretKey: string;
}

export interface MinioServer extends MinioCredentials {
  /** `http://127.0.0.1:<port>`, for `AWS_ENDPOINT_URL_S3` or an S3Client `endpoint`. */
  readonly endpoint: string;
  readonly region: string;
  stop(): Promise<void>;
}

const host = '127.0.0.1';
const region = 'us-east-1';

/** Starts a throwaway single-drive MinIO for tests and waits until it reports itself live. */
export async function startMinio(options: MinioOptions): Promise<MinioServer> {
  const executable = options.executable ?? findMinioBinary();
  const port = options.port ?? (await findFreePort(host));
  const consolePort = options.consolePort ?? (await findFreePort(host));
  const accessKey = 'scigen-test';
  // Fixed test credentials for a loopback-only server that lives as long as one test run.
  const secretKey = 'scigen-test-secret';
  const endpoint = `http://${host}:${port}`;
  await mkdir(options.dataDirectory, { recursive: true });

  const server = startServiceProcess({
    name: 'minio',
    executable,
    arguments: [
      'server',
      options.dataDirectory,
      '--address',
      `${host}:${port}`,
      '--console-address',
      `${host}:${consolePort}`,
      '--quiet',
    ],
    environment: {
      ...process.env,
      MINIO_ROOT_USER: accessKey,
      MINIO_ROOT_PASSWORD: secretKey,
      // No update checks or telemetry from a test server.
      MINIO_UPDATE: 'off',
      MINIO_CALLHOME_ENABLE: 'off',
    },
  });
  await waitUntilReady(
    server,
    `live at ${endpoint}`,
    () => isLive(endpoint),
    options.startTimeoutMilliseconds ?? 30_000,
  );
  const stop = () => server.stop();
  return { endpoint, region, accessKey, secretKey, stop };
}

async function isLive(endpoint: string): Promise<boolean> {
  try {
    const response = await fetch(`${endpoint}/minio/health/live`, { signal: AbortSignal.timeout(1_000) });
    return response.ok;
  } catch {
    return false;
  }
}

/** An S3 client for a MinIO endpoint: explicit credentials, path-style buckets. */
export function createMinioClient(endpoint: string, credentials: MinioCredentials): S3Client {
  return new S3Client({
    endpoint,
    region,
    forcePathStyle: true,
    credentials: { accessKeyId: credentials.accessKey, secretAccessKey: credentials.secretKey },
  });
}

export async function createBucket(endpoint: string, credentials: MinioCredentials, bucket: string): Promise<void> {
  const client = createMinioClient(endpoint, credentials);
  try {
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
  } catch (error) {
    if (!(error instanceof S3ServiceException && error.name === 'BucketAlreadyOwnedByYou')) throw error;
  } finally {
    client.destroy();
  }
}
