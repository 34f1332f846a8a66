// npm run bench:ratelimit [-- --rpm 600 --minutes 1.5 --configured-share 0.95]
//
// A provider that admits N requests per minute and answers 429 beyond it (the scripted endpoint's
// sliding one-minute window, Retry-After included), under a real `scigen build` with in-process
// workers. Prints the requests per minute achieved as a share of N and the share answered 429.
// Target: at least 90 % of N with at most 1 % 429s, with requestsPerMinute configured a little
// below N as the README advises. `--configured-share 1.5` shows what an over-set limit costs.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startScriptedEndpoint } from '../scripted/server.ts';
import { readBenchManifest, runBenchBuild, startBenchServer } from './bench-build.ts';

const TARGET_SHARE_OF_LIMIT = 0.9;
const TARGET_SHARE_429 = 0.01;

const { values } = parseArgs({
  options: {
    rpm: { type: 'string', default: '600' },
    minutes: { type: 'string', default: '1.5' },
    'configured-share': { type: 'string', default: '0.95' },
    window: { type: 'string', default: '100' },
  },
});
const limit = Number(values.rpm);
const minutes = Number(values.minutes);
const configuredShare = Number(values['configured-share']);
const windowSize = Number(values.window);
if (![limit, minutes, configuredShare, windowSize].every((value) => Number.isFinite(value) && value > 0)) {
  console.error(
    'usage: npm run bench:ratelimit -- [--rpm 600] [--minutes 1.5] [--configured-share 0.95] [--window 100]',
  );
  process.exit(2);
}

const bench = await startBenchServer('ratelimit');
const { directory, server } = bench;
// Twelve model calls per problem and no render: classify, plan, then code and nine repairs that
// never hold a python block (the workflow asks again without rendering). Model calls, not the
// per-problem machinery of the build or rendering, then set the pace.
const RENDER_ATTEMPTS = 10;
const CALLS_PER_PROBLEM = 2 + RENDER_ATTEMPTS;
const endpoint = await startScriptedEndpoint({
  script: {
    problems: {
      '*': {
        classify:
          '{"visualizable": true, "reason": "a setup", "subject": "Physics", "image_type": "Physics - Mechanical"}',
        plan: '{"content": ["a ball"], "layout": ["centre"], "labels": ["m"], "constraints": ["no answer"]}',
        code: 'I would draw a ball on a string.',
        repair: 'Still only a description of the ball.',
      },
    },
  },
  requestsPerMinute: limit,
});

let exitCode = 0;
try {
  const problemCount = Math.ceil((limit * minutes) / CALLS_PER_PROBLEM);
  const inputFile = join(directory, 'problems.jsonl');
  await writeFile(
    inputFile,
    Array.from({ length: problemCount }, (_, index) =>
      JSON.stringify({ id: `r${index}`, question: `A ball hangs from a string (${index}). Draw it.` }),
    ).join('\n'),
  );
  const configFile = join(directory, 'config.json');
  const configuredRpm = Math.round(limit * configuredShare);
  await writeFile(
    configFile,
    JSON.stringify({
      openai: { requestsPerMinute: configuredRpm },
      workers: { llmConcurrency: 64 },
      render: { maxAttempts: RENDER_ATTEMPTS },
    }),
  );

  console.log(
    `provider limit N = ${limit} requests/min; scigen configured at ${configuredRpm}/min; ${problemCount} problems of ${CALLS_PER_PROBLEM} model calls, window ${windowSize}`,
  );
  const build = await runBenchBuild({
    bench,
    endpoint,
    inputFile,
    buildId: 'bench-ratelimit',
    windowSize,
    configFile,
    environment: { SCIGEN_PROVIDER: 'openai' },
  });
  if (build.exitCode !== 0) throw new Error(`scigen build failed (${build.exitCode}):\n${build.all}`);
  const manifest = await readBenchManifest(bench, 'bench-ratelimit');
  const failed = manifest.filter((line) => (JSON.parse(line) as { verdict: string }).verdict === 'failed').length;

  const modelRequests = endpoint.requests.filter((entry) => entry.protocol === 'openai');
  const admitted = modelRequests.filter((entry) => entry.status === 200).map((entry) => Date.parse(entry.at));
  const limited = modelRequests.filter((entry) => entry.rateLimited).length;
  const spanMinutes = (Math.max(...admitted) - Math.min(...admitted)) / 60_000;
  const achievedRpm = (admitted.length - 1) / spanMinutes;
  // The busiest minute the provider saw: how close the build came to the limit without passing it.
  let busiestMinute = 0;
  for (let start = 0, end = 0; end < admitted.length; end++) {
    while (admitted[end]! - admitted[start]! >= 60_000) start++;
    busiestMinute = Math.max(busiestMinute, end - start + 1);
  }
  // As the provider counts: the mean number answered in the 60-s windows that fit inside the run.
  const windowCounts: number[] = [];
  for (let start = 0, end = 0; start < admitted.length && admitted[start]! + 60_000 <= admitted.at(-1)!; start++) {
    while (end < admitted.length && admitted[end]! < admitted[start]! + 60_000) end++;
    windowCounts.push(end - start);
  }
  const meanWindow = windowCounts.length
    ? windowCounts.reduce((sum, count) => sum + count, 0) / windowCounts.length
    : Number.NaN;
  const shareOfLimit = achievedRpm / limit;
  const share429 = limited / modelRequests.length;

  console.log(`problems finished:   ${manifest.length} (${failed} failed as scripted: no script in any answer)`);
  console.log(`model requests:      ${modelRequests.length} (${admitted.length} answered, ${limited} answered 429)`);
  console.log(`over:                ${(spanMinutes * 60).toFixed(1)} s from the first answered request to the last`);
  console.log(
    `achieved:            ${achievedRpm.toFixed(1)} requests/min over the run = ${(shareOfLimit * 100).toFixed(1)} % of N (target >= ${TARGET_SHARE_OF_LIMIT * 100} %)`,
  );
  console.log(
    `per 60-s window:     mean ${meanWindow.toFixed(1)}, busiest ${busiestMinute} answered requests (N = ${limit})`,
  );
  console.log(
    `429 share:           ${(share429 * 100).toFixed(2)} % of requests (target <= ${TARGET_SHARE_429 * 100} %)`,
  );
  const met = shareOfLimit >= TARGET_SHARE_OF_LIMIT && share429 <= TARGET_SHARE_429 && manifest.length === problemCount;
  console.log(met ? 'target met' : 'target NOT met');
  if (!met) exitCode = 1;
} finally {
  await endpoint.close();
  await server.stop();
}
process.exit(exitCode);
