/**
 * The report page: build header, leaderboard (the paper's main table per generator), tables and
 * inline SVG charts per subject and image type, and the shell of the gallery that the page script
 * fills from the card index and the card chunks.
 */
import type { BuildSummary, GeneratorSummary, LeaderboardRow } from '../domain/summary.ts';
import {
  JUDGE_DIMENSIONS,
  JUDGE_LABELS,
  type JudgeScores,
  type Paradigm,
  type QuizResult,
  type Verdict,
} from '../domain/types.ts';
import type { ManifestImageVersion, ManifestResult } from '../domain/manifest.ts';
import type { ReferenceComparison } from '../domain/problem-result.ts';
import { acceptanceRate, compareNames } from './aggregate.ts';
import { formatLeaderboardNumber, LEADERBOARD_COLUMNS } from './leaderboard-table.ts';
import { renderBarChart, type ChartSeries } from './bar-chart.ts';
import { escapeHtml, jsonForScript } from './escape.ts';
import { PAGE_SCRIPT } from './page-script.ts';
import { PAGE_STYLE } from './page-style.ts';

/** One gallery card as the page script reads it. Links are paths relative to the report directory. */
export interface ReportCard {
  id: string | number;
  generator: string;
  paradigm: Paradigm;
  model: string;
  verdict: Verdict;
  subject: string | null;
  image_type: string | null;
  question: string | null;
  answer: string | null;
  image: string | null;
  code: string | null;
  plan: string | null;
  judge_file: string | null;
  judge: JudgeScores | null;
  judge_reasoning: ManifestResult['judge_reasoning'];
  r_inv: number | null;
  reasons: string[];
  quiz_results: QuizResult[] | null;
  versions: (Omit<ManifestImageVersion, 'image' | 'code'> & { image: string | null; code: string | null })[];
  reference: ReferenceComparison | null;
  render_attempts: number;
  /** What could not be copied into the report, in words. */
  notes: string[];
}

/**
 * Every card's filter values, small enough to hold for 100k cards: `entries` is flat, four numbers
 * per card (generator, verdict, subject, image type), each an index into the name lists.
 */
export interface ReportIndex {
  count: number;
  chunkSize: number;
  generators: string[];
  verdicts: string[];
  subjects: string[];
  imageTypes: string[];
  entries: number[];
}

export interface ReportPageInput {
  buildId: string;
  summary: BuildSummary | null;
  leaderboard: GeneratorSummary[];
  index: ReportIndex;
  problems: number;
  generatedAt: string;
}

const VERDICT_COLUMNS: Verdict[] = ['accepted', 'rejected', 'skipped', 'failed', 'invalid'];

const PALETTE = ['#2563eb', '#db2777', '#16a34a', '#ea580c', '#7c3aed', '#0891b2', '#ca8a04', '#64748b'];

export function generatorColor(position: number): string {
  return PALETTE[position % PALETTE.length]!;
}

/** `data/cards-000042.js`: one chunk of cards, loaded by a script tag. */
export function cardChunkPath(chunk: number): string {
  return `data/cards-${String(chunk).padStart(6, '0')}.js`;
}

export function renderCardChunk(chunk: number, cards: ReportCard[]): string {
  return `scigenCards(${chunk}, ${jsonForScript(cards)});\n`;
}

function formatNumber(value: number | null, digits: number): string {
  return value === null ? '–' : value.toFixed(digits);
}

function formatPercent(value: number | null): string {
  return value === null ? '–' : `${(value * 100).toFixed(1)}%`;
}

function judgeAverage(row: LeaderboardRow): number | null {
  if (row.judge_means === null) return null;
  return JUDGE_DIMENSIONS.reduce((sum, dimension) => sum + row.judge_means![dimension], 0) / JUDGE_DIMENSIONS.length;
}

interface Column {
  header: string;
  title?: string;
  value(row: LeaderboardRow): number | null;
  format(value: number | null): string;
  /** Bold the best value of the column among generators. */
  best?: boolean;
  className?: (row: LeaderboardRow) => string;
}

/** The leaderboard's columns (report/leaderboard-table.ts, as the CLI prints them), then the build's own. */
function columnsFor(rows: LeaderboardRow[]): Column[] {
  const columns: Column[] = [
    ...LEADERBOARD_COLUMNS.map((column): Column => ({
      header: column.label,
      title: column.title,
      value: (row) => column.value(row) ?? null,
      format: (value) => formatLeaderboardNumber(column.kind, value),
      best: column.kind !== 'count',
    })),
    {
      header: 'per-image R_inv %',
      title: "mean of each judged image's share of quizzes answered correctly (the filter's R_inv)",
      value: (row) => row.r_inv_mean,
      format: (value) => formatLeaderboardNumber('percent', value),
      best: true,
    },
    {
      header: 'Avg',
      title: 'mean of the five judge dimensions',
      value: judgeAverage,
      format: (value) => formatNumber(value, 2),
      best: true,
    },
    { header: 'accept', title: 'share of problems accepted', value: acceptanceRate, format: formatPercent, best: true },
    { header: 'problems', value: (row) => row.problems, format: (value) => String(value ?? 0) },
    ...VERDICT_COLUMNS.filter((verdict) => rows.some((row) => row.verdicts[verdict] > 0)).map((verdict): Column => ({
      header: verdict,
      value: (row) => row.verdicts[verdict],
      format: (value) => String(value ?? 0),
      className: () => `count-${verdict}`,
    })),
  ];
  return columns;
}

function generatorCell(generator: GeneratorSummary, position: number): string {
  const model = generator.model === '' ? '' : ` <span class="muted">${escapeHtml(generator.model)}</span>`;
  return `<span class="swatch" style="background:${generatorColor(position)}"></span>${escapeHtml(generator.generator)}${model}`;
}

function bestValues(columns: Column[], rows: LeaderboardRow[]): (number | null)[] {
  return columns.map((column) => {
    if (!column.best || rows.length < 2) return null;
    const values = rows.map((row) => column.value(row)).filter((value): value is number => value !== null);
    const best = Math.max(...values);
    // A column where every generator scores the same has no best one to point out.
    return values.length < 2 || values.every((value) => value === best) ? null : best;
  });
}

function valueCells(columns: Column[], row: LeaderboardRow, best: (number | null)[]): string {
  return columns
    .map((column, position) => {
      const value = column.value(row);
      const classes = [column.className?.(row), value !== null && value === best[position] ? 'best' : undefined]
        .filter(Boolean)
        .join(' ');
      return `<td${classes ? ` class="${classes}"` : ''}>${column.format(value)}</td>`;
    })
    .join('');
}

function headerCells(columns: Column[]): string {
  return columns
    .map(
      (column) => `<th${column.title ? ` title="${escapeHtml(column.title)}"` : ''}>${escapeHtml(column.header)}</th>`,
    )
    .join('');
}

function renderLeaderboard(leaderboard: GeneratorSummary[]): string {
  const rows = leaderboard.map((generator) => generator.overall);
  const columns = columnsFor(rows);
  const best = bestValues(columns, rows);
  const body = leaderboard
    .map(
      (generator, position) =>
        `<tr><td class="name">${generatorCell(generator, position)}</td><td class="name">${escapeHtml(generator.paradigm)}</td>${valueCells(columns, generator.overall, best)}<td>$${generator.usage.cost_usd.toFixed(4)}</td></tr>`,
    )
    .join('');
  return `<div class="table-wrap"><table class="board"><thead><tr><th class="name">generator</th><th class="name">paradigm</th>${headerCells(columns)}<th title="the generator's own steps; classify, plan and quiz are shared and counted in the build total">generator cost</th></tr></thead><tbody>${body}</tbody></table></div>`;
}

function groupNames(leaderboard: GeneratorSummary[], field: 'by_subject' | 'by_image_type'): string[] {
  const names = new Set<string>();
  for (const generator of leaderboard) for (const name of Object.keys(generator[field])) names.add(name);
  return [...names].sort(compareNames);
}

function renderGroupTable(
  leaderboard: GeneratorSummary[],
  field: 'by_subject' | 'by_image_type',
  groupHeader: string,
): string {
  const names = groupNames(leaderboard, field);
  const allRows = leaderboard.flatMap((generator) => Object.values(generator[field]));
  const columns = columnsFor(allRows);
  const body = names
    .map((name) => {
      const present = leaderboard
        .map((generator, position) => ({ generator, position, row: generator[field][name] }))
        .filter((entry) => entry.row !== undefined);
      const best = bestValues(
        columns,
        present.map((entry) => entry.row!),
      );
      return present
        .map(
          (entry, line) =>
            `<tr${line === 0 && leaderboard.length > 1 ? ' class="group-start"' : ''}>${line === 0 ? `<td class="group" rowspan="${present.length}">${escapeHtml(name)}</td>` : ''}<td class="name">${generatorCell(entry.generator, entry.position)}</td>${valueCells(columns, entry.row!, best)}</tr>`,
        )
        .join('');
    })
    .join('');
  return `<div class="table-wrap"><table class="board"><thead><tr><th class="name">${escapeHtml(groupHeader)}</th><th class="name">generator</th>${headerCells(columns)}</tr></thead><tbody>${body}</tbody></table></div>`;
}

function renderGroupCharts(
  leaderboard: GeneratorSummary[],
  field: 'by_subject' | 'by_image_type',
  groupLabel: string,
): string {
  const series: ChartSeries[] = leaderboard.map((generator, position) => ({
    name: generator.generator,
    color: generatorColor(position),
  }));
  const names = groupNames(leaderboard, field);
  const chart = (title: string, value: (row: LeaderboardRow) => number | null) =>
    renderBarChart({
      title,
      series,
      groups: names.map((name) => ({
        label: name,
        values: leaderboard.map((generator) => (generator[field][name] ? value(generator[field][name]) : null)),
      })),
    });
  const legend =
    leaderboard.length > 1
      ? `<div class="legend">${series.map((entry) => `<span><span class="swatch" style="background:${entry.color}"></span>${escapeHtml(entry.name)}</span>`).join('')}</div>`
      : '';
  return `${legend}<div class="charts">${chart(`R_inv by ${groupLabel}`, (row) => row.r_inv)}${chart(`Acceptance rate by ${groupLabel}`, acceptanceRate)}</div>`;
}

function renderHeader(input: ReportPageInput): string {
  const facts = [
    `${input.problems} problems`,
    `${input.leaderboard.length} generator${input.leaderboard.length === 1 ? '' : 's'}`,
  ];
  if (input.summary) {
    facts.push(`finished ${input.summary.finished_at}`);
    facts.push(
      `${input.summary.usage.input_tokens.toLocaleString('en-US')} tokens in, ${input.summary.usage.output_tokens.toLocaleString('en-US')} out`,
    );
    facts.push(`build total cost $${input.summary.usage.cost_usd.toFixed(4)}`);
  }
  facts.push(`report written ${input.generatedAt}`);
  return `<header class="top"><h1>scigen report — ${escapeHtml(input.buildId)}</h1><div class="sub">${facts.map((fact) => `<span>${escapeHtml(fact)}</span>`).join('')}</div></header>`;
}

function renderGallery(): string {
  return `<section id="gallery"><h2>Gallery</h2>
<div class="filters"><div class="chips" id="verdict-filter" role="group" aria-label="verdict"></div>
<label>subject <select id="subject-filter"><option value="-1">all</option></select></label>
<label>image type <select id="image-type-filter"><option value="-1">all</option></select></label>
<label>generator <select id="generator-filter"><option value="-1">all</option></select></label></div>
<div class="pager"><button type="button" id="page-previous">◀ previous</button><span id="page-label"></span><button type="button" id="page-next">next ▶</button><span id="gallery-status"></span></div>
<div id="gallery-grid"></div></section>`;
}

export function renderReportPage(input: ReportPageInput): string {
  const { leaderboard } = input;
  const sections =
    leaderboard.length === 0
      ? '<section><h2>Leaderboard</h2><p class="muted">The manifest has no lines.</p></section>'
      : `<section><h2>Leaderboard</h2><p class="hint">R_inv: questions about the given setup answered correctly from the image alone, over all graded questions of judged images (the quizzes and, where it ran, the VE question), as SciGenBench counts it; perfect-image: images with every question right; per-image R_inv: the mean of each image's share. Judge means on 0–2: ${JUDGE_DIMENSIONS.map((dimension) => `${JUDGE_LABELS[dimension].short} ${JUDGE_LABELS[dimension].long}`).join(', ')}. PSNR and SSIM against the reference images, where there are any. Best of each column in bold. Generator cost: the generator's own steps; the shared classify, plan and quiz steps count in the build total only.</p>${renderLeaderboard(leaderboard)}</section>
<section><h2>By subject</h2>${renderGroupCharts(leaderboard, 'by_subject', 'subject')}${renderGroupTable(leaderboard, 'by_subject', 'subject')}</section>
<section><h2>By image type</h2>${renderGroupCharts(leaderboard, 'by_image_type', 'image type')}${renderGroupTable(leaderboard, 'by_image_type', 'image type')}</section>`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>scigen report — ${escapeHtml(input.buildId)}</title>
<style>${PAGE_STYLE}</style></head>
<body>${renderHeader(input)}<main>
${sections}
${renderGallery()}
</main>
<script type="application/json" id="scigen-index">${jsonForScript(input.index)}</script>
<script>${PAGE_SCRIPT}</script>
</body></html>
`;
}
