// npm run bench:profile -- --problems 200 — where a problem's time goes: per task type, how long it
// waited in its task queue and how long it ran, read from the histories of a zero-latency build.
import { parseArgs } from 'node:util';
import { formatCpu, formatProfile } from './history-profile.ts';
import { runScenario } from './pipeline-harness.ts';

const { values } = parseArgs({
  options: { problems: { type: 'string', default: '200' }, window: { type: 'string', default: '64' } },
});
const result = await runScenario({
  name: 'profile',
  problems: Number(values.problems),
  drawEvery: 1,
  latencyMs: 0,
  windowSize: Number(values.window),
  profileProblems: 50,
});
console.log(
  `${result.problems} problems, every one rendered, zero model latency: ${result.buildSeconds.toFixed(1)} s, ${result.problemsPerSecond.toFixed(2)} problems/s`,
);
if (result.cpuPerProblem) console.log(formatCpu(result.cpuPerProblem));
console.log(`the last 50 problems (task queue wait, then run):\n${formatProfile(result.profile!.problems)}`);
console.log(`the build workflow's last run:\n${formatProfile(result.profile!.build)}`);
