import { mkdtemp, readdir, readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { GeneratorSummary } from '../../domain/summary.ts';
import type { JudgeScores } from '../../domain/types.ts';
import type { ManifestResult, ManifestRecord } from '../../domain/manifest.ts';
import { createFileStore } from '../../storage/file-store.ts';
import type { ArtifactStore } from '../../storage/artifact-store.ts';
import { entriesOf } from '../../report/aggregate.ts';
import { createSummaryAccumulator } from '../../domain/summary.ts';
import { renderBarChart } from '../../report/bar-chart.ts';
import { escapeHtml, jsonForScript } from '../../report/escape.ts';
import type { ReportCard, ReportIndex } from '../../report/html.ts';
import { writeReport } from '../../report/write-report.ts';
import { manifestRecord, manifestResult } from '../helpers/manifest.ts';
import { makePng } from '../helpers/png.ts';

const BUILD = 'report-unit';
const HOSTILE = 'Find x. </script><script>alert("pwned")</script><!-- & \u2028 end';

const judge = (value: number, correctness = value): JudgeScores => ({
  correctness_fidelity: correctness,
  layout_precision: value,
  readability_occlusion: value,
  scientific_plausibility: value,
  expressiveness_richness: value,
});

const usage = { input_tokens: 10, output_tokens: 5, cost_usd: 0.01 };

function result(overrides: Partial<ManifestResult> & Pick<ManifestResult, 'generator'>): ManifestResult {
  return manifestResult({
    paradigm: 'code',
    model: 'model-a',
    verdict: 'accepted',
    judge: judge(2),
    r_inv: 1,
    render_attempts: 1,
    usage,
    ...overrides,
  });
}

function baseRecord(overrides: Partial<ManifestRecord> & Pick<ManifestRecord, 'id'>): ManifestRecord {
  return manifestRecord({
    verdict: 'accepted',
    subject: 'Physics',
    image_type: 'Mechanics',
    judge: judge(2),
    r_inv: 1,
    render_attempts: 1,
    usage,
    ...overrides,
  });
}

/** The fixed manifest: two generators with refinement, quizzes and reference; an old line; skipped and invalid lines. */
function manifestLines(uri: (key: string) => string): ManifestRecord[] {
  const key = (problem: string, file: string) => `builds/${BUILD}/problems/${problem}/${file}`;
  const coder = result({
    generator: 'imgcoder',
    image: uri(key('incline', 'imgcoder/image-1.png')),
    code: uri(key('incline', 'imgcoder/code-1.py')),
    judge_uri: uri(key('incline', 'imgcoder/judge.json')),
    judge_reasoning: {
      overall: 'Clear <b>figure</b>.',
      dimensions: { layout_precision: 'The angle label sits on the ramp.' },
    },
    r_inv: 0.5,
    verdict: 'rejected',
    reasons: ['r_inv 0.50 < 0.75 <img src=x onerror=alert(2)>'],
    quiz_results: [
      { question: 'What is the angle?', correct_option: 'B', chosen: 'B' },
      { question: 'What is the mass?', correct_option: 'C', chosen: null },
    ],
    versions: [
      {
        round: 0,
        image: uri(key('incline', 'imgcoder/image-0.png')),
        code: uri(key('incline', 'imgcoder/code-0.py')),
        judge: judge(1),
        critique: null,
      },
      {
        round: 1,
        image: uri(key('incline', 'imgcoder/image-1.png')),
        code: uri(key('incline', 'imgcoder/code-1.py')),
        judge: judge(2),
        critique: 'label the angle',
      },
    ],
    reference: { psnr: 20, ssim: 0.8 },
  });
  const pixel = result({
    generator: 'pixel-model',
    paradigm: 'pixel',
    model: 'image-model',
    image: uri(key('incline', 'pixel-model/image.png')),
    judge: judge(1, 2),
    r_inv: 1,
    reference: { psnr: 10, ssim: 0.4 },
  });
  return [
    baseRecord({
      id: 'incline',
      question: HOSTILE,
      answer: '12 N',
      generator: 'imgcoder',
      plan: uri(key('incline', 'plan.json')),
      image: coder.image,
      code: coder.code,
      verdict: coder.verdict,
      r_inv: coder.r_inv,
      results: [coder, pixel],
    }),
    // Written before per-generator results existed: top-level fields only.
    baseRecord({
      id: 7,
      subject: 'Mathematics',
      image_type: 'Plane Geometry',
      image: uri(key('7', 'image.png')),
      code: uri(key('7', 'missing.py')),
      r_inv: 0.75,
    }),
    baseRecord({
      id: 'prove-primes',
      verdict: 'skipped',
      reasons: ['asks for a proof'],
      subject: null,
      image_type: null,
      judge: null,
      r_inv: null,
      render_attempts: 0,
    }),
    baseRecord({
      id: 'line-9',
      verdict: 'invalid',
      reasons: ['line 9: question is required'],
      subject: null,
      image_type: null,
      judge: null,
      r_inv: null,
      render_attempts: 0,
    }),
  ];
}

async function readChunks(directory: string): Promise<ReportCard[]> {
  const files = (await readdir(join(directory, 'data'))).sort();
  const cards: ReportCard[] = [];
  for (const file of files) {
    const source = await readFile(join(directory, 'data', file), 'utf8');
    // The chunk is the script the page loads: run it against a stand-in for the page's callback.
    new Function('scigenCards', source)((_chunk: number, chunkCards: ReportCard[]) => cards.push(...chunkCards));
  }
  return cards;
}

function indexOf(html: string): ReportIndex {
  const match = /<script type="application\/json" id="scigen-index">([^<]*)<\/script>/.exec(html);
  expect(match).not.toBeNull();
  return JSON.parse(match![1]!) as ReportIndex;
}

describe('report escaping', () => {
  it('escapes HTML text and keeps JSON inside its script tag', () => {
    expect(escapeHtml(`<a href="x">'&'</a>`)).toBe('&#60;a href=&#34;x&#34;&#62;&#39;&#38;&#39;&#60;/a&#62;');
    const json = jsonForScript({ question: HOSTILE });
    expect(json).not.toMatch(/[<>&\u2028]/);
    expect(JSON.parse(json)).toEqual({ question: HOSTILE });
  });

  it('escapes chart labels', () => {
    const svg = renderBarChart({
      title: 'R_inv <by> subject',
      series: [{ name: 'a&b', color: '#000' }],
      groups: [{ label: '<script>x</script>', values: [0.5] }],
    });
    expect(svg).not.toContain('<script>');
    expect(svg).toContain('&#60;script&#62;');
    expect(svg).toContain('50.0%');
  });
});

describe('report aggregation', () => {
  const records = manifestLines((key) => `file:///store/${key}`);

  it('turns a line without results into one ImgCoder result, or one per known generator', () => {
    const [newLine, oldLine, skipped] = records;
    expect(entriesOf(newLine!, []).map((entry) => entry.result.generator)).toEqual(['imgcoder', 'pixel-model']);
    const [old] = entriesOf(oldLine!, []);
    expect(old!.result).toMatchObject({
      generator: 'imgcoder',
      paradigm: 'code',
      verdict: 'accepted',
      r_inv: 0.75,
      image: oldLine!.image,
      versions: [],
      quiz_results: null,
    });
    const known = [
      { generator: 'imgcoder', paradigm: 'code' as const, model: 'model-a' },
      { generator: 'pixel-model', paradigm: 'pixel' as const, model: 'image-model' },
    ];
    expect(entriesOf(skipped!, known).map((entry) => [entry.result.generator, entry.result.verdict])).toEqual([
      ['imgcoder', 'skipped'],
      ['pixel-model', 'skipped'],
    ]);
  });

  it('builds the leaderboard per generator, subject and image type', () => {
    // The report shows summary.json's leaderboard, recomputed from the streamed manifest.
    const accumulator = createSummaryAccumulator();
    for (const record of records) accumulator.add(record);
    const [coder, pixel] = accumulator.finish({ build_id: BUILD, finished_at: '' }).generators as [
      GeneratorSummary,
      GeneratorSummary,
    ];
    expect(coder.generator).toBe('imgcoder');
    expect(coder.model).toBe('model-a');
    expect(coder.overall.problems).toBe(4);
    expect(coder.overall.verdicts).toEqual({ accepted: 1, rejected: 1, skipped: 1, failed: 0, invalid: 1 });
    expect(coder.overall.r_inv_mean).toBeCloseTo((0.5 + 0.75) / 2, 10);
    expect(coder.overall.judge_means?.layout_precision).toBe(2);
    expect(coder.overall.psnr_mean).toBe(20);
    expect(coder.overall.referenced).toBe(1);
    expect(Object.keys(coder.by_subject)).toEqual(['Mathematics', 'Physics', 'unknown']);
    expect(coder.by_image_type['Plane Geometry']?.verdicts.accepted).toBe(1);
    expect(coder.usage.input_tokens).toBe(40);

    expect(pixel).toMatchObject({ generator: 'pixel-model', paradigm: 'pixel', model: 'image-model' });
    expect(pixel.overall.problems).toBe(1);
    expect(pixel.overall.judge_means?.correctness_fidelity).toBe(2);
    expect(pixel.overall.judge_means?.layout_precision).toBe(1);
    expect(pixel.by_subject['Physics']?.ssim_mean).toBe(0.4);
  });
});

describe('writeReport', () => {
  let store: ArtifactStore;
  let directory: string;
  let html: string;
  let cards: ReportCard[];
  let written: Awaited<ReturnType<typeof writeReport>>;

  beforeAll(async () => {
    const root = await mkdtemp(join(tmpdir(), 'scigen-report-unit-'));
    store = createFileStore(join(root, 'artifacts'));
    const records = manifestLines((key) => store.uri(key));
    for (const file of ['imgcoder/image-0.png', 'imgcoder/image-1.png', 'pixel-model/image.png']) {
      await store.put(`builds/${BUILD}/problems/incline/${file}`, makePng(40, 30));
    }
    await store.put(`builds/${BUILD}/problems/7/image.png`, makePng(20, 20));
    for (const file of ['imgcoder/code-0.py', 'imgcoder/code-1.py', 'imgcoder/judge.json', 'plan.json']) {
      await store.put(`builds/${BUILD}/problems/incline/${file}`, `# ${file}\n`);
    }
    await store.put(
      `builds/${BUILD}/manifest.jsonl`,
      `${records.map((record) => JSON.stringify(record)).join('\n')}\nnot json\n`,
    );
    directory = join(root, 'report');
    written = await writeReport({ store, buildId: BUILD, outputDirectory: directory, chunkSize: 2 });
    html = await readFile(written.indexPath, 'utf8');
    cards = await readChunks(directory);
  });

  it('writes one card per (problem, generator) in chunks, and warns about an unreadable line', () => {
    expect(written).toMatchObject({ problems: 4, cards: 5 });
    expect(written.warnings).toEqual([expect.stringContaining('manifest line 5 is not JSON')]);
    expect(cards.map((card) => [card.id, card.generator, card.verdict])).toEqual([
      ['incline', 'imgcoder', 'rejected'],
      ['incline', 'pixel-model', 'accepted'],
      [7, 'imgcoder', 'accepted'],
      ['prove-primes', 'imgcoder', 'skipped'],
      ['line-9', 'imgcoder', 'invalid'],
    ]);
    const index = indexOf(html);
    expect(index).toMatchObject({
      count: 5,
      chunkSize: 2,
      generators: ['imgcoder', 'pixel-model'],
      subjects: ['Mathematics', 'Physics', 'unknown'],
    });
    expect(index.entries).toHaveLength(20);
  });

  it('copies linked artifacts into the report and links them relatively', async () => {
    const [coder, pixel, old] = cards as [ReportCard, ReportCard, ReportCard];
    expect(coder.image).toBe('files/problems/incline/imgcoder/image-1.png');
    expect(coder.plan).toBe('files/problems/incline/plan.json');
    expect(coder.judge_file).toBe('files/problems/incline/imgcoder/judge.json');
    expect(coder.versions.map((version) => [version.round, version.image, version.critique])).toEqual([
      [0, 'files/problems/incline/imgcoder/image-0.png', null],
      [1, 'files/problems/incline/imgcoder/image-1.png', 'label the angle'],
    ]);
    expect(coder.quiz_results).toHaveLength(2);
    expect(coder.reference).toEqual({ psnr: 20, ssim: 0.8 });
    expect(pixel.image).toBe('files/problems/incline/pixel-model/image.png');
    expect(pixel.plan).toBe(coder.plan);
    for (const card of [coder, pixel, old]) expect((await stat(join(directory, card.image!))).size).toBeGreaterThan(0);
    expect(old.code).toBeNull();
    expect(old.notes).toEqual([expect.stringContaining('missing: file://')]);
  });

  it('never lets manifest text into the page as markup', () => {
    expect(html).not.toContain('alert("pwned")');
    expect(html).not.toContain('onerror=alert');
    expect(html.match(/<script/g)).toHaveLength(2);
    expect(cards[0]!.question).toBe(HOSTILE);
    expect(cards[0]!.reasons[0]).toContain('<img src=x onerror=alert(2)>');
  });

  it('shows the leaderboard with R_inv and the five judge means, and charts per subject and image type', () => {
    // The columns of `scigen leaderboard`, in its order, then the report's own.
    const headers = [...html.matchAll(/<th[^>]*>([^<]*)<\/th>/g)].map((match) => match[1]);
    expect(headers.slice(0, 15)).toEqual([
      'generator',
      'paradigm',
      'R_inv %',
      'C&#38;F',
      'L&#38;P',
      'R&#38;O',
      'SP',
      'E&#38;R',
      'PSNR',
      'SSIM',
      'perfect-image %',
      'VE %',
      'images',
      'per-image R_inv %',
      'Avg',
    ]);
    // imgcoder: one of the incline's two quizzes right (the other answered with no letter), and
    // line 7, written without quiz results, counts in the per-image mean only: R_inv 1/2 = 50.00 %,
    // per-image mean (0.5 + 0.75) / 2 = 62.50 %, no image perfect.
    const imgcoderRow = html.match(/<tr><td class="name">[^]*?imgcoder[^]*?<\/tr>/)![0];
    const cells = [...imgcoderRow.matchAll(/<td[^>]*>([^<]*)<\/td>/g)].map((match) => match[1]);
    // (The generator cell holds markup, so the cells read here start with the paradigm.)
    expect(cells.slice(0, 13)).toEqual([
      'code',
      '50.00',
      '2.00',
      '2.00',
      '2.00',
      '2.00',
      '2.00',
      '20.00',
      '0.80',
      '0.00',
      '–',
      '2',
      '62.50',
    ]);
    expect(html).toContain('R_inv by subject');
    expect(html).toContain('Acceptance rate by image type');
    expect(html).toContain('Plane Geometry');
    expect(html).not.toMatch(/(src|href)="(https?:)?\/\//);
  });
});
