import { escapeHtml } from './escape.ts';

export interface ChartSeries {
  name: string;
  color: string;
}

export interface ChartGroup {
  label: string;
  /** One value per series, in series order, as a share in [0, 1]; null: no data. */
  values: (number | null)[];
}

export interface BarChartInput {
  title: string;
  series: ChartSeries[];
  groups: ChartGroup[];
}

const WIDTH = 560;
const LABEL_WIDTH = 170;
const VALUE_WIDTH = 52;
const BAR_HEIGHT = 14;
const BAR_GAP = 3;
const GROUP_GAP = 12;
const TOP = 30;
const LABEL_CHARACTERS = 26;

function percent(value: number): string {
  return `${(value * 100).toFixed(1)}%`;
}

/**
 * Horizontal grouped bars of shares (0–100%), one group per subject or image type and one bar per
 * generator, as inline SVG: the report needs no chart library and no network.
 */
export function renderBarChart(input: BarChartInput): string {
  const barsPerGroup = Math.max(input.series.length, 1);
  const groupHeight = barsPerGroup * BAR_HEIGHT + (barsPerGroup - 1) * BAR_GAP;
  const height = TOP + input.groups.length * (groupHeight + GROUP_GAP) + 22;
  const plotWidth = WIDTH - LABEL_WIDTH - VALUE_WIDTH;
  const parts: string[] = [];
  parts.push(
    `<svg class="chart" viewBox="0 0 ${WIDTH} ${height}" width="${WIDTH}" height="${height}" role="img" aria-label="${escapeHtml(input.title)}">`,
    `<text class="chart-title" x="0" y="16">${escapeHtml(input.title)}</text>`,
  );
  for (const tick of [0, 0.25, 0.5, 0.75, 1]) {
    const x = LABEL_WIDTH + tick * plotWidth;
    parts.push(
      `<line class="grid" x1="${x}" x2="${x}" y1="${TOP - 4}" y2="${height - 18}"/>`,
      `<text class="tick" x="${x}" y="${height - 4}" text-anchor="middle">${tick * 100}%</text>`,
    );
  }
  input.groups.forEach((group, groupIndex) => {
    const groupTop = TOP + groupIndex * (groupHeight + GROUP_GAP);
    const label =
      group.label.length > LABEL_CHARACTERS ? `${group.label.slice(0, LABEL_CHARACTERS - 1)}…` : group.label;
    parts.push(
      `<text class="group-label" x="${LABEL_WIDTH - 8}" y="${groupTop + groupHeight / 2 + 4}" text-anchor="end"><title>${escapeHtml(group.label)}</title>${escapeHtml(label)}</text>`,
    );
    group.values.forEach((value, seriesIndex) => {
      const series = input.series[seriesIndex];
      if (series === undefined) return;
      const y = groupTop + seriesIndex * (BAR_HEIGHT + BAR_GAP);
      if (value === null) {
        parts.push(`<text class="value none" x="${LABEL_WIDTH + 4}" y="${y + BAR_HEIGHT - 3}">n/a</text>`);
        return;
      }
      const width = Math.max(value * plotWidth, value > 0 ? 1 : 0);
      parts.push(
        `<rect x="${LABEL_WIDTH}" y="${y}" width="${width.toFixed(1)}" height="${BAR_HEIGHT}" rx="2" fill="${series.color}"><title>${escapeHtml(`${group.label} — ${series.name}: ${percent(value)}`)}</title></rect>`,
        `<text class="value" x="${(LABEL_WIDTH + width + 4).toFixed(1)}" y="${y + BAR_HEIGHT - 3}">${percent(value)}</text>`,
      );
    });
  });
  parts.push('</svg>');
  return parts.join('');
}
