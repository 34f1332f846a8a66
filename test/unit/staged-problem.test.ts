import { join } from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import { createRecordActivities } from '../../activities/record.ts';
import { emptyGeneratorResult, type ProblemRecord } from '../../domain/problem-result.ts';
import { stagedLine } from '../../domain/staged-pages.ts';
import type { Problem } from '../../domain/types.ts';
import type { ArtifactStore } from '../../storage/artifact-store.ts';
import { problemRecordKey, stagedPageKey, stagedProblemKey } from '../../storage/build-layout.ts';
import { createFileStore } from '../../storage/file-store.ts';
import { useTemporaryDirectory } from '../helpers/temporary-directory.ts';

const BENCHMARK: Problem = {
  id: 17,
  question: 'A charge q sits at the centre of a ring of radius R. Draw the field lines.',
  answer: 'radially outward',
  image_type: 'Physics - Electromagnetism',
  multimodal_question: 'Which way do the field lines point?',
  quizzes: [{ question: 'Where is the charge?', options: { A: 'centre', B: 'rim' }, correct_option: 'A' }],
  reference_image_key: 'builds/b/references/17.png',
  extra: {},
};
const PLAIN: Problem = { id: 'plain', question: 'Plot y = x.', answer: '   ', extra: {} };

/** A store that counts reads of each key. */
function countingStore(store: ArtifactStore): { store: ArtifactStore; reads: Map<string, number> } {
  const reads = new Map<string, number>();
  return {
    reads,
    store: new Proxy(store, {
      get(target, property, receiver) {
        if (property !== 'getText') return Reflect.get(target, property, receiver) as unknown;
        return (key: string) => {
          reads.set(key, (reads.get(key) ?? 0) + 1);
          return target.getText(key);
        };
      },
    }),
  };
}

describe('staging a problem from its page (stageProblem, recordProblemResult)', () => {
  const directory = useTemporaryDirectory('staged-problem');

  async function setUp() {
    const counted = countingStore(createFileStore(join(directory.path, 'artifacts')));
    const pageKey = stagedPageKey('b', 0);
    const lines = [
      { problemKey: '17', problem: BENCHMARK },
      { problemKey: 'plain', problem: PLAIN },
    ];
    await counted.store.put(pageKey, lines.map(stagedLine).join(''), 'application/x-ndjson');
    return { ...counted, pageKey, activities: createRecordActivities({ store: counted.store }) };
  }

  it('returns only what the workflow branches on, writes the problem where its steps read it, and reads the page once', async () => {
    const { store, reads, pageKey, activities } = await setUp();
    const facts = await activities.stageProblem({ buildId: 'b', problemKey: '17', staged: { pageKey, index: 0 } });
    expect(facts).toEqual({
      given: { subject: 'Physics', image_type: 'Physics - Electromagnetism' },
      quizCount: 1,
      visualQuestion: true,
      referenceImageKey: 'builds/b/references/17.png',
    });
    expect(JSON.stringify(facts)).not.toContain('charge q');
    expect(JSON.parse(await store.getText(stagedProblemKey({ buildId: 'b', problemKey: '17' })))).toEqual(BENCHMARK);

    // The next problem of the page comes from the worker's parsed copy; a blank answer cannot be graded.
    const plain = await activities.stageProblem({ buildId: 'b', problemKey: 'plain', staged: { pageKey, index: 1 } });
    expect(plain).toEqual({
      given: { subject: null, image_type: null },
      quizCount: 0,
      visualQuestion: false,
      referenceImageKey: null,
    });
    expect(reads.get(pageKey)).toBe(1);
  });

  it('finds a problem by its key when its line moved, and fails for good when it is not on the page', async () => {
    const { pageKey, activities } = await setUp();
    const moved = await activities.stageProblem({ buildId: 'b', problemKey: 'plain', staged: { pageKey, index: 0 } });
    expect(moved.quizCount).toBe(0);
    const missing = activities.stageProblem({ buildId: 'b', problemKey: 'gone', staged: { pageKey, index: 1 } });
    await expect(missing).rejects.toBeInstanceOf(ApplicationFailure);
    await expect(missing).rejects.toMatchObject({
      nonRetryable: true,
      type: 'StagedInputUnreadable',
      message: expect.stringContaining('problem gone is not on staged input page') as unknown,
    });
  });

  it('records the staged problem, and fills the VE question the workflow left out', async () => {
    const { store, pageKey, activities } = await setUp();
    await activities.stageProblem({ buildId: 'b', problemKey: '17', staged: { pageKey, index: 0 } });
    const generator = { name: 'imgcoder', paradigm: 'code', model: '' } as const;
    const usage = { input_tokens: 0, output_tokens: 0, cost_usd: 0 };
    const ve = { answerKey: 'builds/b/problems/17/imgcoder/ve-answer.md', correct: true, reason: 'same' };
    await activities.recordProblemResult({
      buildId: 'b',
      problemKey: '17',
      staged: { pageKey, index: 0 },
      result: {
        subject: 'Physics',
        imageType: 'Physics - Electromagnetism',
        planKey: null,
        quizKey: null,
        results: [{ ...emptyGeneratorResult(generator), ve }],
        usage,
      },
    });
    const record = JSON.parse(await store.getText(problemRecordKey('b', '17'))) as ProblemRecord;
    expect(record).toMatchObject({ id: 17, question: BENCHMARK.question, answer: 'radially outward' });
    expect(record.results[0]!.ve).toEqual({ ...ve, question: 'Which way do the field lines point?' });
  });

  it('records a problem whose staging never ran from its page', async () => {
    const { store, pageKey, activities } = await setUp();
    const generator = { name: 'imgcoder', paradigm: 'code', model: '' } as const;
    await activities.recordProblemResult({
      buildId: 'b',
      problemKey: 'plain',
      staged: { pageKey, index: 1 },
      result: {
        subject: null,
        imageType: null,
        planKey: null,
        quizKey: null,
        results: [{ ...emptyGeneratorResult(generator), reasons: ['stage: the store was down'] }],
        usage: { input_tokens: 0, output_tokens: 0, cost_usd: 0 },
      },
    });
    const record = JSON.parse(await store.getText(problemRecordKey('b', 'plain'))) as ProblemRecord;
    expect(record).toMatchObject({ id: 'plain', question: 'Plot y = x.' });
  });
});
