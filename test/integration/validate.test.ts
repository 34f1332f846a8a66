import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { attachReferencesById, openReferenceFolder, stageReferenceImages } from '../../cli/reference-images.ts';
import { problemKey } from '../../domain/input.ts';
import type { InputReport } from '../../domain/input-report.ts';
import { readProblemsFile } from '../../domain/read-input-file.ts';
import { createBucket, createMinioClient, startMinio, type MinioServer } from '../../infra/minio.ts';
import { findMinioBinary } from '../../infra/tools.ts';
import { createFileStore } from '../../storage/file-store.ts';
import { createS3Store } from '../../storage/s3-store.ts';
import { createCliSandbox, type CliSandbox } from '../helpers/cli.ts';
import { useTemporaryDirectory } from '../helpers/temporary-directory.ts';

/** Problems and images written for these tests in the layouts of SciGenBench's scigen.json and seephys.json. */
const fixtures = fileURLToPath(new URL('../fixtures/validate/', import.meta.url));
const seephys = join(fixtures, 'seephys.json');
const seephysImages = join(fixtures, 'seephys_images');

describe('scigen validate', () => {
  let sandbox: CliSandbox;
  const directory = useTemporaryDirectory('validate');
  beforeAll(async () => {
    sandbox = await createCliSandbox('validate');
  });
  afterAll(async () => {
    await rm(sandbox.stateDirectory, { recursive: true, force: true });
  });

  it('exits 0 on a file with nothing invalid and prints what it holds', async () => {
    const run = await sandbox.run(['validate', join(fixtures, 'scigen.json')]);
    expect(run.exitCode, run.all).toBe(0);
    expect(run.stderr).toBe('');
    const lines = run.stdout.split('\n');
    expect(lines[0]).toBe(`${join(fixtures, 'scigen.json')}: 5 problems, 5 valid, 0 invalid`);
    expect(lines).toContain('quizzes: 5 usable, 4 dropped (from 2 problems)');
    expect(lines).toContain('  2 × option keys are not single letters');
    expect(lines).toContain('fields: 5 with answer, 4 with multimodal_question, 5 with elements');
    expect(lines).toContain('  Chemistry 1: Molecular Structure 1');
    // Nothing was started: no Temporal database, no artifacts.
    expect(await readFile(join(sandbox.stateDirectory, 'temporal.db')).catch(() => null)).toBeNull();
  });

  it('exits 2 when a problem is invalid, listing each with its line, index, id and field', async () => {
    const input = join(fixtures, 'invalid.jsonl');
    const run = await sandbox.run(['validate', input]);
    expect(run.exitCode, run.all).toBe(2);
    expect(run.stdout).toContain(`${input}: 3 problems, 1 valid, 2 invalid`);
    expect(run.stdout).toContain(
      `  ${input}:2: problem [1] (id "no-question"): field "question": must be a non-empty string, got an empty string`,
    );
    expect(run.stdout).toContain(
      `  ${input}:3: problem [2] (id "bad-quizzes"): field "quizzes": must be an array of quizzes, got object`,
    );
    expect(run.stderr).toBe(`scigen: ${input}: 2 of 3 problems are invalid`);
  });

  it('exits 2 on a file that cannot be read as problems', async () => {
    const input = join(directory.path, 'broken.json');
    await writeFile(input, '[{"id": 1, "question": "q"},');
    const run = await sandbox.run(['validate', input]);
    expect(run.exitCode, run.all).toBe(2);
    expect(run.stdout).toMatch(/malformed JSON array/);
    expect(run.stderr).toBe(`scigen: ${input} cannot be read as problems`);
  });

  it('attaches references by id from --references, lists the missing ones and stays at exit 0', async () => {
    const run = await sandbox.run(['validate', seephys, '--references', 'test/fixtures/validate/seephys_images']);
    expect(run.exitCode, run.all).toBe(0);
    expect(run.stdout).toContain(
      `references: 3 found (1 named by the problems, 2 from ${seephysImages}, which holds 4 images), 1 missing\n  no image for 4104\n`,
    );
  });

  it('prints one JSON object with --json', async () => {
    const run = await sandbox.run(['validate', seephys, '--references', pathToFileURL(seephysImages).href, '--json']);
    expect(run.exitCode, run.all).toBe(0);
    const report = JSON.parse(run.stdout) as InputReport;
    expect(Object.keys(report)).toEqual([
      'input',
      'problems',
      'errors',
      'quizzes',
      'fields',
      'references',
      'taxonomy',
      'staging',
    ]);
    expect(report.problems).toEqual({ total: 4, valid: 4, invalid: 0 });
    expect(report.quizzes.dropped_by_reason).toEqual([{ reason: 'option keys are not single letters', count: 1 }]);
    expect(report.references).toEqual({
      folder: pathToFileURL(seephysImages).href,
      folder_images: 4,
      named_by_problems: 1,
      from_folder: 2,
      missing: [4104],
    });
    expect(report.taxonomy.without_image_type).toBe(4);

    const invalid = await sandbox.run(['validate', join(fixtures, 'invalid.jsonl'), '--json']);
    expect(invalid.exitCode).toBe(2);
    const invalidReport = JSON.parse(invalid.stdout) as InputReport;
    expect(invalidReport.errors.map((error) => [error.index, error.id, error.field])).toEqual([
      [1, 'no-question', 'question'],
      [2, 'bad-quizzes', 'elements[1]'],
      [2, 'bad-quizzes', 'quizzes'],
    ]);
  });

  it('reads input.references from the config, and --references wins over it', async () => {
    const config = join(directory.path, 'config.json');
    await writeFile(config, JSON.stringify({ input: { references: seephysImages } }));
    const fromConfig = await sandbox.run(['validate', seephys, '--config', config, '--json']);
    expect(fromConfig.exitCode, fromConfig.all).toBe(0);
    expect((JSON.parse(fromConfig.stdout) as InputReport).references.from_folder).toBe(2);

    const empty = join(directory.path, 'no-images');
    await mkdir(empty);
    const fromFlag = await sandbox.run(['validate', seephys, '--config', config, '--references', empty, '--json']);
    expect(fromFlag.exitCode, fromFlag.all).toBe(0);
    expect((JSON.parse(fromFlag.stdout) as InputReport).references).toMatchObject({
      folder: empty,
      from_folder: 0,
      missing: [4101, 4102, 4104],
    });
  });

  it('refuses a references folder that does not exist', async () => {
    const run = await sandbox.run(['validate', seephys, '--references', join(directory.path, 'nowhere')]);
    expect(run.exitCode, run.all).toBe(2);
    expect(run.stderr).toBe(
      `scigen: references folder ${join(directory.path, 'nowhere')} (--references / input.references): no such folder`,
    );
  });

  it('is the check scigen build runs first: the same brief counts, and invalid input starts nothing', async () => {
    const input = join(fixtures, 'invalid.jsonl');
    const run = await sandbox.run(['build', input, '--no-progress']);
    expect(run.exitCode, run.all).toBe(2);
    expect(run.stdout.split('\n')[0]).toBe(
      `${input}: 3 problems, 1 valid, 2 invalid; quizzes 0 usable, 0 dropped; 1 image type, 0 problems without one`,
    );
    expect(run.stderr).toContain(`${input}:3: problem [2] (id "bad-quizzes"): field "quizzes"`);
    expect(run.stderr).toContain('scigen validate lists what the file holds');
    expect(await readFile(join(sandbox.stateDirectory, 'temporal.db')).catch(() => null)).toBeNull();
  });
});

describe('reference images by id from a local folder', () => {
  const directory = useTemporaryDirectory('references-by-id');

  it("attaches <id>.<ext> as written, keeps a problem's own image, and stages what it attached", async () => {
    const parsed = await readProblemsFile(seephys);
    const folder = await openReferenceFolder(seephysImages);
    // README.txt is not an image; 9999.webp is one without a problem.
    expect([...folder.images.keys()].sort()).toEqual(['4101', '4102', '4103', '9999']);
    const { parsed: attached, references } = attachReferencesById(parsed, folder);
    expect(references).toEqual({
      folder: seephysImages,
      folder_images: 4,
      named_by_problems: 1,
      from_folder: 2,
      missing: [4104],
    });
    expect(attached.problems.map((problem) => problem.reference_image)).toEqual([
      pathToFileURL(join(seephysImages, '4101.png')).href,
      pathToFileURL(join(seephysImages, '4102.jpg')).href,
      'own/4103.png',
      undefined,
    ]);
    // The problems read from the file are left as they were.
    expect(parsed.problems[0]!.reference_image).toBeUndefined();

    const store = createFileStore(join(directory.path, 'artifacts'));
    const staged = attached.problems.map((problem) => ({ problemKey: problemKey(problem.id), problem }));
    await stageReferenceImages(store, 'by-id', staged, seephys);
    expect(staged.map((entry) => entry.problem.reference_image_key)).toEqual([
      'builds/by-id/references/4101.png',
      'builds/by-id/references/4102.jpg',
      'builds/by-id/references/4103.png',
      undefined,
    ]);
    expect(await store.get('builds/by-id/references/4102.jpg')).toEqual(
      new Uint8Array(await readFile(join(seephysImages, '4102.jpg'))),
    );
    // The problem's own image, not the folder's 4103.png.
    expect(await store.get('builds/by-id/references/4103.png')).toEqual(
      new Uint8Array(await readFile(join(fixtures, 'own', '4103.png'))),
    );
  });

  it('prefers png, then jpg, jpeg and webp, reads extensions in any case and needs the whole id', async () => {
    const folder = join(directory.path, 'mixed');
    await mkdir(folder);
    for (const name of ['7.webp', '7.PNG', '8.jpeg', '8.jpg', '9.webp', '10-a.png', '.png']) {
      await writeFile(join(folder, name), name);
    }
    // Only the folder's own files: not those of a folder below it.
    await mkdir(join(folder, 'below'));
    await writeFile(join(folder, 'below', '11.png'), '11');
    const opened = await openReferenceFolder(pathToFileURL(folder).href);
    expect(Object.fromEntries(opened.images)).toEqual({
      '7': pathToFileURL(join(folder, '7.PNG')).href,
      '8': pathToFileURL(join(folder, '8.jpg')).href,
      '9': pathToFileURL(join(folder, '9.webp')).href,
      '10-a': pathToFileURL(join(folder, '10-a.png')).href,
    });
    const parsed = {
      problems: [10, '7', 'a/b', 11].map((id) => ({ id, question: 'q', extra: {} })),
      errors: [],
      sources: [],
    };
    const { references } = attachReferencesById(parsed, opened);
    expect(references.missing).toEqual([10, 'a/b', 11]);
    expect(references.from_folder).toBe(1);
  });
});

describe('reference images by id from s3:// (MinIO)', () => {
  const bucket = 'scigen-references';
  let minio: MinioServer | undefined;
  let dataDirectory: string;
  let minioEnvironment: Record<string, string>;
  const saved: Record<string, string | undefined> = {};

  beforeAll(async () => {
    dataDirectory = await mkdtemp(join(tmpdir(), 'scigen-minio-references-'));
    minio = await startMinio({ dataDirectory, executable: findMinioBinary(process.env['SCIGEN_MINIO_BIN']) });
    await createBucket(minio.endpoint, minio, bucket);
    const client = createMinioClient(minio.endpoint, minio);
    const upload = createS3Store(`s3://${bucket}/bench/seephys_images`, { client });
    for (const name of ['4101.png', '4102.jpg', '9999.webp']) {
      await upload.put(name, new Uint8Array(await readFile(join(seephysImages, name))));
    }
    // An image in a folder below is not the folder's.
    await upload.put('nested/4104.png', new Uint8Array(await readFile(join(seephysImages, '4101.png'))));
    client.destroy();
    // The S3 client is set up as the artifact store's: found through the environment.
    minioEnvironment = {
      AWS_ENDPOINT_URL_S3: minio.endpoint,
      AWS_ACCESS_KEY_ID: minio.accessKey,
      AWS_SECRET_ACCESS_KEY: minio.secretKey,
    };
    for (const [key, value] of Object.entries(minioEnvironment)) {
      saved[key] = process.env[key];
      process.env[key] = value;
    }
  });

  afterAll(async () => {
    for (const [key, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
    await minio?.stop();
    await rm(dataDirectory, { recursive: true, force: true });
  });

  it('lists the folder once, attaches by id and stages the objects', async () => {
    const location = `s3://${bucket}/bench/seephys_images`;
    const folder = await openReferenceFolder(location, { s3PathStyle: true });
    expect(Object.fromEntries(folder.images)).toEqual({
      '4101': `${location}/4101.png`,
      '4102': `${location}/4102.jpg`,
      '9999': `${location}/9999.webp`,
    });
    const { parsed, references } = attachReferencesById(await readProblemsFile(seephys), folder);
    expect(references).toMatchObject({ folder: location, folder_images: 3, from_folder: 2, missing: [4104] });

    const root = await mkdtemp(join(tmpdir(), 'scigen-references-store-'));
    try {
      const store = createFileStore(root);
      const staged = parsed.problems.map((problem) => ({ problemKey: problemKey(problem.id), problem }));
      await stageReferenceImages(store, 'from-s3', staged, seephys, { s3PathStyle: true });
      expect(await store.get('builds/from-s3/references/4102.jpg')).toEqual(
        new Uint8Array(await readFile(join(seephysImages, '4102.jpg'))),
      );
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it('scigen validate --references s3://… reads the bucket through AWS_ENDPOINT_URL_S3', async () => {
    const sandbox = await createCliSandbox('validate-s3', minioEnvironment);
    try {
      const input = join(await mkdtemp(join(tmpdir(), 'scigen-validate-s3-')), 'seephys.json');
      // Without the problem that names its own image, every reference comes from the bucket.
      const problems = (JSON.parse(await readFile(seephys, 'utf8')) as { id: number }[]).filter(
        (problem) => problem.id !== 4103,
      );
      await writeFile(input, JSON.stringify(problems, null, 2));
      const run = await sandbox.run([
        'validate',
        input,
        '--references',
        `s3://${bucket}/bench/seephys_images/`,
        '--json',
      ]);
      expect(run.exitCode, run.all).toBe(0);
      expect((JSON.parse(run.stdout) as InputReport).references).toEqual({
        folder: `s3://${bucket}/bench/seephys_images/`,
        folder_images: 3,
        named_by_problems: 0,
        from_folder: 2,
        missing: [4104],
      });
      await rm(join(input, '..'), { recursive: true, force: true });
    } finally {
      await rm(sandbox.stateDirectory, { recursive: true, force: true });
    }
  });
});
