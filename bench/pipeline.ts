// npm run bench:pipeline — (a) throughput of a 500-problem build against a zero-latency scripted
// endpoint, renders included; (b) with 1 s model latency and a window of 64 and (c) with 4 s and a
// window of 256, achieved throughput as a share of the ideal window / (model calls per problem x
// latency). All measured in this run; `--only c` runs one of them.
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { formatCpu, formatProfile } from './history-profile.ts';
import { runScenario } from './pipeline-harness.ts';

const { values } = parseArgs({ options: { only: { type: 'string' }, latency: { type: 'string' } } });
const SCENARIOS = ['a', 'b', 'c'];
const scenarios = values.only ? values.only.split(',') : SCENARIOS;
const unknown = scenarios.filter((name) => !SCENARIOS.includes(name));
if (unknown.length > 0) throw new Error(`--only takes a, b and c (comma-separated), not ${unknown.join(', ')}`);
const latencyOverride = values.latency === undefined ? undefined : Number(values.latency);
if (latencyOverride !== undefined && !(latencyOverride > 0))
  throw new Error(`--latency takes a model latency in seconds, not ${values.latency}`);

if (scenarios.includes('a')) await zeroLatencyScenario();
// (b) and (c): with model latency, every problem in the window waits on one model call at a time,
// so the ideal rate is window / (calls per problem x latency); ten windows' worth of problems each.
if (scenarios.includes('b')) await latencyScenario('b', latencyOverride ?? 1, 64);
if (scenarios.includes('c')) await latencyScenario('c', latencyOverride ?? 4, 256);

async function zeroLatencyScenario(): Promise<void> {
  const zeroLatency = await runScenario({
    name: 'zero-latency',
    problems: 500,
    drawEvery: 1,
    latencyMs: 0,
    windowSize: 64,
    profileProblems: 50,
  });
  console.log(
    `(a) ${zeroLatency.problems} problems, every one rendered, zero model latency: ${zeroLatency.buildSeconds.toFixed(1)} s, ` +
      `${zeroLatency.problemsPerSecond.toFixed(2)} problems/s (target >= 10)`,
  );
  if (zeroLatency.cpuPerProblem) console.log(formatCpu(zeroLatency.cpuPerProblem));
  if (zeroLatency.profile) {
    console.log(
      `    where the last 50 problems' time went (task queue wait, then run):\n${formatProfile(zeroLatency.profile.problems)}`,
    );
    console.log(`    the build workflow's last run:\n${formatProfile(zeroLatency.profile.build)}`);
  }
}

async function latencyScenario(label: string, latencySeconds: number, windowSize: number): Promise<void> {
  const result = await runScenario({
    name: `latency-${label}`,
    problems: windowSize * 10,
    drawEvery: 1,
    latencyMs: latencySeconds * 1000,
    windowSize,
  });
  const ideal = windowSize / (result.modelCallsPerFullProblem * latencySeconds);
  console.log(
    `(${label}) ${result.problems} problems, model latency ${latencySeconds} s, window ${windowSize}, ` +
      `${result.modelCallsPerFullProblem.toFixed(1)} model calls per problem: ${result.problemsPerSecond.toFixed(2)} problems/s ` +
      `of an ideal ${ideal.toFixed(2)} = ${((result.problemsPerSecond / ideal) * 100).toFixed(1)}% (target >= 90%)`,
  );
  if (result.cpuPerProblem) {
    console.log(formatCpu(result.cpuPerProblem));
    // What this machine's cores can do at that CPU per problem, whatever the window: when it is below
    // the window's ideal, the build is CPU-bound and the window cannot be what limits it.
    const cores = availableParallelism();
    const cpuBound = (cores * 1000) / result.cpuPerProblem.total;
    console.log(
      `    CPU bound on ${cores} cores: ${cpuBound.toFixed(2)} problems/s; achieved = ` +
        `${((result.problemsPerSecond / Math.min(ideal, cpuBound)) * 100).toFixed(1)}% of the lower of the two ideals`,
    );
  }
}
