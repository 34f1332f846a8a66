// npm run bench:pipeline — (a) throughput of a 500-problem build against a zero-latency scripted
// endpoint, renders included; (b) with 1 s model latency and a window of 64, achieved throughput as
// a share of the ideal window / (model calls per problem x latency). Both measured in this run.
import { formatCpu, formatProfile } from './history-profile.ts';
import { runScenario } from './pipeline-harness.ts';

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

const latencySeconds = 1;
const windowSize = 64;
const withLatency = await runScenario({
  name: 'latency',
  problems: 640,
  drawEvery: 1,
  latencyMs: latencySeconds * 1000,
  windowSize,
});
const ideal = windowSize / (withLatency.modelCallsPerFullProblem * latencySeconds);
console.log(
  `(b) ${withLatency.problems} problems, model latency ${latencySeconds} s, window ${windowSize}, ` +
    `${withLatency.modelCallsPerFullProblem.toFixed(1)} model calls per problem: ${withLatency.problemsPerSecond.toFixed(2)} problems/s ` +
    `of an ideal ${ideal.toFixed(2)} = ${((withLatency.problemsPerSecond / ideal) * 100).toFixed(1)}% (target >= 90%)`,
);
if (withLatency.cpuPerProblem) console.log(formatCpu(withLatency.cpuPerProblem));
