import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { createSummaryAccumulator, type BuildSummary } from '../../domain/summary.ts';
import { createFileStore } from '../../storage/file-store.ts';
import { manifestKey, summaryKey } from '../../storage/build-layout.ts';
import { createCliSandbox, type CliSandbox } from '../helpers/cli.ts';
import { judgeScores, manifestRecord, manifestResult } from '../helpers/manifest.ts';

/** `scigen leaderboard` over summaries in the sandbox's artifact store: no Temporal server needed. */

function records() {
  const result = (generator: string, rightQuizzes: number, veCorrect: boolean) =>
    manifestResult({
      generator,
      paradigm: 'code',
      model: 'model-a',
      verdict: 'accepted',
      judge: judgeScores(2, 2, 1, 2, 2),
      r_inv: rightQuizzes / 2,
      quiz_results: [
        { question: 'q1', correct_option: 'A', chosen: rightQuizzes >= 1 ? 'A' : 'B' },
        { question: 'q2', correct_option: 'B', chosen: rightQuizzes >= 2 ? 'B' : null },
      ],
      ve: { question: 'why?', answer_uri: 'file:///a.txt', correct: veCorrect, reason: '' },
    });
  return [
    manifestRecord({
      id: 'p1',
      verdict: 'accepted',
      subject: 'Physics',
      image_type: 'Physics - Circuit',
      results: [result('imgcoder', 2, true)],
    }),
    manifestRecord({
      id: 'p2',
      verdict: 'accepted',
      subject: 'Math',
      image_type: 'Math - Plane Geometric',
      results: [result('imgcoder', 1, false)],
    }),
  ];
}

describe('scigen leaderboard', () => {
  let sandbox: CliSandbox;

  beforeAll(async () => {
    sandbox = await createCliSandbox('leaderboard');
    const store = createFileStore(join(sandbox.stateDirectory, 'artifacts'));
    const accumulator = createSummaryAccumulator({
      generators: [{ name: 'imgcoder', paradigm: 'code', model: 'model-a' }],
    });
    for (const record of records()) accumulator.add(record);
    const summary = accumulator.finish({ build_id: 'run-a', finished_at: 'now' });
    await store.put(summaryKey('run-a'), JSON.stringify(summary));
    // A build finished before the question-level metrics: its summary lacks them, its manifest has what they need.
    const older = JSON.parse(JSON.stringify(summary)) as BuildSummary;
    const { r_inv: _rInv, questions: _questions, ...oldOverall } = older.generators[0]!.overall;
    older.generators[0]!.overall = oldOverall as BuildSummary['generators'][number]['overall'];
    older.generators[0]!.by_subject = {};
    await store.put(summaryKey('run-old'), JSON.stringify(older));
    await store.put(
      manifestKey('run-old'),
      records()
        .map((record) => `${JSON.stringify(record)}\n`)
        .join(''),
    );
  });

  it('prints the table of one build, and of several with the build in each row', async () => {
    // 4 quizzes (3 right) + 2 VE questions (1 right): R_inv 4/6; p1 perfect of two; VE 1/2.
    const one = await sandbox.run(['leaderboard', 'run-a']);
    expect(one.exitCode, one.all).toBe(0);
    expect(one.stdout.split('\n')).toEqual([
      'generator  R_inv %   C&F   L&P   R&O    SP   E&R  PSNR  SSIM  perfect-image %   VE %  images',
      '---------  -------  ----  ----  ----  ----  ----  ----  ----  ---------------  -----  ------',
      'imgcoder     66.67  2.00  2.00  1.00  2.00  2.00     –     –            50.00  50.00       2',
    ]);
    // Math (p2): 1 of 2 quizzes and a wrong VE answer, 1/3; Physics (p1): all 3 right.
    const both = await sandbox.run(['leaderboard', 'run-a', 'run-old', '--format', 'csv', '--by', 'subject']);
    expect(both.exitCode, both.all).toBe(0);
    expect(both.stdout.split('\n')).toEqual([
      'build,generator,subject,R_inv %,C&F,L&P,R&O,SP,E&R,PSNR,SSIM,perfect-image %,VE %,images',
      'run-a,imgcoder,Math,33.33,2.00,2.00,1.00,2.00,2.00,,,0.00,0.00,1',
      'run-old,imgcoder,Math,33.33,2.00,2.00,1.00,2.00,2.00,,,0.00,0.00,1',
      'run-a,imgcoder,Physics,100.00,2.00,2.00,1.00,2.00,2.00,,,100.00,100.00,1',
      'run-old,imgcoder,Physics,100.00,2.00,2.00,1.00,2.00,2.00,,,100.00,100.00,1',
    ]);
    const json = await sandbox.run(['leaderboard', 'run-a', '--format', 'json']);
    expect(JSON.parse(json.stdout)).toEqual([
      expect.objectContaining({ build_id: 'run-a', r_inv: 4 / 6, questions: 6 }),
    ]);
  });

  it('names every missing build and exits 2', async () => {
    const missing = await sandbox.run(['leaderboard', 'run-a', 'nope', 'gone']);
    expect(missing.exitCode).toBe(2);
    expect(missing.stdout).toBe('');
    expect(missing.stderr).toMatch(/build nope has no summary at file:\/\/.*builds\/nope\/summary\.json/);
    expect(missing.stderr).toMatch(/build gone has no summary/);
    const badFormat = await sandbox.run(['leaderboard', 'run-a', '--format', 'html']);
    expect(badFormat.exitCode).toBe(2);
    expect(badFormat.stderr).toContain('html');
  });
});
