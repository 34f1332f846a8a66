import { describe, expect, it } from 'vitest';
import { manifestLine, unprocessedManifestLine } from '../../domain/manifest.ts';
import { emptyGeneratorResult, PROBLEM_RECORD_FORMAT, type ProblemRecord } from '../../domain/problem-result.ts';
import { ZERO_USAGE } from '../../domain/types.ts';

function record(fields: Partial<ProblemRecord> = {}): ProblemRecord {
  return {
    format: PROBLEM_RECORD_FORMAT,
    id: 'wi-lens-0001',
    question: 'Draw the ray diagram.',
    answer: null,
    referenceImageKey: null,
    extra: {},
    subject: 'Physics',
    imageType: 'Optical Ray',
    planKey: null,
    quizKey: null,
    results: [emptyGeneratorResult({ name: 'imgcoder', paradigm: 'code', model: '' })],
    usage: ZERO_USAGE,
    ...fields,
  };
}

describe('manifestLine, dropped quizzes', () => {
  it("carries the input's unusable quizzes with their reasons", () => {
    const dropped = [{ index: 2, reason: 'options: has keys "0", expected single uppercase letters (A, B, C, …)' }];
    const line = manifestLine(record({ droppedQuizzes: dropped }), (key) => `file:///${key}`);
    expect(line.dropped_quizzes).toEqual(dropped);
  });

  it('leaves the field out when every quiz was usable, and for records written before it existed', () => {
    expect(manifestLine(record({ droppedQuizzes: [] }), (key) => key)).not.toHaveProperty('dropped_quizzes');
    expect(manifestLine(record(), (key) => key)).not.toHaveProperty('dropped_quizzes');
  });
});

describe('manifestLine, the SciGenBench fields', () => {
  it('carries multimodal_question and elements when the problem has them, and only then', () => {
    const line = manifestLine(
      record({ multimodalQuestion: 'What is the focal length?', elements: ['lens', 'principal axis'] }),
      (key) => key,
    );
    expect(line).toMatchObject({
      multimodal_question: 'What is the focal length?',
      elements: ['lens', 'principal axis'],
    });
    expect(manifestLine(record(), (key) => key)).not.toHaveProperty('multimodal_question');
    expect(manifestLine(record(), (key) => key)).not.toHaveProperty('elements');
  });
});

describe('unprocessedManifestLine', () => {
  it('gives an invalid problem one line with all its reasons', () => {
    const line = unprocessedManifestLine({ id: 7, verdict: 'invalid', reason: ['first fault', 'second fault'] });
    expect(line).toMatchObject({ id: 7, verdict: 'invalid', reasons: ['first fault', 'second fault'] });
    expect(unprocessedManifestLine({ id: 7, verdict: 'failed', reason: 'no record' }).reasons).toEqual(['no record']);
  });
});
