import { unprocessedManifestLine, type ManifestRecord, type ManifestResult } from '../../domain/manifest.ts';
import { ZERO_USAGE, type JudgeScores } from '../../domain/types.ts';

/** Judge scores in the order the judge gives them. */
export function judgeScores(
  correctness: number,
  layout: number,
  readability: number,
  plausibility: number,
  expressiveness: number,
): JudgeScores {
  return {
    correctness_fidelity: correctness,
    layout_precision: layout,
    readability_occlusion: readability,
    scientific_plausibility: plausibility,
    expressiveness_richness: expressiveness,
  };
}

/** A manifest line holding only what is given: no reasons, artifacts, judge or usage otherwise. */
export function manifestRecord(
  fields: Partial<ManifestRecord> & Pick<ManifestRecord, 'id' | 'verdict'>,
): ManifestRecord {
  const { reasons = [], ...rest } = fields;
  return { ...unprocessedManifestLine({ id: fields.id, verdict: fields.verdict, reason: '' }), reasons, ...rest };
}

/** One generator's result on a manifest line, holding only what is given besides who made it. */
export function manifestResult(
  fields: Partial<ManifestResult> & Pick<ManifestResult, 'generator' | 'paradigm' | 'model' | 'verdict'>,
): ManifestResult {
  return {
    reasons: [],
    notes: [],
    image: null,
    code: null,
    judge: null,
    judge_reasoning: null,
    judge_uri: null,
    r_inv: null,
    quiz_results: null,
    render_attempts: 0,
    versions: [],
    reference: null,
    usage: ZERO_USAGE,
    ...fields,
  };
}
