/**
 * How the staged input is cut into pages, and where problem N lives. Pages are bounded in bytes,
 * not only in count: a worker reads a page whole and keeps a few parsed (activities/record.ts), and
 * builds begun before problems were passed by reference (2026-11-26) read a page as one activity
 * result, which Temporal warns of over 512 KiB (TMPRL1103) and refuses at 2 MiB. Since then a
 * problem's text is in no payload: the build reads a page's keys and ids, a problem workflow gets
 * its page key and line. Pure, for workflow code too.
 */
import type { StagedProblem } from './types.ts';

/**
 * A page closes before its serialized problems would pass this many bytes: half the size Temporal
 * warns at, leaving room for what the activity adds to each entry (a finished problem's verdict and usage).
 */
export const PAGE_BYTE_BUDGET = 256 * 1024;

/**
 * The largest problem accepted, serialized: a page holds at least one problem, so this bounds the
 * page a worker reads and keeps; and a problem of a build begun on earlier code still rides whole
 * in its workflow's input, which must stay under Temporal's 512 KiB warning.
 */
export const MAX_PROBLEM_BYTES = 256 * 1024;

/** One problem of a staged input page: the page's artifact key and the problem's line on it (0-based). */
export interface StagedProblemReference {
  pageKey: string;
  index: number;
}

/** A staged problem as one line of a staged page (JSON lines). */
export function stagedLine(entry: StagedProblem): string {
  return `${JSON.stringify(entry)}\n`;
}

/** UTF-8 bytes of a text, as Temporal counts a JSON payload. */
export function utf8Bytes(text: string): number {
  return new TextEncoder().encode(text).length;
}

/** Why a problem is too large to pass through Temporal, or null when it is not. */
export function oversizeProblemMessage(problem: unknown): string | null {
  const bytes = utf8Bytes(JSON.stringify(problem));
  if (bytes <= MAX_PROBLEM_BYTES) return null;
  return `the problem is ${formatKibibytes(bytes)} serialized, over the ${formatKibibytes(MAX_PROBLEM_BYTES)} a problem may be (workers read it whole with its input page); shorten its texts or move data out of extra fields`;
}

function formatKibibytes(bytes: number): string {
  return `${(bytes / 1024).toFixed(bytes % 1024 === 0 ? 0 : 1)} KiB`;
}

/**
 * The problem count of each page, in order: a page closes at `maxProblems`, or before the next
 * entry would take it past `maxBytes` (a page always holds at least one entry).
 */
export function cutPages(entryBytes: readonly number[], limits: { maxProblems: number; maxBytes: number }): number[] {
  const counts: number[] = [];
  let count = 0;
  let bytes = 0;
  for (const size of entryBytes) {
    if (count > 0 && (count === limits.maxProblems || bytes + size > limits.maxBytes)) {
      counts.push(count);
      count = 0;
      bytes = 0;
    }
    count += 1;
    bytes += size;
  }
  if (count > 0) counts.push(count);
  return counts;
}

/** How the staged problems are paged: builds staged before byte budgets have only `pageSize`. */
export interface PageLayout {
  pageSize: number;
  /** Problems on each page, in order; absent when every page but the last holds `pageSize`. */
  pageCounts?: number[];
}

/** The page holding problem `position` (0-based), the position of its first problem, and how many it should hold. */
export function locateProblem(
  position: number,
  layout: PageLayout,
  problemCount: number,
): { page: number; first: number; count: number } {
  if (layout.pageCounts === undefined) {
    const page = Math.floor(position / layout.pageSize);
    const first = page * layout.pageSize;
    return { page, first, count: Math.min(layout.pageSize, problemCount - first) };
  }
  let first = 0;
  for (const [page, count] of layout.pageCounts.entries()) {
    if (position < first + count) return { page, first, count };
    first += count;
  }
  throw new RangeError(`problem ${position} is past the ${first} staged problems`);
}
