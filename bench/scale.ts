// npm run bench:scale -- --problems 10000 — a long build end to end: wall time, peak memory of the
// workers' process and the Temporal server, history events per run (continue-as-new keeps each small).
import { parseArgs } from 'node:util';
import { formatCpu } from './history-profile.ts';
import { heapTrend, runScenario } from './pipeline-harness.ts';

const { values } = parseArgs({
  options: {
    problems: { type: 'string', default: '10000' },
    'draw-every': { type: 'string', default: '10' },
    window: { type: 'string', default: '64' },
    'latency-ms': { type: 'string', default: '0' },
    // Collects garbage in the build process every 5 s to read its live heap: a little slower.
    heap: { type: 'boolean', default: false },
  },
});
const result = await runScenario({
  name: 'scale',
  problems: Number(values.problems),
  drawEvery: Number(values['draw-every']),
  windowSize: Number(values.window),
  latencyMs: Number(values['latency-ms']),
  measureMemory: true,
  measureTenths: true,
  measureHeap: values.heap,
});
console.log(
  `problems:            ${result.problems} (every ${values['draw-every']}th rendered, the rest skipped at classify)`,
);
console.log(
  `build time:          ${result.buildSeconds.toFixed(1)} s (${result.problemsPerSecond.toFixed(2)} problems/s); wall ${result.wallSeconds.toFixed(1)} s`,
);
console.log(`model requests:      ${result.modelRequests}`);
console.log(`build runs:          ${result.runs} (continue-as-new)`);
console.log(`history events/run:  max ${result.historyEventsPerRun[0]}, all ${result.historyEventsPerRun.join(' ')}`);
console.log(
  `peak RSS:            workers (scigen build) ${result.peakResidentMegabytes.workers?.toFixed(0)} MB, Temporal dev server ${result.peakResidentMegabytes.temporalServer?.toFixed(0)} MB`,
);
if (result.tenths) {
  const first = result.tenths[0]!;
  const last = result.tenths.at(-1)!;
  console.log(`problems/s by tenth: ${result.tenths.map((rate) => rate.toFixed(2)).join(' ')}`);
  console.log(`last tenth / first:  ${((last / first) * 100).toFixed(1)}% (target >= 80%)`);
}
console.log(
  `database size:       ${result.databaseMegabytes.toFixed(0)} MB (the dev server's SQLite file and its log)`,
);
if (result.cpuPerProblem) console.log(formatCpu(result.cpuPerProblem));
if (result.heapSamples) {
  const trend = heapTrend(result.heapSamples, result.problems);
  console.log(
    trend
      ? `live heap (main):    ${trend.earlyMegabytes.toFixed(1)} MB in the second tenth of the build, ${trend.lateMegabytes.toFixed(1)} MB in the last (${trend.growthKilobytesPerThousandProblems.toFixed(0)} KB per 1000 problems)`
      : `live heap (main):    too few samples (${result.heapSamples.length}) for a trend`,
  );
}
