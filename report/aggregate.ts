/**
 * The report's view of a manifest: one entry per (problem, generator), and the leaderboard built
 * one entry at a time (so a build of any size is aggregated without holding its manifest).
 */
import { createSummaryAccumulator, resultFromTopLevel, UNKNOWN_GROUP, type GeneratorSummary, type GroupSummary, type LeaderboardRow, type SummaryAccumulator } from '../domain/summary.ts';
import { addUsage, ZERO_USAGE } from '../domain/types.ts';
import type { GeneratorResult, ManifestRecord, Paradigm, Usage } from '../domain/types.ts';

/** The generator of manifest lines written before builds ran several generators: ImgCoder's code path. */
export const LEGACY_GENERATOR = { generator: 'imgcoder', paradigm: 'code' as Paradigm, model: '' };

/** A generator as the build's summary names it, used for lines that carry no per-generator results. */
export interface KnownGenerator {
  generator: string;
  paradigm: Paradigm;
  model: string;
}

/** One card of the report: a problem and what one generator made of it. */
export interface ReportEntry {
  record: ManifestRecord;
  result: GeneratorResult;
}

export function entriesOf(record: ManifestRecord, knownGenerators: readonly KnownGenerator[]): ReportEntry[] {
  if (record.results !== undefined && record.results.length > 0) return record.results.map((result) => ({ record, result }));
  const named = record.generator === undefined ? undefined : knownGenerators.find((known) => known.generator === record.generator);
  const generators =
    knownGenerators.length > 0 ? knownGenerators : [record.generator === undefined ? LEGACY_GENERATOR : (named ?? { ...LEGACY_GENERATOR, generator: record.generator })];
  return generators.map((generator) => ({ record, result: resultFromTopLevel(record, { ...generator, name: generator.generator }) }));
}

interface ReferenceTotals {
  psnrSum: number;
  ssimSum: number;
  count: number;
}

interface GeneratorTotals {
  known: KnownGenerator;
  summary: SummaryAccumulator;
  overallReference: ReferenceTotals;
  bySubjectReference: Map<string, ReferenceTotals>;
  byImageTypeReference: Map<string, ReferenceTotals>;
  usage: Usage;
}

function addReference(totals: ReferenceTotals, reference: { psnr: number; ssim: number }): void {
  totals.psnrSum += reference.psnr;
  totals.ssimSum += reference.ssim;
  totals.count++;
}

function addGroupReference(groups: Map<string, ReferenceTotals>, group: string, reference: { psnr: number; ssim: number }): void {
  let totals = groups.get(group);
  if (totals === undefined) {
    totals = { psnrSum: 0, ssimSum: 0, count: 0 };
    groups.set(group, totals);
  }
  addReference(totals, reference);
}

function withReference(row: GroupSummary, reference: ReferenceTotals | undefined): LeaderboardRow {
  const count = reference?.count ?? 0;
  return {
    ...row,
    psnr_mean: count === 0 ? null : reference!.psnrSum / count,
    ssim_mean: count === 0 ? null : reference!.ssimSum / count,
    referenced: count,
  };
}

export interface LeaderboardAccumulator {
  add(entry: ReportEntry): void;
  /** One row per generator, in the order they first appeared. */
  finish(buildId: string): GeneratorSummary[];
}

/**
 * The paper's main table per generator, overall and per subject and image type. Each generator's
 * counts and means come from the build summary's own accumulator, fed that generator's results as
 * if they were the line's top-level fields, so report and summary.json count the same way.
 */
export function createLeaderboardAccumulator(): LeaderboardAccumulator {
  const generators = new Map<string, GeneratorTotals>();
  return {
    add({ record, result }) {
      let totals = generators.get(result.generator);
      if (totals === undefined) {
        totals = {
          known: { generator: result.generator, paradigm: result.paradigm, model: result.model },
          summary: createSummaryAccumulator(),
          overallReference: { psnrSum: 0, ssimSum: 0, count: 0 },
          bySubjectReference: new Map(),
          byImageTypeReference: new Map(),
          usage: { ...ZERO_USAGE },
        };
        generators.set(result.generator, totals);
      }
      if (totals.known.model === '' && result.model !== '') totals.known.model = result.model;
      totals.summary.add({
        ...record,
        verdict: result.verdict,
        reasons: result.reasons,
        image: result.image,
        code: result.code,
        judge: result.judge,
        r_inv: result.r_inv,
        render_attempts: result.render_attempts,
        usage: result.usage,
      });
      totals.usage = addUsage(totals.usage, result.usage);
      if (result.reference !== null) {
        addReference(totals.overallReference, result.reference);
        addGroupReference(totals.bySubjectReference, record.subject ?? UNKNOWN_GROUP, result.reference);
        addGroupReference(totals.byImageTypeReference, record.image_type ?? UNKNOWN_GROUP, result.reference);
      }
    },
    finish(buildId) {
      return [...generators.values()].map((totals) => {
        const summary = totals.summary.finish({ build_id: buildId, finished_at: '' });
        const rows = (groups: typeof summary.by_subject, references: Map<string, ReferenceTotals>) =>
          Object.fromEntries(Object.entries(groups).map(([group, row]) => [group, withReference(row, references.get(group))]));
        return {
          ...totals.known,
          overall: withReference(
            { problems: summary.problems, verdicts: summary.verdicts, r_inv_mean: summary.r_inv_mean, judge_means: summary.judge_means },
            totals.overallReference,
          ),
          by_subject: rows(summary.by_subject, totals.bySubjectReference),
          by_image_type: rows(summary.by_image_type, totals.byImageTypeReference),
          usage: totals.usage,
        };
      });
    },
  };
}

/** Share of a row's problems that were accepted; null for an empty row. */
export function acceptanceRate(row: LeaderboardRow): number | null {
  return row.problems === 0 ? null : row.verdicts.accepted / row.problems;
}
