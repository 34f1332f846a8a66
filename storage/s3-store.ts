import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import type { CompletedPart } from '@aws-sdk/client-s3';
import { ArtifactNotFoundError } from './artifact-store.ts';
import type { ArtifactStore } from './artifact-store.ts';
import { assertValidArtifactKey, assertValidArtifactPrefix } from './file-store.ts';

export interface S3StoreOptions {
  /**
   * A ready client, e.g. with explicit credentials.
   * @default createDefaultS3Client()
   */
  client?: S3Client;
  /**
   * Size of each multipart upload part in `putStream`; S3 requires at least 5 MiB for every part
   * but the last. Smaller streams go up in one PutObject.
   * @default 8 MiB
   */
  partSizeBytes?: number;
  /** Address the bucket by path (MinIO and most S3-compatible servers); ignored with `client`. @default false */
  pathStyle?: boolean;
}

const minimumPartSizeBytes = 5 * 1024 * 1024;
const fallbackRegion = 'us-east-1';

export function parseS3Location(location: string): { bucket: string; prefix: string } {
  const match = /^s3:\/\/([^/]+)\/?(.*)$/.exec(location);
  const bucket = match?.[1];
  if (match === null || bucket === undefined) {
    throw new Error(`not an S3 location: ${JSON.stringify(location)} (expected s3://bucket/prefix)`);
  }
  const prefix = (match[2] ?? '').replace(/^\/+|\/+$/g, '');
  if (prefix !== '') assertValidArtifactPrefix(`${prefix}/`);
  return { bucket, prefix };
}

/**
 * The SDK's default credential chain, region and endpoint (`AWS_ENDPOINT_URL_S3`, which the SDK
 * reads itself). An S3-compatible server such as MinIO serves buckets as paths rather than host
 * names: config `s3PathStyle`, set by config/environment.ts when such an endpoint is configured.
 */
export function createDefaultS3Client(options: { pathStyle?: boolean } = {}): S3Client {
  // The SDK calls a region provider on every request; resolve once per client.
  let region: Promise<string> | undefined;
  return new S3Client({
    // Temporal retries the activity that called the store; SDK retries on top would multiply them.
    maxAttempts: 1,
    forcePathStyle: options.pathStyle ?? false,
    region: () => (region ??= resolveRegion()),
    // With the fallback region a bucket elsewhere answers with a redirect the SDK can follow.
    followRegionRedirects: true,
  });
}

/** The SDK's own region chain (env, profile), else us-east-1, which S3-compatible servers accept. */
async function resolveRegion(): Promise<string> {
  const probe = new S3Client({});
  try {
    return await probe.config.region();
  } catch {
    return fallbackRegion;
  } finally {
    probe.destroy();
  }
}

function statusOf(error: unknown): number | undefined {
  return error instanceof S3ServiceException ? error.$metadata.httpStatusCode : undefined;
}

function isMissingObject(error: unknown): boolean {
  if (!(error instanceof S3ServiceException)) return false;
  // A missing bucket is a configuration error, not a missing artifact.
  if (error.name === 'NoSuchBucket') return false;
  return error.name === 'NoSuchKey' || error.name === 'NotFound' || statusOf(error) === 404;
}

function toBytes(chunk: Uint8Array | string): Uint8Array {
  return typeof chunk === 'string' ? new TextEncoder().encode(chunk) : chunk;
}

function concatenate(chunks: Uint8Array[], totalBytes: number): Uint8Array {
  const joined = new Uint8Array(totalBytes);
  let offset = 0;
  for (const chunk of chunks) {
    joined.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return joined;
}

/** Artifacts as objects under `s3://bucket/prefix/`. */
export function createS3Store(location: string, options: S3StoreOptions = {}): ArtifactStore {
  const { bucket, prefix } = parseS3Location(location);
  const client = options.client ?? createDefaultS3Client({ pathStyle: options.pathStyle ?? false });
  const partSizeBytes = Math.max(options.partSizeBytes ?? 8 * 1024 * 1024, minimumPartSizeBytes);
  const root = prefix === '' ? `s3://${bucket}` : `s3://${bucket}/${prefix}`;
  const objectPrefix = prefix === '' ? '' : `${prefix}/`;

  const objectKeyOf = (key: string): string => {
    assertValidArtifactKey(key);
    return `${objectPrefix}${key}`;
  };

  async function get(key: string): Promise<Uint8Array> {
    try {
      const response = await client.send(new GetObjectCommand({ Bucket: bucket, Key: objectKeyOf(key) }));
      if (response.Body === undefined) return new Uint8Array();
      return await response.Body.transformToByteArray();
    } catch (error) {
      if (isMissingObject(error)) throw new ArtifactNotFoundError(key, root);
      throw error;
    }
  }

  async function* getStream(key: string): AsyncIterable<Uint8Array> {
    let body: AsyncIterable<Uint8Array> | undefined;
    try {
      const response = await client.send(new GetObjectCommand({ Bucket: bucket, Key: objectKeyOf(key) }));
      // In Node the body is a Readable, which is async-iterable in chunks.
      body = response.Body as AsyncIterable<Uint8Array> | undefined;
    } catch (error) {
      if (isMissingObject(error)) throw new ArtifactNotFoundError(key, root);
      throw error;
    }
    if (body !== undefined) yield* body;
  }

  async function uploadInParts(
    objectKey: string,
    firstPart: Uint8Array,
    rest: AsyncIterator<Uint8Array | string>,
    contentType: string | undefined,
  ): Promise<void> {
    const created = await client.send(
      new CreateMultipartUploadCommand({ Bucket: bucket, Key: objectKey, ContentType: contentType }),
    );
    const uploadId = created.UploadId;
    if (uploadId === undefined) throw new Error(`S3 returned no upload id for ${objectKey}`);
    const parts: CompletedPart[] = [];
    const uploadPart = async (body: Uint8Array): Promise<void> => {
      const partNumber = parts.length + 1;
      const uploaded = await client.send(
        new UploadPartCommand({
          Bucket: bucket,
          Key: objectKey,
          UploadId: uploadId,
          PartNumber: partNumber,
          Body: body,
        }),
      );
      parts.push({ PartNumber: partNumber, ETag: uploaded.ETag, ChecksumCRC32: uploaded.ChecksumCRC32 });
    };
    try {
      await uploadPart(firstPart);
      let buffered: Uint8Array[] = [];
      let bufferedBytes = 0;
      for (let next = await rest.next(); next.done !== true; next = await rest.next()) {
        const bytes = toBytes(next.value);
        buffered.push(bytes);
        bufferedBytes += bytes.byteLength;
        if (bufferedBytes >= partSizeBytes) {
          await uploadPart(concatenate(buffered, bufferedBytes));
          buffered = [];
          bufferedBytes = 0;
        }
      }
      // S3 allows the last part to be small (even empty only when it is the only part).
      if (bufferedBytes > 0) await uploadPart(concatenate(buffered, bufferedBytes));
      await client.send(
        new CompleteMultipartUploadCommand({
          Bucket: bucket,
          Key: objectKey,
          UploadId: uploadId,
          MultipartUpload: { Parts: parts },
        }),
      );
    } catch (error) {
      // An unfinished upload keeps its parts (and their cost) until aborted.
      await client
        .send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: objectKey, UploadId: uploadId }))
        .catch(() => {});
      // Let the producer release what it holds (open files, database cursors).
      await rest.return?.().catch(() => {});
      throw error;
    }
  }

  return {
    root,
    async put(key, body, contentType) {
      await client.send(
        new PutObjectCommand({ Bucket: bucket, Key: objectKeyOf(key), Body: body, ContentType: contentType }),
      );
    },
    get,
    getStream,
    async getText(key) {
      return new TextDecoder().decode(await get(key));
    },
    async exists(key) {
      try {
        await client.send(new HeadObjectCommand({ Bucket: bucket, Key: objectKeyOf(key) }));
        return true;
      } catch (error) {
        if (isMissingObject(error)) return false;
        throw error;
      }
    },
    async list(listPrefix) {
      assertValidArtifactPrefix(listPrefix);
      const keys: string[] = [];
      let continuationToken: string | undefined;
      do {
        const page = await client.send(
          new ListObjectsV2Command({
            Bucket: bucket,
            Prefix: `${objectPrefix}${listPrefix}`,
            ContinuationToken: continuationToken,
          }),
        );
        for (const object of page.Contents ?? []) {
          const objectKey = object.Key;
          // Folder markers some tools create are not artifacts.
          if (objectKey === undefined || objectKey.endsWith('/')) continue;
          keys.push(objectKey.slice(objectPrefix.length));
        }
        continuationToken = page.IsTruncated === true ? page.NextContinuationToken : undefined;
      } while (continuationToken !== undefined);
      return keys.sort();
    },
    async putStream(key, chunks, contentType) {
      const objectKey = objectKeyOf(key);
      // Bounded memory: one part at a time. The object appears only when the upload completes,
      // so readers never see a partial artifact.
      const iterator = chunks[Symbol.asyncIterator]();
      const buffered: Uint8Array[] = [];
      let bufferedBytes = 0;
      for (let next = await iterator.next(); next.done !== true; next = await iterator.next()) {
        const bytes = toBytes(next.value);
        buffered.push(bytes);
        bufferedBytes += bytes.byteLength;
        if (bufferedBytes >= partSizeBytes) {
          await uploadInParts(objectKey, concatenate(buffered, bufferedBytes), iterator, contentType);
          return;
        }
      }
      await client.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: objectKey,
          Body: concatenate(buffered, bufferedBytes),
          ContentType: contentType,
        }),
      );
    },
    uri(key) {
      return `s3://${bucket}/${objectKeyOf(key)}`;
    },
  };
}
