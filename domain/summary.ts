/**
 * summary.json (CONTRACT.md, Output): counts per verdict, subject and image type, mean judge scores
 * and mean R_inv, tokens and cost. Built one manifest record at a time so a build of any size is
 * summarized without holding its manifest. Means keep full precision; the report rounds.
 */
import { addUsage, JUDGE_DIMENSIONS, VERDICTS, ZERO_USAGE } from './types.ts';
import type { JudgeScores, ManifestRecord, Paradigm, Usage, Verdict } from './types.ts';

export type VerdictCounts = Record<Verdict, number>;

export interface GroupSummary {
  problems: number;
  verdicts: VerdictCounts;
  /** Mean over the records that have an R_inv; null when none has. */
  r_inv_mean: number | null;
  /** Mean per dimension over the judged records; null when none was judged. */
  judge_means: JudgeScores | null;
}

/** One leaderboard cell: a generator's results over a group of problems (the paper's main table). */
export interface LeaderboardRow extends GroupSummary {
  /** Means over the images that had a reference image; null when none had. */
  psnr_mean: number | null;
  ssim_mean: number | null;
  /** Images compared with a reference image. */
  referenced: number;
}

/** One generator's line of the leaderboard, overall and per subject and image type. */
export interface GeneratorSummary {
  generator: string;
  paradigm: Paradigm;
  model: string;
  overall: LeaderboardRow;
  by_subject: Record<string, LeaderboardRow>;
  by_image_type: Record<string, LeaderboardRow>;
  usage: Usage;
}

export interface BuildSummary {
  build_id: string;
  problems: number;
  verdicts: VerdictCounts;
  r_inv_mean: number | null;
  judge_means: JudgeScores | null;
  /** Mean over the records that rendered at least once; null when none did. */
  render_attempts_mean: number | null;
  by_subject: Record<string, GroupSummary>;
  by_image_type: Record<string, GroupSummary>;
  usage: Usage;
  /**
   * The leaderboard: one entry per generator, in the build's order. The top-level counts and
   * means above are the first generator's (they are what manifest lines carry at top level).
   */
  generators: GeneratorSummary[];
  finished_at: string;
}

export interface SummaryAccumulator {
  add(record: ManifestRecord): void;
  finish(meta: { build_id: string; finished_at: string }): BuildSummary;
}

/** The group for records without a subject or image type (skipped, invalid, failed early). */
export const UNKNOWN_GROUP = 'unknown';

interface GroupTotals {
  problems: number;
  verdicts: VerdictCounts;
  rInvSum: number;
  rInvCount: number;
  judgeSums: JudgeScores;
  judgedCount: number;
}

function zeroVerdicts(): VerdictCounts {
  return Object.fromEntries(VERDICTS.map((verdict) => [verdict, 0])) as VerdictCounts;
}

function zeroScores(): JudgeScores {
  return Object.fromEntries(JUDGE_DIMENSIONS.map((dimension) => [dimension, 0])) as JudgeScores;
}

function createTotals(): GroupTotals {
  return { problems: 0, verdicts: zeroVerdicts(), rInvSum: 0, rInvCount: 0, judgeSums: zeroScores(), judgedCount: 0 };
}

function addToTotals(totals: GroupTotals, record: ManifestRecord): void {
  totals.problems++;
  totals.verdicts[record.verdict]++;
  if (record.r_inv !== null) {
    totals.rInvSum += record.r_inv;
    totals.rInvCount++;
  }
  if (record.judge !== null) {
    for (const dimension of JUDGE_DIMENSIONS) totals.judgeSums[dimension] += record.judge[dimension];
    totals.judgedCount++;
  }
}

function summarizeTotals(totals: GroupTotals): GroupSummary {
  const judgedCount = totals.judgedCount;
  return {
    problems: totals.problems,
    verdicts: { ...totals.verdicts },
    r_inv_mean: totals.rInvCount === 0 ? null : totals.rInvSum / totals.rInvCount,
    judge_means:
      judgedCount === 0
        ? null
        : (Object.fromEntries(
            JUDGE_DIMENSIONS.map((dimension) => [dimension, totals.judgeSums[dimension] / judgedCount]),
          ) as JudgeScores),
  };
}

/** Groups sorted by name, so summary.json is byte-identical for the same records in any order. */
function summarizeGroups(groups: Map<string, GroupTotals>): Record<string, GroupSummary> {
  return Object.fromEntries(
    [...groups.entries()]
      .sort(([left], [right]) => (left < right ? -1 : left > right ? 1 : 0))
      .map(([name, totals]) => [name, summarizeTotals(totals)]),
  );
}

function addToGroup(groups: Map<string, GroupTotals>, name: string | null, record: ManifestRecord): void {
  const key = name ?? UNKNOWN_GROUP;
  let totals = groups.get(key);
  if (totals === undefined) {
    totals = createTotals();
    groups.set(key, totals);
  }
  addToTotals(totals, record);
}

export function createSummaryAccumulator(): SummaryAccumulator {
  const overall = createTotals();
  const bySubject = new Map<string, GroupTotals>();
  const byImageType = new Map<string, GroupTotals>();
  let usage: Usage = { ...ZERO_USAGE };
  let renderAttemptsSum = 0;
  let renderedCount = 0;

  return {
    add(record) {
      addToTotals(overall, record);
      addToGroup(bySubject, record.subject, record);
      addToGroup(byImageType, record.image_type, record);
      usage = addUsage(usage, record.usage);
      if (record.render_attempts > 0) {
        renderAttemptsSum += record.render_attempts;
        renderedCount++;
      }
    },
    finish(meta) {
      const totals = summarizeTotals(overall);
      return {
        build_id: meta.build_id,
        problems: totals.problems,
        verdicts: totals.verdicts,
        r_inv_mean: totals.r_inv_mean,
        judge_means: totals.judge_means,
        render_attempts_mean: renderedCount === 0 ? null : renderAttemptsSum / renderedCount,
        by_subject: summarizeGroups(bySubject),
        by_image_type: summarizeGroups(byImageType),
        usage: { ...usage },
        generators: [],
        finished_at: meta.finished_at,
      };
    },
  };
}
