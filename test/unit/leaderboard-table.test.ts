import { describe, expect, it } from 'vitest';
import type { GeneratorSummary, LeaderboardRow } from '../../domain/summary.ts';
import { VERDICTS } from '../../domain/types.ts';
import { formatLeaderboard, type LeaderboardBuild } from '../../report/leaderboard-table.ts';
import { judgeScores } from '../helpers/manifest.ts';

function row(fields: Partial<LeaderboardRow>): LeaderboardRow {
  return {
    problems: 0,
    verdicts: Object.fromEntries(VERDICTS.map((verdict) => [verdict, 0])) as LeaderboardRow['verdicts'],
    r_inv_mean: null,
    judge_means: null,
    images: 0,
    r_inv: null,
    r_inv_quiz_only: null,
    perfect_image_rate: null,
    ve_accuracy: null,
    questions: 0,
    psnr_mean: null,
    ssim_mean: null,
    psnr_identical: 0,
    referenced: 0,
    ...fields,
  };
}

function generator(
  name: string,
  overall: LeaderboardRow,
  bySubject: Record<string, LeaderboardRow> = {},
  byImageType: Record<string, LeaderboardRow> = {},
): GeneratorSummary {
  return {
    generator: name,
    paradigm: 'code',
    model: 'model-a',
    overall,
    by_subject: bySubject,
    by_image_type: byImageType,
    usage: { input_tokens: 0, output_tokens: 0, cost_usd: 0 },
  };
}

const CODER_PHYSICS = row({
  images: 2,
  r_inv: 10 / 13,
  perfect_image_rate: 0.25,
  ve_accuracy: 2 / 3,
  judge_means: judgeScores(1.4, 1.4, 1.8, 1.8, 1.4),
  psnr_mean: 25.004,
  ssim_mean: 0.8,
});
const CODER_MATH = row({ images: 1, r_inv: 1, perfect_image_rate: 1, judge_means: judgeScores(2, 2, 2, 2, 2) });
const CODER = generator(
  'imgcoder',
  row({ ...CODER_PHYSICS, images: 3, r_inv: 0.7787 }),
  { Physics: CODER_PHYSICS, Math: CODER_MATH },
  { 'Physics - Circuit': CODER_PHYSICS },
);
const PAINTER = generator('painter', row({ images: 1, r_inv: 0.5, judge_means: judgeScores(0, 1, 2, 1, 0) }), {
  Physics: row({ images: 1, r_inv: 0.5 }),
});

const ONE_BUILD: LeaderboardBuild[] = [{ buildId: 'run-a', summary: { generators: [CODER, PAINTER] } }];
const TWO_BUILDS: LeaderboardBuild[] = [
  ...ONE_BUILD,
  { buildId: 'run-b', summary: { generators: [generator('imgcoder', row({}))] } },
];

describe('formatLeaderboard', () => {
  it('prints an aligned table with the paper’s columns, two decimals, – where there is no value', () => {
    expect(formatLeaderboard(ONE_BUILD)).toBe(
      [
        'generator  R_inv %   C&F   L&P   R&O    SP   E&R   PSNR  SSIM  perfect-image %   VE %  images',
        '---------  -------  ----  ----  ----  ----  ----  -----  ----  ---------------  -----  ------',
        'imgcoder     77.87  1.40  1.40  1.80  1.80  1.40  25.00  0.80            25.00  66.67       3',
        'painter      50.00  0.00  1.00  2.00  1.00  0.00      –     –                –      –       1',
      ].join('\n'),
    );
  });

  it('names the build in each row when there are several', () => {
    const lines = formatLeaderboard(TWO_BUILDS, { format: 'markdown' }).split('\n');
    expect(lines).toEqual([
      '| generator | R_inv % | C&F | L&P | R&O | SP | E&R | PSNR | SSIM | perfect-image % | VE % | images |',
      '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
      '| run-a/imgcoder | 77.87 | 1.40 | 1.40 | 1.80 | 1.80 | 1.40 | 25.00 | 0.80 | 25.00 | 66.67 | 3 |',
      '| run-a/painter | 50.00 | 0.00 | 1.00 | 2.00 | 1.00 | 0.00 | – | – | – | – | 1 |',
      '| run-b/imgcoder | – | – | – | – | – | – | – | – | – | – | 0 |',
    ]);
  });

  it('gives one block per group with --by, groups sorted, only the generators that have the group', () => {
    expect(formatLeaderboard(ONE_BUILD, { by: 'subject', format: 'markdown' })).toBe(
      [
        '### Math',
        '',
        '| generator | R_inv % | C&F | L&P | R&O | SP | E&R | PSNR | SSIM | perfect-image % | VE % | images |',
        '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
        '| imgcoder | 100.00 | 2.00 | 2.00 | 2.00 | 2.00 | 2.00 | – | – | 100.00 | – | 1 |',
        '',
        '### Physics',
        '',
        '| generator | R_inv % | C&F | L&P | R&O | SP | E&R | PSNR | SSIM | perfect-image % | VE % | images |',
        '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
        '| imgcoder | 76.92 | 1.40 | 1.40 | 1.80 | 1.80 | 1.40 | 25.00 | 0.80 | 25.00 | 66.67 | 2 |',
        '| painter | 50.00 | – | – | – | – | – | – | – | – | – | 1 |',
      ].join('\n'),
    );
    const table = formatLeaderboard(ONE_BUILD, { by: 'image-type' }).split('\n');
    expect(table[0]).toBe('Physics - Circuit');
    expect(table).toHaveLength(4);
  });

  it('writes CSV with build, generator and group apart, empty cells where there is no value', () => {
    expect(formatLeaderboard(TWO_BUILDS, { by: 'subject', format: 'csv' }).split('\n')).toEqual([
      'build,generator,subject,R_inv %,C&F,L&P,R&O,SP,E&R,PSNR,SSIM,perfect-image %,VE %,images',
      'run-a,imgcoder,Math,100.00,2.00,2.00,2.00,2.00,2.00,,,100.00,,1',
      'run-a,imgcoder,Physics,76.92,1.40,1.40,1.80,1.80,1.40,25.00,0.80,25.00,66.67,2',
      'run-a,painter,Physics,50.00,,,,,,,,,,1',
    ]);
    const quoted = formatLeaderboard(
      [{ buildId: 'b', summary: { generators: [generator('imgcoder', row({}), { 'Odd, "quoted"': row({}) })] } }],
      { by: 'subject', format: 'csv' },
    );
    expect(quoted.split('\n')[1]).toBe('b,imgcoder,"Odd, ""quoted""",,,,,,,,,,,0');
  });

  it('shows what a batch-mode generator paid and what real time would have cost', () => {
    const [first] = ONE_BUILD;
    const generators = first!.summary.generators.map((generator, index) => ({
      ...generator,
      usage:
        index === 0
          ? { input_tokens: 10, output_tokens: 5, cost_usd: 0.02, realtime_cost_usd: 0.035, batch_calls: 7 }
          : generator.usage,
    }));
    const batchBuild = [{ ...first!, summary: { ...first!.summary, generators } }];
    const table = formatLeaderboard(batchBuild);
    expect(table).toContain("cost of each generator's own steps, batch mode: imgcoder $0.0200 (real time: $0.0350)");
    expect(formatLeaderboard(ONE_BUILD)).not.toContain('batch mode');
    const [row] = JSON.parse(formatLeaderboard(batchBuild, { format: 'json' })) as Record<string, unknown>[];
    expect(row).toMatchObject({ cost_usd: 0.02, realtime_cost_usd: 0.035, batch_calls: 7 });
  });

  it('gives JSON rows with the unrounded values of summary.json', () => {
    const rows = JSON.parse(formatLeaderboard(ONE_BUILD, { format: 'json' })) as Record<string, unknown>[];
    expect(rows).toHaveLength(2);
    expect(rows[0]).toEqual({
      build_id: 'run-a',
      generator: 'imgcoder',
      paradigm: 'code',
      model: 'model-a',
      r_inv: 0.7787,
      correctness_fidelity: 1.4,
      layout_precision: 1.4,
      readability_occlusion: 1.8,
      scientific_plausibility: 1.8,
      expressiveness_richness: 1.4,
      psnr_mean: 25.004,
      ssim_mean: 0.8,
      perfect_image_rate: 0.25,
      ve_accuracy: 2 / 3,
      images: 3,
      cost_usd: 0,
      realtime_cost_usd: 0,
      batch_calls: 0,
      r_inv_quiz_only: null,
      r_inv_mean: null,
      questions: 0,
      psnr_identical: 0,
      referenced: 0,
    });
    const grouped = JSON.parse(formatLeaderboard(ONE_BUILD, { by: 'image-type', format: 'json' })) as Record<
      string,
      unknown
    >[];
    expect(grouped.map((entry) => [entry['generator'], entry['image_type'], entry['r_inv']])).toEqual([
      ['imgcoder', 'Physics - Circuit', 10 / 13],
    ]);
  });
});
