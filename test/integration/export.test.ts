import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StagedProblem } from '../../domain/types.ts';
import type { ManifestResult, ManifestRecord } from '../../domain/manifest.ts';
import { ExportError, exportBuild, type ExportBuildOptions } from '../../export/export-build.ts';
import { createFileStore } from '../../storage/file-store.ts';
import type { ArtifactStore } from '../../storage/artifact-store.ts';
import { createCliSandbox, readJsonLines, repositoryRoot } from '../helpers/cli.ts';
import { judgeScores, manifestRecord, manifestResult } from '../helpers/manifest.ts';
import { makePng } from '../helpers/png.ts';

const python = join(repositoryRoot, '.venv', 'bin', 'python');
const buildId = 'export-fixture';
const judge = judgeScores(2, 2, 1, 2, 1);

function result(
  overrides: Partial<ManifestResult> & Pick<ManifestResult, 'generator' | 'verdict' | 'image'>,
): ManifestResult {
  return manifestResult({ paradigm: 'code', model: 'model-x', judge, r_inv: 1, render_attempts: 1, ...overrides });
}

function record(overrides: Partial<ManifestRecord> & Pick<ManifestRecord, 'id' | 'verdict'>): ManifestRecord {
  return manifestRecord({ subject: 'Physics', image_type: 'Mechanics', render_attempts: 1, ...overrides });
}

describe('scigen export', () => {
  let root: string;
  let store: ArtifactStore;
  /** The PNG bytes behind each image URI of the fixture. */
  const images = new Map<string, Uint8Array>();

  async function putImage(key: string, seed: number): Promise<string> {
    const bytes = makePng(24 + seed, 16, { noisy: true, seed });
    await store.put(key, bytes, 'image/png');
    images.set(store.uri(key), bytes);
    return store.uri(key);
  }

  const exportOptions = (overrides: Partial<ExportBuildOptions>): ExportBuildOptions => ({
    store,
    buildId,
    format: 'jsonl',
    outDirectory: join(root, 'out', String(Math.random()).slice(2)),
    all: false,
    python,
    ...overrides,
  });

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'scigen-export-'));
    store = createFileStore(join(root, 'artifacts'));
    const problems = `builds/${buildId}/problems`;
    const p1Code = await putImage(`${problems}/p1/imgcoder.png`, 1);
    const p1Pixel = await putImage(`${problems}/p1/pixel.png`, 2);
    const seven = await putImage(`${problems}/7/pixel.png`, 3);
    const old = await putImage(`${problems}/old-1/image.png`, 4);
    const oldRejected = await putImage(`${problems}/old-2/image.png`, 5);
    const lines: ManifestRecord[] = [
      record({
        id: 'p1',
        verdict: 'accepted',
        question: 'A block of 2 kg slides down a 30° incline. Find its acceleration.',
        answer: '4.9 m/s^2',
        generator: 'imgcoder',
        image: p1Code,
        plan: store.uri(`${problems}/p1/plan.json`),
        extra: { source: 'bench', level: 3 },
        results: [
          result({
            generator: 'imgcoder',
            verdict: 'accepted',
            image: p1Code,
            code: store.uri(`${problems}/p1/code.py`),
            reference: { psnr: 21.5, ssim: 0.83 },
          }),
          result({
            generator: 'pixel-model',
            paradigm: 'pixel',
            verdict: 'rejected',
            image: p1Pixel,
            r_inv: 0.5,
            reasons: ['r_inv 0.5 < 0.75'],
          }),
        ],
      }),
      record({
        id: 7,
        verdict: 'failed',
        question: 'Two resistors of 3 Ω and 6 Ω in parallel: total resistance?',
        answer: null,
        generator: 'imgcoder',
        subject: 'Physics',
        image_type: 'Circuit',
        results: [
          result({ generator: 'imgcoder', verdict: 'failed', image: null, judge: null, r_inv: null }),
          result({ generator: 'pixel-model', paradigm: 'pixel', verdict: 'accepted', image: seven }),
        ],
      }),
      // Written before generator results existed: no question, no results.
      record({
        id: 'old-1',
        verdict: 'accepted',
        subject: 'Mathematics',
        image_type: 'Plane Geometry',
        image: old,
        judge,
        r_inv: 0.8,
      }),
      record({ id: 'old-2', verdict: 'rejected', image: oldRejected, judge, r_inv: 0.25 }),
      record({
        id: 'line-9',
        verdict: 'invalid',
        reasons: ['input.jsonl:9: field "question": required'],
        render_attempts: 0,
      }),
    ];
    await store.put(`builds/${buildId}/manifest.jsonl`, lines.map((line) => `${JSON.stringify(line)}\n`).join(''));
    const staged: StagedProblem[] = [
      {
        problemKey: 'old-1',
        problem: { id: 'old-1', question: 'Triangle ABC has AB = 3 and BC = 4. Find AC.', answer: '5', extra: {} },
      },
      { problemKey: 'old-2', problem: { id: 'old-2', question: 'A lever of 2 m.', extra: {} } },
    ];
    await store.put(
      `builds/${buildId}/input/page-000000.jsonl`,
      staged.map((entry) => `${JSON.stringify(entry)}\n`).join(''),
    );
  });

  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('writes one jsonl object per accepted generator result, old manifest lines as one imgcoder result', async () => {
    const exported = await exportBuild(exportOptions({ format: 'jsonl' }));
    expect(exported.items).toBe(3);
    expect(exported.counts).toMatchObject({ lines: 5, selected: 3, verdicts: { accepted: 3, rejected: 2, failed: 1 } });
    const items = readJsonLines<Record<string, unknown>>(await readFile(exported.paths[0]!, 'utf8'));
    expect(items.map((item) => item['id'])).toEqual(['p1__imgcoder', '7__pixel-model', 'old-1__imgcoder']);
    expect(items[0]).toEqual({
      id: 'p1__imgcoder',
      problem_id: 'p1',
      generator: 'imgcoder',
      paradigm: 'code',
      model: 'model-x',
      verdict: 'accepted',
      reasons: [],
      question: 'A block of 2 kg slides down a 30° incline. Find its acceleration.',
      answer: '4.9 m/s^2',
      subject: 'Physics',
      image_type: 'Mechanics',
      image: store.uri(`builds/${buildId}/problems/p1/imgcoder.png`),
      code: store.uri(`builds/${buildId}/problems/p1/code.py`),
      plan: store.uri(`builds/${buildId}/problems/p1/plan.json`),
      judge,
      r_inv: 1,
      reference: { psnr: 21.5, ssim: 0.83 },
      extra: { source: 'bench', level: 3 },
    });
    expect(items[1]).toMatchObject({
      problem_id: 7,
      generator: 'pixel-model',
      paradigm: 'pixel',
      answer: null,
      image_type: 'Circuit',
    });
    // The legacy line's question comes from the staged input.
    expect(items[2]).toMatchObject({
      problem_id: 'old-1',
      generator: 'imgcoder',
      question: 'Triangle ABC has AB = 3 and BC = 4. Find AC.',
      answer: '5',
      r_inv: 0.8,
    });
  });

  it('keeps one generator with --generator, every imaged result with --all', async () => {
    const pixel = await exportBuild(exportOptions({ generator: 'pixel-model' }));
    expect(pixel.items).toBe(1);
    const all = await exportBuild(exportOptions({ all: true }));
    const ids = readJsonLines<{ id: string; verdict: string }>(await readFile(all.paths[0]!, 'utf8')).map(
      (item) => `${item.id}:${item.verdict}`,
    );
    expect(ids).toEqual([
      'p1__imgcoder:accepted',
      'p1__pixel-model:rejected',
      '7__pixel-model:accepted',
      'old-1__imgcoder:accepted',
      'old-2__imgcoder:rejected',
    ]);
    // 7's imgcoder result failed without an image: counted, not exported.
    expect(all.counts.withoutImage).toBe(1);
  });

  it('writes Parquet in row groups that read back field by field with identical image bytes', async () => {
    const exported = await exportBuild(exportOptions({ format: 'parquet', all: true, parquetRowsPerGroup: 2 }));
    expect(exported.paths[0]).toMatch(/train\.parquet$/);
    const reader = `
import base64, json, sys
import pyarrow.parquet as pq
file = pq.ParquetFile(sys.argv[1])
rows = file.read().to_pylist()
def plain(value):
    if isinstance(value, bytes): return {"base64": base64.b64encode(value).decode()}
    if isinstance(value, dict): return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list): return [plain(v) for v in value]
    return value
print(json.dumps({"row_groups": file.num_row_groups, "columns": file.schema_arrow.names, "rows": plain(rows)}))
`;
    const read = await execa(python, ['-c', reader, exported.paths[0]!], {
      extendEnv: false,
      env: { PATH: '/usr/bin:/bin' },
    });
    const table = JSON.parse(read.stdout) as {
      row_groups: number;
      columns: string[];
      rows: Array<Record<string, any>>;
    };
    expect(table.row_groups).toBe(3);
    expect(table.columns).toEqual([
      'id',
      'problem_id',
      'generator',
      'question',
      'answer',
      'image',
      'data_source',
      'prompt',
      'images',
      'ability',
      'reward_model',
      'extra_info',
    ]);
    expect(table.rows).toHaveLength(5);
    const bytesOf = (value: { base64: string }) => new Uint8Array(Buffer.from(value.base64, 'base64'));
    const first = table.rows[0]!;
    const firstImage = store.uri(`builds/${buildId}/problems/p1/imgcoder.png`);
    expect(first['id']).toBe('p1__imgcoder');
    expect(first['problem_id']).toBe('p1');
    expect(first['generator']).toBe('imgcoder');
    expect(first['question']).toBe('A block of 2 kg slides down a 30° incline. Find its acceleration.');
    expect(first['answer']).toBe('4.9 m/s^2');
    expect(first['data_source']).toBe('scigen');
    expect(first['ability']).toBe('physics');
    expect(first['prompt']).toEqual([
      { role: 'user', content: '<image>A block of 2 kg slides down a 30° incline. Find its acceleration.' },
    ]);
    expect(first['reward_model']).toEqual({ style: 'rule', ground_truth: '4.9 m/s^2' });
    expect(first['extra_info']).toEqual({
      id: 'p1__imgcoder',
      problem_id: 'p1',
      generator: 'imgcoder',
      verdict: 'accepted',
      subject: 'Physics',
      image_type: 'Mechanics',
      image_uri: firstImage,
      r_inv: 1,
      judge,
      psnr: 21.5,
      ssim: 0.83,
    });
    expect(first['images']).toHaveLength(1);
    expect(first['images'][0].path).toBe(firstImage);
    for (const row of table.rows) {
      const expected = images.get(row['extra_info'].image_uri)!;
      expect(bytesOf(row['image'])).toEqual(expected);
      expect(bytesOf(row['images'][0].bytes)).toEqual(expected);
    }
    const seven = table.rows.find((row) => row['id'] === '7__pixel-model')!;
    expect(seven['problem_id']).toBe('7');
    expect(seven['answer']).toBeNull();
    expect(seven['reward_model']).toEqual({ style: 'rule', ground_truth: '' });
    expect(seven['extra_info'].psnr).toBeNull();
    expect(table.rows.find((row) => row['id'] === 'old-2__imgcoder')!['question']).toBe('A lever of 2 m.');
  });

  it('writes a Hugging Face imagefolder whose metadata names each image', async () => {
    const exported = await exportBuild(exportOptions({ format: 'hf' }));
    const folder = exported.paths[0]!;
    expect(folder).toMatch(/\/train$/);
    expect((await readdir(folder)).sort()).toEqual([
      '7__pixel-model.png',
      'metadata.jsonl',
      'old-1__imgcoder.png',
      'p1__imgcoder.png',
    ]);
    const metadata = readJsonLines<Record<string, unknown>>(await readFile(join(folder, 'metadata.jsonl'), 'utf8'));
    expect(metadata.map((line) => line['file_name'])).toEqual([
      'p1__imgcoder.png',
      '7__pixel-model.png',
      'old-1__imgcoder.png',
    ]);
    expect(metadata[0]).toMatchObject({
      id: 'p1__imgcoder',
      generator: 'imgcoder',
      verdict: 'accepted',
      question: 'A block of 2 kg slides down a 30° incline. Find its acceleration.',
      answer: '4.9 m/s^2',
      judge,
      r_inv: 1,
      image_uri: store.uri(`builds/${buildId}/problems/p1/imgcoder.png`),
      extra: JSON.stringify({ source: 'bench', level: 3 }),
    });
    expect(metadata[0]).not.toHaveProperty('image');
    for (const line of metadata) {
      expect(new Uint8Array(await readFile(join(folder, String(line['file_name']))))).toEqual(
        images.get(String(line['image_uri'])),
      );
    }
  });

  it('explains an unknown build, a build without a manifest, and an export with nothing in it', async () => {
    await expect(exportBuild(exportOptions({ buildId: 'nope' }))).rejects.toThrow(
      /no build nope in the artifact store .*scigen status nope/,
    );
    await store.put('builds/running/input.json', '{}');
    await expect(exportBuild(exportOptions({ buildId: 'running' }))).rejects.toThrow(
      /build running has no manifest yet .*scigen status running/,
    );
    await expect(exportBuild(exportOptions({ generator: 'dalle' }))).rejects.toThrow(
      /no generator "dalle" \(its generators: imgcoder, pixel-model\)/,
    );
    await store.put(
      'builds/all-rejected/manifest.jsonl',
      `${JSON.stringify(record({ id: 1, verdict: 'rejected', image: 'file:///x.png' }))}\n${JSON.stringify(record({ id: 2, verdict: 'failed' }))}\n`,
    );
    const empty = await exportBuild(exportOptions({ buildId: 'all-rejected', format: 'hf' })).catch(
      (error: unknown) => error,
    );
    expect(empty).toBeInstanceOf(ExportError);
    expect((empty as Error).message).toBe(
      'nothing to export from build all-rejected: no accepted result in 2 manifest lines (verdicts: rejected 1, failed 1; generators: imgcoder); --all exports every result that has an image',
    );
  });

  it('runs through the CLI, to the state directory by default', async () => {
    const sandbox = await createCliSandbox('export', { SCIGEN_ARTIFACTS: store.root });
    const exported = await sandbox.run(['export', buildId, '--format', 'jsonl', '--json']);
    expect(exported.exitCode, exported.all).toBe(0);
    const summary = JSON.parse(exported.stdout.trim().split('\n').at(-1)!) as { items: number; paths: string[] };
    expect(summary.items).toBe(3);
    expect(summary.paths).toEqual([join(sandbox.stateDirectory, 'exports', buildId, 'jsonl', 'items.jsonl')]);
    expect(readJsonLines(await readFile(summary.paths[0]!, 'utf8'))).toHaveLength(3);

    const unknownFormat = await sandbox.run(['export', buildId, '--format', 'csv']);
    expect(unknownFormat.exitCode).toBe(2);
    expect(unknownFormat.stderr).toContain('unknown export format "csv": use one of jsonl, parquet, hf');
    const unknownBuild = await sandbox.run(['export', 'missing-build', '--format', 'parquet']);
    expect(unknownBuild.exitCode).toBe(2);
    expect(unknownBuild.stderr).toMatch(/no build missing-build .*scigen status missing-build/);
    await rm(sandbox.stateDirectory, { recursive: true, force: true });
  });

  it('leaves nothing half-written when an image is gone', async () => {
    const out = join(root, 'out', 'missing-image');
    await store.put(
      'builds/gone/manifest.jsonl',
      `${JSON.stringify(record({ id: 1, verdict: 'accepted', image: store.uri('builds/gone/1.png'), question: 'q' }))}\n`,
    );
    await expect(exportBuild(exportOptions({ buildId: 'gone', format: 'parquet', outDirectory: out }))).rejects.toThrow(
      /none of the 1 selected images could be read/,
    );
    expect(await readdir(out)).toEqual([]);
  });
});
