/**
 * The report's view of a manifest: one entry per (problem, generator). The leaderboard is
 * summary.json's own (domain/summary.ts), computed again from the manifest as it streams by.
 */
import { FORMER_GENERATOR, resultFromTopLevel, type ManifestRecord, type ManifestResult } from '../domain/manifest.ts';
import type { LeaderboardRow } from '../domain/summary.ts';
import type { Paradigm } from '../domain/types.ts';

/** A generator as the build's summary names it, used for lines that carry no per-generator results. */
export interface KnownGenerator {
  generator: string;
  paradigm: Paradigm;
  model: string;
}

/** One card of the report: a problem and what one generator made of it. */
export interface ReportEntry {
  record: ManifestRecord;
  result: ManifestResult;
}

export function entriesOf(record: ManifestRecord, knownGenerators: readonly KnownGenerator[]): ReportEntry[] {
  if (record.results !== undefined && record.results.length > 0)
    return record.results.map((result) => ({ record, result }));
  const named =
    record.generator === undefined ? undefined : knownGenerators.find((known) => known.generator === record.generator);
  const generators =
    knownGenerators.length > 0
      ? knownGenerators
      : [
          record.generator === undefined
            ? { ...FORMER_GENERATOR, generator: FORMER_GENERATOR.name }
            : (named ?? { ...FORMER_GENERATOR, generator: record.generator }),
        ];
  return generators.map((generator) => ({
    record,
    result: resultFromTopLevel(record, { ...generator, name: generator.generator }),
  }));
}

/** Share of a row's problems that were accepted; null for an empty row. */
export function acceptanceRate(row: LeaderboardRow): number | null {
  return row.problems === 0 ? null : row.verdicts.accepted / row.problems;
}

/** Group names as people sort them: "Type 3" before "Type 22". */
export function compareNames(left: string, right: string): number {
  return left.localeCompare(right, 'en', { numeric: true });
}
