import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findMinioBinary } from '../../infra/tools.ts';
import { createBucket, createMinioClient, startMinio } from '../../infra/minio.ts';
import type { MinioServer } from '../../infra/minio.ts';
import { ArtifactNotFoundError } from '../../storage/artifact-store.ts';
import type { ArtifactStore } from '../../storage/artifact-store.ts';
import { createArtifactStore } from '../../storage/create-store.ts';
import { InvalidArtifactKeyError, createFileStore } from '../../storage/file-store.ts';
import { createS3Store } from '../../storage/s3-store.ts';

async function* chunksOf(...chunks: Array<Uint8Array | string>): AsyncIterable<Uint8Array | string> {
  for (const chunk of chunks) yield chunk;
}

/** The same behaviour is required of every store; `expectedUri` pins each store's URI form. */
function defineStoreSuite(
  name: string,
  options: { createStore: () => ArtifactStore; expectedUri: (key: string) => string },
): void {
  describe(name, () => {
    let store: ArtifactStore;
    beforeAll(() => {
      store = options.createStore();
    });

    it('round-trips bytes and text', async () => {
      const bytes = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0, 255]);
      await store.put('roundtrip/image.png', bytes, 'image/png');
      await store.put('roundtrip/plan.json', '{"content":["triangle ABC — 30°"]}', 'application/json');
      expect(await store.get('roundtrip/image.png')).toEqual(bytes);
      expect(await store.getText('roundtrip/plan.json')).toBe('{"content":["triangle ABC — 30°"]}');
    });

    it('overwrites an existing artifact as a whole', async () => {
      await store.put('overwrite/code.py', 'a much longer first version of the script');
      await store.put('overwrite/code.py', 'short');
      expect(await store.getText('overwrite/code.py')).toBe('short');
    });

    it('tells whether an artifact exists', async () => {
      await store.put('exists/present.txt', 'here');
      expect(await store.exists('exists/present.txt')).toBe(true);
      expect(await store.exists('exists/absent.txt')).toBe(false);
      // A folder is not an artifact.
      expect(await store.exists('exists')).toBe(false);
    });

    it('raises ArtifactNotFoundError for a missing key', async () => {
      const failure = await store.get('missing/nothing.png').catch((error: unknown) => error);
      expect(failure).toBeInstanceOf(ArtifactNotFoundError);
      expect((failure as ArtifactNotFoundError).key).toBe('missing/nothing.png');
      await expect(store.getText('missing/nothing.txt')).rejects.toBeInstanceOf(ArtifactNotFoundError);
    });

    it('reads an artifact as a stream of chunks', async () => {
      const text = 'line\n'.repeat(100_000);
      await store.put('read-stream/manifest.jsonl', text);
      const chunks: Uint8Array[] = [];
      for await (const chunk of store.getStream('read-stream/manifest.jsonl')) chunks.push(chunk);
      expect(Buffer.concat(chunks).toString('utf8')).toBe(text);
      const consume = async () => {
        for await (const chunk of store.getStream('read-stream/absent.jsonl')) void chunk;
      };
      await expect(consume()).rejects.toBeInstanceOf(ArtifactNotFoundError);
    });

    it('lists every key under a prefix, recursively and sorted', async () => {
      for (const key of ['list/b/2.txt', 'list/a.txt', 'list/b/1/deep.txt', 'listing-neighbour.txt', 'list2/x.txt']) {
        await store.put(key, key);
      }
      expect(await store.list('list/')).toEqual(['list/a.txt', 'list/b/1/deep.txt', 'list/b/2.txt']);
      expect(await store.list('list/b/')).toEqual(['list/b/1/deep.txt', 'list/b/2.txt']);
      // Prefixes match as strings, the way S3 does.
      expect(await store.list('list')).toEqual([
        'list/a.txt',
        'list/b/1/deep.txt',
        'list/b/2.txt',
        'list2/x.txt',
        'listing-neighbour.txt',
      ]);
      expect(await store.list('nothing-here/')).toEqual([]);
    });

    it('writes a whole object from a stream of chunks', async () => {
      await store.putStream('stream/manifest.jsonl', chunksOf('{"id":1}\n', new TextEncoder().encode('{"id":2}\n')));
      expect(await store.getText('stream/manifest.jsonl')).toBe('{"id":1}\n{"id":2}\n');
      await store.putStream('stream/empty.jsonl', chunksOf());
      expect(await store.getText('stream/empty.jsonl')).toBe('');
    });

    it('streams an object larger than one multipart part', async () => {
      const chunk = new Uint8Array(1024 * 1024).fill(7);
      const chunkCount = 12;
      await store.putStream(
        'stream/large.bin',
        (async function* () {
          for (let index = 0; index < chunkCount; index += 1) yield chunk;
          yield 'tail';
        })(),
        'application/octet-stream',
      );
      const stored = await store.get('stream/large.bin');
      expect(stored.byteLength).toBe(chunkCount * chunk.byteLength + 4);
      expect(new TextDecoder().decode(stored.subarray(-4))).toBe('tail');
      expect(stored[0]).toBe(7);
    });

    it('leaves no artifact behind when the stream fails', async () => {
      const failing = (async function* () {
        yield 'partial line';
        throw new Error('producer broke');
      })();
      await expect(store.putStream('stream/broken.jsonl', failing)).rejects.toThrow('producer broke');
      expect(await store.exists('stream/broken.jsonl')).toBe(false);
      expect(await store.list('stream/broken')).toEqual([]);
    });

    it('leaves no artifact behind when the stream fails after several megabytes', async () => {
      const failing = (async function* () {
        for (let index = 0; index < 9; index += 1) yield new Uint8Array(1024 * 1024);
        throw new Error('producer broke late');
      })();
      await expect(store.putStream('stream/broken-large.bin', failing)).rejects.toThrow('producer broke late');
      expect(await store.exists('stream/broken-large.bin')).toBe(false);
    });

    it('gives each key a stable URI under the root', () => {
      expect(store.uri('builds/b1/problems/p1/image.png')).toBe(options.expectedUri('builds/b1/problems/p1/image.png'));
      expect(store.root.endsWith('/')).toBe(false);
    });

    it.each([
      ['../escape.txt'],
      ['builds/../../escape.txt'],
      ['/etc/passwd'],
      ['builds\\windows.txt'],
      ['builds//double.txt'],
      ['builds/./dot.txt'],
      ['builds/folder/'],
      [''],
    ])('rejects the invalid key %j', async (key) => {
      await expect(store.put(key, 'x')).rejects.toBeInstanceOf(InvalidArtifactKeyError);
      await expect(store.get(key)).rejects.toBeInstanceOf(InvalidArtifactKeyError);
      await expect(store.exists(key)).rejects.toBeInstanceOf(InvalidArtifactKeyError);
      expect(() => store.uri(key)).toThrow(InvalidArtifactKeyError);
    });

    it('rejects a list prefix that climbs out of the root', async () => {
      await expect(store.list('../')).rejects.toBeInstanceOf(InvalidArtifactKeyError);
    });
  });
}

const fileRoot = await mkdtemp(path.join(tmpdir(), 'scigen-file-store-'));
afterAll(async () => {
  await rm(fileRoot, { recursive: true, force: true });
});

defineStoreSuite('file store', {
  createStore: () => createFileStore(`file://${fileRoot}/artifacts`),
  expectedUri: (key) => `file://${fileRoot}/artifacts/${key}`,
});

describe('file store specifics', () => {
  it('keeps no temp files after writes', async () => {
    const root = path.join(fileRoot, 'temp-check');
    const store = createFileStore(root);
    await store.put('a/b.txt', 'one');
    await store.putStream('a/c.txt', chunksOf('two'));
    expect((await readdir(path.join(root, 'a'))).sort()).toEqual(['b.txt', 'c.txt']);
  });

  it('accepts plain paths and the relative file://./ form', () => {
    expect(createArtifactStore(path.join(fileRoot, 'plain')).root).toBe(`file://${fileRoot}/plain`);
    const relative = createArtifactStore('file://./.scigen/artifacts');
    expect(fileURLToPath(relative.root)).toBe(path.resolve('.scigen/artifacts'));
  });

  it('refuses unknown schemes clearly', () => {
    expect(() => createArtifactStore('gs://bucket/prefix')).toThrow(/scheme "gs:"/);
  });
});

describe('S3 store against MinIO', () => {
  const bucket = 'scigen-artifacts';
  let minio: MinioServer | undefined;
  let dataDirectory: string;
  const savedEnvironment: Record<string, string | undefined> = {};
  const environment: Record<string, string> = {};

  beforeAll(async () => {
    dataDirectory = await mkdtemp(path.join(tmpdir(), 'scigen-minio-'));
    minio = await startMinio({ dataDirectory, executable: findMinioBinary(process.env['SCIGEN_MINIO_BIN']) });
    await createBucket(minio.endpoint, minio, bucket);
    // The default client must find MinIO the way users configure it: through the environment.
    Object.assign(environment, {
      AWS_ENDPOINT_URL_S3: minio.endpoint,
      AWS_ACCESS_KEY_ID: minio.accessKey,
      AWS_SECRET_ACCESS_KEY: minio.secretKey,
      AWS_REGION: '',
    });
    for (const [key, value] of Object.entries(environment)) {
      savedEnvironment[key] = process.env[key];
      if (value === '') delete process.env[key];
      else process.env[key] = value;
    }
  });

  afterAll(async () => {
    for (const [key, value] of Object.entries(savedEnvironment)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
    await minio?.stop();
    await rm(dataDirectory, { recursive: true, force: true });
  });

  defineStoreSuite('s3 store (default client from the environment)', {
    createStore: () => createArtifactStore(`s3://${bucket}/runs/one/`),
    expectedUri: (key) => `s3://${bucket}/runs/one/${key}`,
  });

  it('works at the bucket root with an injected client', async () => {
    if (minio === undefined) throw new Error('minio did not start');
    const client = createMinioClient(minio.endpoint, minio);
    const store = createS3Store(`s3://${bucket}`, { client });
    expect(store.root).toBe(`s3://${bucket}`);
    await store.put('root-level.txt', 'at the root');
    expect(await store.getText('root-level.txt')).toBe('at the root');
    expect(store.uri('root-level.txt')).toBe(`s3://${bucket}/root-level.txt`);
    // Keys written through a prefixed store show up under that prefix here.
    await createS3Store(`s3://${bucket}/runs/two`, { client }).put('nested/a.txt', 'a');
    expect(await store.list('runs/two/')).toEqual(['runs/two/nested/a.txt']);
    client.destroy();
  });

  it('uploads large streams in multipart parts', async () => {
    if (minio === undefined) throw new Error('minio did not start');
    const client = createMinioClient(minio.endpoint, minio);
    const store = createS3Store(`s3://${bucket}/multipart`, { client, partSizeBytes: 5 * 1024 * 1024 });
    const megabyte = new Uint8Array(1024 * 1024).fill(1);
    await store.putStream(
      'eleven.bin',
      (async function* () {
        for (let index = 0; index < 11; index += 1) yield megabyte;
      })(),
    );
    const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: 'multipart/eleven.bin' }));
    expect(head.ContentLength).toBe(11 * megabyte.byteLength);
    // A multipart object's ETag ends in "-<number of parts>": 5 + 5 + 1 MiB.
    expect(head.ETag).toMatch(/-3"?$/);
    client.destroy();
  });

  it('does not mistake a missing bucket for a missing artifact', async () => {
    if (minio === undefined) throw new Error('minio did not start');
    const client = createMinioClient(minio.endpoint, minio);
    const store = createS3Store('s3://no-such-bucket/x', { client });
    const failure = await store.get('a.txt').catch((error: unknown) => error);
    expect(failure).not.toBeInstanceOf(ArtifactNotFoundError);
    expect(String(failure)).toMatch(/bucket/i);
    client.destroy();
  });
});
