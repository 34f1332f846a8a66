import { readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { BuildSummary } from '../../domain/summary.ts';
import type { ManifestRecord } from '../../domain/manifest.ts';
import { buildWorkflowId } from '../../workflows/definitions.ts';
import { readJsonLines, writeProblemsFile } from '../helpers/cli.ts';
import { useTestCluster } from '../helpers/cluster.ts';
import { syntheticProblems, syntheticScript } from '../../scripted/synthetic.ts';

describe('a 500-problem build that continues as new several times', () => {
  const cluster = useTestCluster('scale', async () => ({ script: syntheticScript }));

  it('writes exactly one manifest line per problem with consistent totals', async () => {
    const problems = syntheticProblems(500, 25);
    const inputFile = await writeProblemsFile('scale', problems);
    const configFile = join(dirname(inputFile), 'config.json');
    // A low threshold and small pages, so 500 problems cross several runs and page boundaries.
    await writeFile(configFile, JSON.stringify({ build: { windowSize: 24, pageSize: 64, continueAsNewEvents: 400 } }));

    const buildId = 'scale-e2e';
    const result = await cluster.sandbox.run([
      'build',
      inputFile,
      '--build-id',
      buildId,
      '--config',
      configFile,
      '--json',
      '--no-progress',
    ]);
    expect(result.exitCode, result.all).toBe(0);

    const manifest = readJsonLines<ManifestRecord>(
      await readFile(join(cluster.sandbox.stateDirectory, 'artifacts', 'builds', buildId, 'manifest.jsonl'), 'utf8'),
    );
    expect(manifest.map((record) => record.id)).toEqual(problems.map((problem) => problem.id));
    const drawn = problems.filter((problem) => problem.question.startsWith('[draw]')).length;
    expect(manifest.filter((record) => record.verdict === 'accepted')).toHaveLength(drawn);
    expect(manifest.filter((record) => record.verdict === 'skipped')).toHaveLength(500 - drawn);

    const summary = JSON.parse(result.stdout.trim().split('\n').at(-1)!) as BuildSummary;
    expect(summary.problems).toBe(500);
    expect(summary.verdicts).toEqual({ accepted: drawn, rejected: 0, skipped: 500 - drawn, failed: 0, invalid: 0 });
    expect(summary.usage.input_tokens).toBe(manifest.reduce((sum, record) => sum + record.usage.input_tokens, 0));
    // Each problem asked the model exactly what its pipeline needs, once.
    expect(cluster.endpoint.count({ step: 'classify', doctor: false })).toBe(500);
    expect(cluster.endpoint.count({ step: 'answer', doctor: false })).toBe(drawn);

    const runs = [];
    for await (const execution of cluster.client.workflow.list({ query: `WorkflowId = '${buildWorkflowId(buildId)}'` }))
      runs.push(execution);
    expect(runs.length).toBeGreaterThanOrEqual(4);
  }, 600_000);
});
