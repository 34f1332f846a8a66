/**
 * Where images, code, plans and build records live. Keys are relative, slash-separated paths
 * (`builds/<build>/problems/<problem>/image.png`); `uri(key)` is what the manifest shows.
 */
export interface ArtifactStore {
  /** `file:///abs/root` or `s3://bucket/prefix`, without a trailing slash. */
  readonly root: string;
  put(key: string, body: Uint8Array | string, contentType?: string): Promise<void>;
  /** Throws ArtifactNotFoundError when absent. */
  get(key: string): Promise<Uint8Array>;
  getText(key: string): Promise<string>;
  /**
   * The artifact's bytes in chunks, for objects too large to hold (a big manifest). Throws
   * ArtifactNotFoundError when absent, before the first chunk.
   */
  getStream(key: string): AsyncIterable<Uint8Array>;
  exists(key: string): Promise<boolean>;
  /** Every key under the prefix (recursive), sorted. */
  list(prefix: string): Promise<string[]>;
  /** Appends nothing: writes a whole object from a stream of chunks (used for large manifests). */
  putStream(key: string, chunks: AsyncIterable<Uint8Array | string>, contentType?: string): Promise<void>;
  uri(key: string): string;
}

export class ArtifactNotFoundError extends Error {
  override readonly name = 'ArtifactNotFoundError';
  constructor(
    readonly key: string,
    readonly root: string,
  ) {
    super(`artifact not found: ${key} (store ${root})`);
  }
}
