import { describe, expect, it } from 'vitest';
import { createSummaryAccumulator } from '../../domain/summary.ts';
import type { GeneratorSpec, JudgeScores, Verdict } from '../../domain/types.ts';
import type { ManifestResult, ManifestRecord } from '../../domain/manifest.ts';
import { judgeScores, manifestRecord, manifestResult } from '../helpers/manifest.ts';

/** The leaderboard of summary.json against values worked out by hand from a fixed set of records. */

const GENERATORS: GeneratorSpec[] = [
  { name: 'imgcoder', paradigm: 'code', model: 'gpt-4.1' },
  { name: 'painter', paradigm: 'pixel', model: 'gpt-image-1' },
];

function result(
  generator: GeneratorSpec,
  verdict: Verdict,
  judge: JudgeScores | null,
  rInv: number | null,
  reference: ManifestResult['reference'] = null,
): ManifestResult {
  return manifestResult({
    generator: generator.name,
    paradigm: generator.paradigm,
    model: generator.model,
    verdict,
    image: judge ? 'file:///x.png' : null,
    judge,
    r_inv: rInv,
    render_attempts: generator.paradigm === 'code' ? 1 : 0,
    reference,
    usage: { input_tokens: 10, output_tokens: 1, cost_usd: 0.5 },
  });
}

function line(id: string, subject: string, imageType: string, results: ManifestResult[]): ManifestRecord {
  const primary = results[0]!;
  return manifestRecord({
    id,
    verdict: primary.verdict,
    reasons: primary.reasons,
    subject,
    image_type: imageType,
    image: primary.image,
    judge: primary.judge,
    r_inv: primary.r_inv,
    render_attempts: primary.render_attempts,
    usage: { input_tokens: 30, output_tokens: 3, cost_usd: 1.5 },
    generator: primary.generator,
    results,
  });
}

const [coder, painter] = GENERATORS as [GeneratorSpec, GeneratorSpec];

const RECORDS: ManifestRecord[] = [
  line('p1', 'Physics', 'Mechanics', [
    result(coder, 'accepted', judgeScores(2, 2, 2, 2, 2), 1, { psnr: 20, ssim: 0.9 }),
    result(painter, 'rejected', judgeScores(1, 1, 2, 2, 1), 0.5, { psnr: 10, ssim: 0.5 }),
  ]),
  line('p2', 'Physics', 'Optics', [
    result(coder, 'rejected', judgeScores(1, 2, 1, 2, 2), 0.75),
    result(painter, 'accepted', judgeScores(2, 2, 2, 1, 2), 1),
  ]),
  line('m1', 'Mathematics', 'Plane Geometry', [
    result(coder, 'failed', null, null),
    result(painter, 'rejected', judgeScores(2, 0, 1, 2, 1), 0.25, { psnr: 16, ssim: 0.7 }),
  ]),
  line('m2', 'Mathematics', 'Plane Geometry', [
    result(coder, 'skipped', null, null),
    result(painter, 'skipped', null, null),
  ]),
];

/** An invalid input line: no generator got it, so it counts once for each. */
const INVALID = manifestRecord({ id: 'bad', verdict: 'invalid', reasons: ['question: is required'] });

function summarize(records: ManifestRecord[]) {
  const accumulator = createSummaryAccumulator({ generators: GENERATORS });
  for (const record of records) accumulator.add(record);
  return accumulator.finish({ build_id: 'b', finished_at: 'now' });
}

describe('leaderboard in summary.json', () => {
  const summary = summarize([...RECORDS, INVALID]);
  const [coderRow, painterRow] = summary.generators;

  it('lists the build generators in order, with paradigm and model', () => {
    expect(summary.generators.map((row) => [row.generator, row.paradigm, row.model])).toEqual([
      ['imgcoder', 'code', 'gpt-4.1'],
      ['painter', 'pixel', 'gpt-image-1'],
    ]);
  });

  it('gives R_inv as the mean over judged images and the five judge means, per generator', () => {
    // imgcoder judged p1 (2,2,2,2,2; R_inv 1) and p2 (1,2,1,2,2; R_inv 0.75).
    expect(coderRow!.overall.r_inv_mean).toBeCloseTo(0.875, 10);
    expect(coderRow!.overall.judge_means).toEqual(judgeScores(1.5, 2, 1.5, 2, 2));
    // painter judged p1 (1,1,2,2,1; 0.5), p2 (2,2,2,1,2; 1) and m1 (2,0,1,2,1; 0.25).
    expect(painterRow!.overall.r_inv_mean).toBeCloseTo(1.75 / 3, 10);
    const means = painterRow!.overall.judge_means!;
    expect(means.correctness_fidelity).toBeCloseTo(5 / 3, 10);
    expect(means.layout_precision).toBeCloseTo(1, 10);
    expect(means.readability_occlusion).toBeCloseTo(5 / 3, 10);
    expect(means.scientific_plausibility).toBeCloseTo(5 / 3, 10);
    expect(means.expressiveness_richness).toBeCloseTo(4 / 3, 10);
  });

  it('counts verdicts per generator, the invalid line once for each', () => {
    expect(coderRow!.overall.verdicts).toEqual({ accepted: 1, rejected: 1, skipped: 1, failed: 1, invalid: 1 });
    expect(painterRow!.overall.verdicts).toEqual({ accepted: 1, rejected: 2, skipped: 1, failed: 0, invalid: 1 });
    expect(coderRow!.overall.problems).toBe(5);
  });

  it('breaks each generator down per subject and image type', () => {
    expect(Object.keys(painterRow!.by_subject)).toEqual(['Mathematics', 'Physics', 'unknown']);
    expect(painterRow!.by_subject['Physics']!.r_inv_mean).toBeCloseTo(0.75, 10);
    expect(painterRow!.by_subject['Mathematics']!.r_inv_mean).toBeCloseTo(0.25, 10);
    expect(painterRow!.by_image_type['Plane Geometry']!.verdicts).toMatchObject({ rejected: 1, skipped: 1 });
    expect(coderRow!.by_image_type['Optics']!.judge_means).toEqual(judgeScores(1, 2, 1, 2, 2));
    expect(coderRow!.by_image_type['Plane Geometry']!.judge_means).toBeNull();
  });

  it('averages PSNR and SSIM over the images compared with a reference image only', () => {
    expect(coderRow!.overall).toMatchObject({ psnr_mean: 20, ssim_mean: 0.9, referenced: 1 });
    expect(painterRow!.overall.psnr_mean).toBeCloseTo(13, 10);
    expect(painterRow!.overall.ssim_mean).toBeCloseTo(0.6, 10);
    expect(painterRow!.overall.referenced).toBe(2);
    expect(painterRow!.by_subject['Physics']).toMatchObject({ psnr_mean: 10, ssim_mean: 0.5, referenced: 1 });
  });

  it('sums each generator’s own usage; the top level keeps the whole problem’s', () => {
    expect(coderRow!.usage).toEqual({ input_tokens: 40, output_tokens: 4, cost_usd: 2 });
    expect(summary.usage.cost_usd).toBeCloseTo(6, 10);
  });

  it('keeps the top-level counts those of the first generator', () => {
    expect(summary.verdicts).toEqual({ accepted: 1, rejected: 1, skipped: 1, failed: 1, invalid: 1 });
    expect(summary.r_inv_mean).toBeCloseTo(0.875, 10);
  });

  it('does not depend on the order of the lines', () => {
    expect(JSON.stringify(summarize([INVALID, ...[...RECORDS].reverse()]))).toBe(JSON.stringify(summary));
  });

  it('reads lines written before generators existed as one result of the former generator', () => {
    const old = { ...RECORDS[0]!, results: undefined, generator: undefined };
    const accumulator = createSummaryAccumulator();
    accumulator.add(old);
    const finished = accumulator.finish({ build_id: 'b', finished_at: 'now' });
    expect(finished.generators).toHaveLength(1);
    expect(finished.generators[0]).toMatchObject({
      generator: 'imgcoder',
      overall: { problems: 1, r_inv_mean: 1, verdicts: { accepted: 1 } },
    });
  });
});
