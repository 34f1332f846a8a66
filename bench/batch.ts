// npm run bench:batch [-- --synthetic 1000] [--provider openai|gemini|both] [--draw-every 1] [--window 64]
//
// The same problems built twice against the scripted endpoint, in real time and in batch mode
// (`scigen build --batch`), with the default models and their list prices: accepted images, cost,
// cost per accepted image, the batch / real-time cost ratio (overall, and on the batched steps
// alone), model calls per problem, batches submitted and wall time, all measured in this run.
// The samples by default; `--synthetic N` builds N synthetic problems (scripted/synthetic.ts).
// Batch timings are kept small (1-s batches, polls every second, a batch closes after 3 s).
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { DEFAULT_PRICES } from '../config/schema.ts';
import { costOf } from '../activities/model-call.ts';
import type { BuildSummary } from '../domain/summary.ts';
import { realtimeCostOf } from '../domain/types.ts';
import { loadScript, type Script } from '../scripted/script.ts';
import { startScriptedEndpoint, type RequestLogEntry, type ScriptedEndpoint } from '../scripted/server.ts';
import { syntheticProblems, syntheticScript } from '../scripted/synthetic.ts';
import { summaryKey } from '../storage/build-layout.ts';
import { readBenchManifest, runBenchBuild, startBenchServer, type BenchServer } from './bench-build.ts';

const repositoryRoot = fileURLToPath(new URL('..', import.meta.url));
const PROVIDERS = ['openai', 'gemini'] as const;
type Provider = (typeof PROVIDERS)[number];
type Mode = 'realtime' | 'batch';

const { values } = parseArgs({
  options: {
    synthetic: { type: 'string' },
    provider: { type: 'string', default: 'openai' },
    'draw-every': { type: 'string', default: '1' },
    window: { type: 'string', default: '64' },
    'batch-duration-ms': { type: 'string', default: '1000' },
  },
});
const providers: Provider[] =
  values.provider === 'both' ? [...PROVIDERS] : PROVIDERS.filter((provider) => provider === values.provider);
const syntheticCount = values.synthetic === undefined ? undefined : Number(values.synthetic);
const drawEvery = Number(values['draw-every']);
const windowSize = Number(values.window);
const batchDurationMs = Number(values['batch-duration-ms']);
if (
  providers.length === 0 ||
  ![syntheticCount ?? 1, drawEvery, windowSize].every((value) => Number.isInteger(value) && value > 0) ||
  !(batchDurationMs >= 0)
) {
  console.error(
    'usage: npm run bench:batch -- [--synthetic N] [--provider openai|gemini|both] [--draw-every 1] [--window 64] [--batch-duration-ms 1000]',
  );
  process.exit(2);
}

interface Problems {
  description: string;
  lines: Array<{ id: string }>;
  script: Script;
}

async function loadProblems(): Promise<Problems> {
  if (syntheticCount !== undefined) {
    return {
      description: `${syntheticCount} synthetic problems, every ${drawEvery === 1 ? '' : `${drawEvery}th `}one drawn`,
      lines: syntheticProblems(syntheticCount, drawEvery),
      script: syntheticScript,
    };
  }
  const text = await readFile(join(repositoryRoot, 'samples', 'problems.jsonl'), 'utf8');
  const lines = text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as { id: string });
  return {
    description: `the ${lines.length} sample problems (samples/problems.jsonl)`,
    lines,
    script: await loadScript(join(repositoryRoot, 'samples', 'scripted-responses.json')),
  };
}

/** Calls and their price at the list rates, from the endpoint's log. */
interface PricedCalls {
  calls: number;
  costUsd: number;
}

interface ModeResult {
  mode: Mode;
  summary: BuildSummary;
  verdicts: Map<string, string>;
  /** Model requests answered in real time, scigen's doctor (the vision canary) left out. */
  realtimeRequests: number;
  /** Requests answered inside a batch. */
  batchedRequests: number;
  doctorRequests: number;
  /** Calls of the Files and Batch APIs (create, poll, results). */
  batchApiCalls: number;
  batches: number;
  /** Per step, the problems' model calls priced from the endpoint's token counts. */
  bySteps: Map<string, PricedCalls>;
  /** The steps with a request answered inside a batch. */
  batchedSteps: Set<string>;
  unpricedModels: Set<string>;
  wallSeconds: number;
}

async function runMode(
  bench: BenchServer,
  endpoint: ScriptedEndpoint,
  provider: Provider,
  mode: Mode,
  inputFile: string,
  problemCount: number,
): Promise<ModeResult> {
  endpoint.reset();
  const buildId = `bench-batch-${provider}-${mode}`;
  const concurrency = Math.max(32, windowSize * 2);
  const configFile = join(bench.directory, `config-${provider}-${mode}.json`);
  await writeFile(
    configFile,
    JSON.stringify({
      workers: { llmConcurrency: concurrency },
      // A base URL on localhost would otherwise get a local server's four requests at a time.
      openai: { maxConcurrency: concurrency },
      gemini: { maxConcurrency: concurrency },
      batch: { pollSeconds: 1, maxPollSeconds: 2, maxWaitMinutes: 0.05 },
    }),
  );
  const started = performance.now();
  const build = await runBenchBuild({
    bench,
    endpoint,
    inputFile,
    buildId,
    // In batch mode --window sets batch.windowSize: every problem in flight, so batches are large.
    windowSize: mode === 'batch' ? Math.min(10_000, problemCount) : windowSize,
    configFile,
    buildArguments: mode === 'batch' ? ['--batch'] : [],
    environment: {
      SCIGEN_PROVIDER: provider,
      ...(provider === 'gemini'
        ? { GEMINI_API_KEY: 'bench-not-a-real-key', SCIGEN_GEMINI_BASE_URL: endpoint.geminiBaseUrl }
        : {}),
    },
  });
  const wallSeconds = (performance.now() - started) / 1000;
  if (build.exitCode !== 0)
    throw new Error(`scigen build (${provider}, ${mode}) failed (${build.exitCode}):\n${build.all}`);

  const summary = JSON.parse(
    await readFile(join(bench.directory, 'artifacts', summaryKey(buildId)), 'utf8'),
  ) as BuildSummary;
  const verdicts = new Map(
    (await readBenchManifest(bench, buildId)).map((line) => {
      const record = JSON.parse(line) as { id: string; verdict: string };
      return [record.id, record.verdict] as const;
    }),
  );
  const isDoctor = (entry: RequestLogEntry) => entry.problem === 'scigen-doctor';
  const answeredInBatch = (entry: RequestLogEntry) => entry.batch?.operation === 'request';
  const modelRequests = endpoint.requests.filter((entry) => entry.batch === undefined || answeredInBatch(entry));
  const bySteps = new Map<string, PricedCalls>();
  const unpricedModels = new Set<string>();
  for (const entry of modelRequests) {
    if (isDoctor(entry) || entry.step === null) continue;
    const model = (entry.model ?? '').replace(/^models\//, '');
    if (!DEFAULT_PRICES[model]) unpricedModels.add(model);
    const priced = bySteps.get(entry.step) ?? { calls: 0, costUsd: 0 };
    priced.calls += 1;
    if (entry.usage && DEFAULT_PRICES[model])
      priced.costUsd += costOf(
        DEFAULT_PRICES,
        model,
        model,
        { ...entry.usage, cachedInputTokens: 0 },
        answeredInBatch(entry),
      );
    bySteps.set(entry.step, priced);
  }
  return {
    mode,
    summary,
    verdicts,
    realtimeRequests: modelRequests.filter((entry) => !answeredInBatch(entry) && !isDoctor(entry)).length,
    batchedRequests: modelRequests.filter(answeredInBatch).length,
    doctorRequests: modelRequests.filter(isDoctor).length,
    batchApiCalls: endpoint.requests.length - modelRequests.length,
    batches: endpoint.batches().length,
    bySteps,
    batchedSteps: new Set(modelRequests.filter(answeredInBatch).map((entry) => entry.step ?? '')),
    unpricedModels,
    wallSeconds,
  };
}

function pricedSum(bySteps: Map<string, PricedCalls>, steps: ReadonlySet<string>): PricedCalls {
  let calls = 0;
  let costUsd = 0;
  for (const [step, priced] of bySteps) {
    if (!steps.has(step)) continue;
    calls += priced.calls;
    costUsd += priced.costUsd;
  }
  return { calls, costUsd };
}

const dollars = (value: number) => `$${value >= 1 ? value.toFixed(2) : value.toPrecision(3)}`;
const row = (label: string, realtime: string, batch: string) =>
  console.log(`  ${label.padEnd(30)}${realtime.padEnd(24)}${batch}`);

function report(provider: Provider, problems: Problems, realtime: ModeResult, batch: ModeResult): void {
  const count = problems.lines.length;
  const accepted = (result: ModeResult) => result.summary.verdicts.accepted;
  const cost = (result: ModeResult) => result.summary.usage.cost_usd;
  const perAccepted = (result: ModeResult) => (accepted(result) > 0 ? dollars(cost(result) / accepted(result)) : 'n/a');
  const callsPerProblem = (result: ModeResult) => (result.realtimeRequests + result.batchedRequests) / count;
  console.log(`\n${provider}: ${problems.description}`);
  row('', 'real time', 'batch');
  row('accepted images', String(accepted(realtime)), String(accepted(batch)));
  row('total cost', dollars(cost(realtime)), dollars(cost(batch)));
  row('cost per accepted image', perAccepted(realtime), perAccepted(batch));
  row(
    'model calls per problem',
    callsPerProblem(realtime).toFixed(2),
    `${callsPerProblem(batch).toFixed(2)} (${(batch.batchedRequests / count).toFixed(2)} in batches, ` +
      `${(batch.realtimeRequests / count).toFixed(2)} real time)`,
  );
  row('doctor calls (vision canary)', String(realtime.doctorRequests), String(batch.doctorRequests));
  row('batches submitted', String(realtime.batches), `${batch.batches} (${batch.batchApiCalls} Files/Batch API calls)`);
  row('wall time', `${realtime.wallSeconds.toFixed(1)} s`, `${batch.wallSeconds.toFixed(1)} s`);

  const realtimeOnBatched = pricedSum(realtime.bySteps, batch.batchedSteps);
  const batchOnBatched = pricedSum(batch.bySteps, batch.batchedSteps);
  const overall = cost(batch) / cost(realtime);
  console.log(
    `  batch / real time, cost:      ${overall.toFixed(3)} overall (summary.json usage); ` +
      `${(batchOnBatched.costUsd / realtimeOnBatched.costUsd).toFixed(3)} on the batched steps ` +
      `(${[...batch.batchedSteps].join(', ')}: ${dollars(batchOnBatched.costUsd)} vs ${dollars(realtimeOnBatched.costUsd)}, ` +
      `priced from the endpoint's token counts)`,
  );
  const stayed = pricedSum(
    batch.bySteps,
    new Set([...batch.bySteps.keys()].filter((step) => !batch.batchedSteps.has(step))),
  );
  console.log(
    `  batch mode's real-time calls: ${stayed.calls} (${dollars(stayed.costUsd)}); summary.json says the batch build ` +
      `would have cost ${dollars(realtimeCostOf(batch.summary.usage))} in real time, ${batch.summary.usage.batch_calls ?? 0} calls through batches`,
  );
  const differing = [...realtime.verdicts].filter(([id, verdict]) => batch.verdicts.get(id) !== verdict);
  console.log(
    differing.length === 0
      ? `  verdicts: the same in both modes for all ${realtime.verdicts.size} problems`
      : `  verdicts: ${differing.length} of ${realtime.verdicts.size} differ (${differing
          .slice(0, 5)
          .map(([id, verdict]) => `${id}: ${verdict} vs ${batch.verdicts.get(id)}`)
          .join('; ')})`,
  );
  const unpriced = new Set([...realtime.unpricedModels, ...batch.unpricedModels]);
  if (unpriced.size > 0) console.log(`  WARNING: models without a default price: ${[...unpriced].join(', ')}`);
}

const problems = await loadProblems();
for (const provider of providers) {
  const bench = await startBenchServer(`batch-${provider}`);
  const endpoint = await startScriptedEndpoint({ script: problems.script, batchDurationMs });
  try {
    const inputFile = join(bench.directory, 'problems.jsonl');
    await writeFile(inputFile, problems.lines.map((line) => JSON.stringify(line)).join('\n'));
    const realtime = await runMode(bench, endpoint, provider, 'realtime', inputFile, problems.lines.length);
    const batch = await runMode(bench, endpoint, provider, 'batch', inputFile, problems.lines.length);
    report(provider, problems, realtime, batch);
  } finally {
    await endpoint.close();
    await bench.server.stop();
  }
}
