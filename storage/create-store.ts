import type { ArtifactStore } from './artifact-store.ts';
import { createFileStore } from './file-store.ts';
import { createS3Store } from './s3-store.ts';

/**
 * The store for `SCIGEN_ARTIFACTS`: `file://…` or a plain path for local files, `s3://bucket/prefix`
 * for S3 (and S3-compatible servers through `AWS_ENDPOINT_URL_S3`).
 */
export function createArtifactStore(location: string, options: { s3PathStyle?: boolean } = {}): ArtifactStore {
  const trimmed = location.trim();
  if (trimmed === '') throw new Error('artifact location is empty; use file://<dir>, a path or s3://bucket/prefix');
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):/.exec(trimmed)?.[1]?.toLowerCase();
  if (scheme === undefined || scheme === 'file') return createFileStore(trimmed);
  if (scheme === 's3') return createS3Store(trimmed, { pathStyle: options.s3PathStyle ?? false });
  throw new Error(
    `unsupported artifact location ${JSON.stringify(location)}: scheme "${scheme}:" is not one of ` +
      'file:// (or a plain path) and s3://',
  );
}
