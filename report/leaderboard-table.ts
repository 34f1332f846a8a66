/**
 * The paper's leaderboard as text: one row per generator across builds — R_inv %, the five judge
 * means, PSNR, SSIM, perfect-image %, VE %, images — two decimals. `scigen leaderboard` prints it,
 * `scigen build` ends with it, and the HTML report's leaderboard has the same columns, labels and
 * numbers (LEADERBOARD_COLUMNS, formatLeaderboardValue).
 */
import type { BuildSummary, GeneratorSummary, LeaderboardRow } from '../domain/summary.ts';
import { JUDGE_DIMENSIONS, JUDGE_LABELS, realtimeCostOf } from '../domain/types.ts';
import { compareNames } from './aggregate.ts';

export interface LeaderboardColumn {
  /** The column's label, the same in the CLI and the report. */
  label: string;
  /** What it is, in words (the report's tooltip). */
  title: string;
  /** The summary.json field (or judge dimension) behind it: the key of `--format json`. */
  key: string;
  /** The value as summary.json has it (rates 0–1); null or absent when there is none. */
  value(row: LeaderboardRow): number | null | undefined;
  /** How it is shown: a rate as a percentage, a mean with two decimals, a count as an integer. */
  kind: 'percent' | 'mean' | 'count';
}

export const LEADERBOARD_COLUMNS: readonly LeaderboardColumn[] = [
  {
    label: 'R_inv %',
    title:
      'questions answered correctly from the image alone over all graded questions of judged images, quizzes and the VE question together (SciGenBench)',
    key: 'r_inv',
    value: (row) => row.r_inv,
    kind: 'percent',
  },
  ...JUDGE_DIMENSIONS.map((dimension): LeaderboardColumn => ({
    label: JUDGE_LABELS[dimension].short,
    title: `${JUDGE_LABELS[dimension].long}, mean of 0–2 over judged images`,
    key: dimension,
    value: (row) => row.judge_means?.[dimension],
    kind: 'mean',
  })),
  {
    label: 'PSNR',
    title: 'mean PSNR (dB) against the reference images; identical images (infinite PSNR) left out and counted apart',
    key: 'psnr_mean',
    value: (row) => row.psnr_mean,
    kind: 'mean',
  },
  {
    label: 'SSIM',
    title: 'mean SSIM against the reference images',
    key: 'ssim_mean',
    value: (row) => row.ssim_mean,
    kind: 'mean',
  },
  {
    label: 'perfect-image %',
    title: 'share of judged images whose questions were all answered correctly',
    key: 'perfect_image_rate',
    value: (row) => row.perfect_image_rate,
    kind: 'percent',
  },
  {
    label: 'VE %',
    title: "share of the data's multimodal questions answered correctly from the image",
    key: 've_accuracy',
    value: (row) => row.ve_accuracy,
    kind: 'percent',
  },
  {
    label: 'images',
    title: 'images with all five judge scores',
    key: 'images',
    value: (row) => row.images,
    kind: 'count',
  },
];

/** A value as the table shows it: two decimals, rates as percentages, '–' where there is none. */
export function formatLeaderboardNumber(kind: LeaderboardColumn['kind'], value: number | null | undefined): string {
  if (value === null || value === undefined) return '–';
  if (kind === 'count') return String(value);
  return (kind === 'percent' ? value * 100 : value).toFixed(2);
}

export function formatLeaderboardValue(column: LeaderboardColumn, row: LeaderboardRow): string {
  return formatLeaderboardNumber(column.kind, column.value(row));
}

export const LEADERBOARD_FORMATS = ['table', 'markdown', 'csv', 'json'] as const;
export type LeaderboardFormat = (typeof LEADERBOARD_FORMATS)[number];

export const LEADERBOARD_GROUPINGS = ['subject', 'image-type'] as const;
export type LeaderboardGrouping = (typeof LEADERBOARD_GROUPINGS)[number];

/** A build's summary.json, or the part of it the leaderboard reads. */
export interface LeaderboardBuild {
  buildId: string;
  summary: Pick<BuildSummary, 'generators'>;
}

export interface LeaderboardOptions {
  /** One block (table, markdown) or one group column (csv, json) per subject or image type. Default: overall only. */
  by?: LeaderboardGrouping;
  /** @default 'table' */
  format?: LeaderboardFormat;
}

interface Line {
  buildId: string;
  generator: GeneratorSummary;
  label: string;
  row: LeaderboardRow;
}

interface Block {
  group: string | null;
  lines: Line[];
}

function blocksOf(builds: readonly LeaderboardBuild[], by: LeaderboardGrouping | undefined): Block[] {
  // One build: the generator names the row. Several: the build too, since their generators may share names.
  const label = (buildId: string, generator: GeneratorSummary) =>
    builds.length > 1 ? `${buildId}/${generator.generator}` : generator.generator;
  const entries = builds.flatMap((build) =>
    build.summary.generators.map((generator) => ({ buildId: build.buildId, generator })),
  );
  if (by === undefined) {
    return [
      {
        group: null,
        lines: entries.map(({ buildId, generator }) => ({
          buildId,
          generator,
          label: label(buildId, generator),
          row: generator.overall,
        })),
      },
    ];
  }
  const field = by === 'subject' ? 'by_subject' : 'by_image_type';
  const names = [...new Set(entries.flatMap(({ generator }) => Object.keys(generator[field] ?? {})))].sort(
    compareNames,
  );
  return names.map((group) => ({
    group,
    lines: entries.flatMap(({ buildId, generator }) => {
      const row = generator[field]?.[group];
      return row === undefined ? [] : [{ buildId, generator, label: label(buildId, generator), row }];
    }),
  }));
}

/** Columns padded to one width: the label left-aligned, numbers right-aligned. */
function alignedTable(header: string[], rows: string[][]): string {
  const widths = header.map((cell, column) => Math.max(cell.length, ...rows.map((row) => row[column]!.length)));
  const pad = (row: string[]) =>
    row
      .map((cell, column) => (column === 0 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!)))
      .join('  ');
  return [pad(header), widths.map((width) => '-'.repeat(width)).join('  '), ...rows.map(pad)]
    .map((line) => line.trimEnd())
    .join('\n');
}

function markdownTable(header: string[], rows: string[][]): string {
  const escape = (cell: string) => cell.replaceAll('|', '\\|');
  const line = (row: string[]) => `| ${row.map(escape).join(' | ')} |`;
  return [
    line(header),
    `|${header.map((_, column) => (column === 0 ? ' --- ' : ' ---: ')).join('|')}|`,
    ...rows.map(line),
  ].join('\n');
}

function csvCell(cell: string): string {
  return /[",\n\r]/.test(cell) ? `"${cell.replaceAll('"', '""')}"` : cell;
}

const GROUP_HEADER: Record<LeaderboardGrouping, string> = { subject: 'subject', 'image-type': 'image type' };

/**
 * The leaderboard of one or more builds in the chosen format. `table` and `markdown` print one
 * table (one per group with `by`); `csv` one row per line with build and generator apart (and the
 * group); `json` the same rows with summary.json's unrounded values (rates 0–1, null for none).
 */
export function formatLeaderboard(builds: readonly LeaderboardBuild[], options: LeaderboardOptions = {}): string {
  const format = options.format ?? 'table';
  const blocks = blocksOf(builds, options.by);
  const cells = (line: Line) => LEADERBOARD_COLUMNS.map((column) => formatLeaderboardValue(column, line.row));
  const labels = LEADERBOARD_COLUMNS.map((column) => column.label);

  if (format === 'json') {
    const rows = blocks.flatMap((block) =>
      block.lines.map((line) => ({
        build_id: line.buildId,
        generator: line.generator.generator,
        paradigm: line.generator.paradigm,
        model: line.generator.model,
        ...(options.by === undefined ? {} : { [options.by === 'subject' ? 'subject' : 'image_type']: block.group }),
        ...Object.fromEntries(LEADERBOARD_COLUMNS.map((column) => [column.key, column.value(line.row) ?? null])),
        ...(options.by === undefined
          ? {
              cost_usd: line.generator.usage.cost_usd,
              realtime_cost_usd: realtimeCostOf(line.generator.usage),
              batch_calls: line.generator.usage.batch_calls ?? 0,
            }
          : {}),
        r_inv_quiz_only: line.row.r_inv_quiz_only ?? null,
        r_inv_mean: line.row.r_inv_mean ?? null,
        questions: line.row.questions ?? null,
        psnr_identical: line.row.psnr_identical ?? null,
        referenced: line.row.referenced ?? null,
      })),
    );
    return JSON.stringify(rows, null, 2);
  }
  if (format === 'csv') {
    const header = ['build', 'generator', ...(options.by === undefined ? [] : [GROUP_HEADER[options.by]]), ...labels];
    const rows = blocks.flatMap((block) =>
      block.lines.map((line) => [
        line.buildId,
        line.generator.generator,
        ...(block.group === null ? [] : [block.group]),
        ...cells(line).map((cell) => (cell === '–' ? '' : cell)),
      ]),
    );
    return [header, ...rows].map((row) => row.map(csvCell).join(',')).join('\n');
  }
  const render = format === 'markdown' ? markdownTable : alignedTable;
  const tables = blocks.map((block) => {
    const table = render(
      ['generator', ...labels],
      block.lines.map((line) => [line.label, ...cells(line)]),
    );
    if (block.group === null) return [table, ...batchCostLines(block.lines)].join('\n\n');
    return format === 'markdown' ? `### ${block.group}\n\n${table}` : `${block.group}\n${table}`;
  });
  return tables.join('\n\n');
}

/**
 * Under a table of generators whose calls went through batches: what each paid (its own steps;
 * classify, plan and quiz are in the build's total) and what the same calls cost in real time.
 */
function batchCostLines(lines: readonly Line[]): string[] {
  if (!lines.some((line) => (line.generator.usage.batch_calls ?? 0) > 0)) return [];
  const each = lines.map(
    (line) =>
      `${line.label} $${line.generator.usage.cost_usd.toFixed(4)} (real time: $${realtimeCostOf(line.generator.usage).toFixed(4)})`,
  );
  return [`cost of each generator's own steps, batch mode: ${each.join(', ')}`];
}
