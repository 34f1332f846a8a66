/** The report's stylesheet, inlined: the page needs no external asset. */
export const PAGE_STYLE = `
:root { --text: #1f2937; --muted: #6b7280; --line: #e5e7eb; --panel: #ffffff; --page: #f4f5f7; --accent: #2563eb;
  --accepted: #15803d; --rejected: #b45309; --skipped: #64748b; --failed: #b91c1c; --invalid: #7c3aed; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", "DejaVu Sans", sans-serif; color: var(--text); background: var(--page); }
header.top { background: #111827; color: #f9fafb; padding: 20px 32px; }
header.top h1 { margin: 0 0 4px; font-size: 22px; font-weight: 600; }
header.top .sub { color: #d1d5db; font-size: 13px; }
header.top .sub span + span::before { content: "·"; margin: 0 8px; color: #6b7280; }
main { max-width: 1500px; margin: 0 auto; padding: 20px 32px 60px; }
section { background: var(--panel); border: 1px solid var(--line); border-radius: 10px; padding: 18px 22px; margin-bottom: 20px; }
h2 { font-size: 17px; margin: 0 0 12px; }
h3 { font-size: 14px; margin: 18px 0 8px; color: #374151; }
p.hint { color: var(--muted); margin: -6px 0 12px; font-size: 12.5px; }
.table-wrap { overflow-x: auto; }
table.board { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
table.board th, table.board td { padding: 6px 10px; border-bottom: 1px solid var(--line); text-align: right; white-space: nowrap; }
table.board th { background: #f9fafb; font-weight: 600; font-size: 12.5px; color: #374151; position: sticky; top: 0; }
table.board th.name, table.board td.name { text-align: left; }
table.board td.group { text-align: left; font-weight: 600; vertical-align: top; background: #fcfcfd; }
table.board td.best { font-weight: 700; color: #111827; background: #eef6ff; }
table.board tr.group-start td { border-top: 2px solid #d1d5db; }
.swatch { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 6px; vertical-align: baseline; }
.count-accepted { color: var(--accepted); } .count-rejected { color: var(--rejected); } .count-failed { color: var(--failed); }
.count-skipped { color: var(--skipped); } .count-invalid { color: var(--invalid); }
.muted { color: var(--muted); }
.charts { display: flex; flex-wrap: wrap; gap: 18px 36px; margin: 6px 0 10px; }
svg.chart { max-width: 100%; height: auto; font-size: 12px; }
svg.chart .chart-title { font-weight: 600; font-size: 13px; fill: #111827; }
svg.chart .group-label { fill: #374151; }
svg.chart .value { fill: #374151; font-size: 11px; }
svg.chart .value.none, svg.chart .tick { fill: #9ca3af; font-size: 11px; }
svg.chart .grid { stroke: #eef0f3; }
.legend { display: flex; gap: 16px; flex-wrap: wrap; font-size: 12.5px; color: #374151; margin-bottom: 4px; }
.filters { display: flex; flex-wrap: wrap; align-items: center; gap: 10px 18px; margin-bottom: 12px; }
.filters label { font-size: 12.5px; color: var(--muted); display: flex; gap: 6px; align-items: center; }
.filters select { font: inherit; padding: 4px 6px; border: 1px solid #d1d5db; border-radius: 6px; background: #fff; max-width: 220px; }
.chips { display: flex; flex-wrap: wrap; gap: 6px; }
button.chip { font: inherit; font-size: 12.5px; border: 1px solid #d1d5db; background: #fff; border-radius: 999px; padding: 3px 12px; cursor: pointer; color: #374151; }
button.chip:hover { border-color: var(--accent); }
button.chip.active { background: var(--accent); border-color: var(--accent); color: #fff; }
.pager { display: flex; align-items: center; gap: 12px; margin: 8px 0 14px; color: var(--muted); font-size: 13px; }
.pager button { font: inherit; padding: 4px 12px; border: 1px solid #d1d5db; border-radius: 6px; background: #fff; cursor: pointer; }
.pager button:disabled { opacity: .4; cursor: default; }
#gallery-grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(320px, 1fr)); gap: 16px; }
.card { background: #fff; border: 1px solid var(--line); border-top: 4px solid var(--skipped); border-radius: 10px; overflow: hidden; display: flex; flex-direction: column; }
.card-accepted { border-top-color: var(--accepted); } .card-rejected { border-top-color: var(--rejected); }
.card-failed { border-top-color: var(--failed); } .card-invalid { border-top-color: var(--invalid); }
.card a.image { display: block; background: #fff; border-bottom: 1px solid var(--line); }
.card a.image img { display: block; width: 100%; height: 240px; object-fit: contain; background: #fff; }
.no-image { height: 240px; display: flex; align-items: center; justify-content: center; color: #9ca3af; background: repeating-linear-gradient(45deg, #f9fafb, #f9fafb 10px, #f3f4f6 10px, #f3f4f6 20px); border-bottom: 1px solid var(--line); }
.no-image.small { height: 90px; }
.card-body { padding: 10px 14px 12px; display: flex; flex-direction: column; gap: 6px; }
.card-head { display: flex; justify-content: space-between; align-items: center; gap: 8px; }
.verdict { font-size: 11.5px; font-weight: 700; text-transform: uppercase; letter-spacing: .04em; padding: 2px 8px; border-radius: 4px; color: #fff; background: var(--skipped); }
.verdict-accepted { background: var(--accepted); } .verdict-rejected { background: var(--rejected); }
.verdict-failed { background: var(--failed); } .verdict-invalid { background: var(--invalid); }
.generator { font-size: 12px; color: #374151; background: #eef2ff; padding: 2px 8px; border-radius: 4px; }
.problem-id { font: 600 13px/1.3 ui-monospace, "DejaVu Sans Mono", monospace; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.meta { color: var(--muted); font-size: 12.5px; }
.facts { display: flex; flex-wrap: wrap; gap: 6px; align-items: center; }
.rinv { font-weight: 700; font-size: 12.5px; }
.scores { display: inline-flex; flex-wrap: wrap; gap: 4px; }
.score { font-size: 11.5px; padding: 1px 6px; border-radius: 4px; font-variant-numeric: tabular-nums; }
.score-0 { background: #fee2e2; color: #991b1b; } .score-1 { background: #fef3c7; color: #92400e; } .score-2 { background: #dcfce7; color: #166534; }
.reference { font-size: 12.5px; color: #374151; }
ul.reasons { margin: 0; padding-left: 18px; color: #7c2d12; font-size: 12.5px; }
details { font-size: 12.5px; border-top: 1px dashed var(--line); padding-top: 4px; }
details summary { cursor: pointer; color: var(--accent); }
details p { margin: 6px 0; white-space: pre-wrap; overflow-wrap: anywhere; }
table.quiz { width: 100%; border-collapse: collapse; margin-top: 6px; }
table.quiz th, table.quiz td { border-bottom: 1px solid var(--line); padding: 3px 4px; text-align: left; vertical-align: top; }
table.quiz td.letter { text-align: center; white-space: nowrap; }
table.quiz tr.wrong td.letter:last-child { color: var(--failed); font-weight: 700; }
table.quiz tr.right td.letter:last-child { color: var(--accepted); font-weight: 700; }
.versions { display: grid; grid-template-columns: repeat(auto-fill, minmax(130px, 1fr)); gap: 8px; margin-top: 6px; }
.versions figure { margin: 0; }
.versions img { width: 100%; height: 110px; object-fit: contain; border: 1px solid var(--line); border-radius: 4px; background: #fff; }
.versions figcaption { font-size: 11.5px; }
.critique { color: var(--muted); }
.links { display: flex; gap: 12px; font-size: 12.5px; align-items: center; }
.links a { color: var(--accent); }
.notes { font-size: 11.5px; color: var(--failed); }
.load-error { color: var(--failed); }
`;
