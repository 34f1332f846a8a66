import { readdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ManifestRecord } from '../../domain/manifest.ts';
import { PAGE_BYTE_BUDGET } from '../../domain/staged-pages.ts';
import { syntheticProblems, syntheticScript } from '../../scripted/synthetic.ts';
import { stagedProblemKey } from '../../storage/build-layout.ts';
import { buildWorkflowId, problemWorkflowId } from '../../workflows/definitions.ts';
import { readJsonLines, writeProblemsFile } from '../helpers/cli.ts';
import { historyPayloadTexts, workflowRunIds } from '../helpers/history.ts';
import { useTestCluster } from '../helpers/cluster.ts';

/** About 5 KB of text per problem: 300 of them staged in one page of 500 would be a 1.5 MB payload. */
const PADDING = ' Given: a long statement of the setup, its quantities and their units.'.repeat(72);

describe('a build of large problems', () => {
  const cluster = useTestCluster('large-problems', async () => ({ script: syntheticScript }));

  it('stages pages far below the payload limits, and records a problem too large to pass as invalid', async () => {
    const problems = syntheticProblems(300, 100).map((problem) => ({
      ...problem,
      question: `${problem.question}${PADDING}`,
    }));
    const huge = { id: 'huge', question: `[draw] ${'x'.repeat(300 * 1024)}` };
    const inputFile = await writeProblemsFile('large-problems', [...problems, huge]);

    // Without --skip-invalid the problem too large to pass is refused, named by line, position, id and size.
    const refused = await cluster.sandbox.run(['build', inputFile, '--no-progress']);
    expect(refused.exitCode, refused.all).toBe(2);
    expect(refused.stderr).toMatch(
      new RegExp(`${inputFile}:301: problem \\[300\\] \\(id "huge"\\): the problem is 300\\.\\d KiB serialized`),
    );

    const buildId = 'large-problems-e2e';
    const configFile = join(dirname(inputFile), 'config.json');
    await writeFile(configFile, JSON.stringify({ build: { windowSize: 32 } }));
    const result = await cluster.sandbox.run([
      'build',
      inputFile,
      '--build-id',
      buildId,
      '--config',
      configFile,
      '--skip-invalid',
      '--no-progress',
    ]);
    expect(result.exitCode, result.all).toBe(0);
    // The SDK's payload warning (TMPRL1103 "… exceeded the warning limit") and the server's refusal.
    expect(result.all).not.toMatch(/TMPRL\d+|exceeded the \w+ limit|PayloadsTooLarge|payload size/i);

    const buildFolder = join(cluster.sandbox.stateDirectory, 'artifacts', 'builds', buildId);
    const pages = (await readdir(join(buildFolder, 'input'))).sort();
    const pageTexts = await Promise.all(pages.map((page) => readFile(join(buildFolder, 'input', page), 'utf8')));
    const pageBytes = pageTexts.map((text) => Buffer.byteLength(text));
    expect(Math.max(...pageBytes)).toBeLessThanOrEqual(PAGE_BYTE_BUDGET);
    expect(pages.length).toBeGreaterThan(1);
    const description = JSON.parse(await readFile(join(buildFolder, 'input.json'), 'utf8')) as { pageCounts: number[] };
    expect(description.pageCounts).toEqual(pageTexts.map((text) => readJsonLines(text).length));

    const manifest = readJsonLines<ManifestRecord>(await readFile(join(buildFolder, 'manifest.jsonl'), 'utf8'));
    expect(manifest.filter((record) => record.verdict !== 'invalid').map((record) => record.id)).toEqual(
      problems.map((problem) => problem.id),
    );
    const invalid = manifest.filter((record) => record.verdict === 'invalid');
    expect(invalid.map((record) => record.id)).toEqual(['huge']);
    expect(JSON.stringify(invalid[0])).toContain('over the 256 KiB a problem may be');
    expect(manifest.filter((record) => record.verdict === 'accepted')).toHaveLength(3);

    // Workflow inputs and activity results carry keys, not texts: the problems' padding is in the
    // store, and in no payload of the build's history (every run) or of a problem's.
    const distinctive = 'a long statement of the setup';
    const someProblem = problems[7]!;
    const staged = await readFile(
      join(cluster.sandbox.stateDirectory, 'artifacts', stagedProblemKey({ buildId, problemKey: someProblem.id })),
      'utf8',
    );
    expect(staged).toContain(distinctive);
    const buildRuns = await workflowRunIds(cluster.client, buildWorkflowId(buildId));
    expect(buildRuns.length).toBeGreaterThan(0);
    const buildPayloads = (
      await Promise.all(buildRuns.map((runId) => historyPayloadTexts(cluster.client, buildWorkflowId(buildId), runId)))
    ).flat();
    expect(buildPayloads.some((text) => text.includes(String(someProblem.id)))).toBe(true);
    expect(buildPayloads.filter((text) => text.includes(distinctive))).toEqual([]);
    for (const problem of [problems[0]!, someProblem, problems.at(-1)!]) {
      const payloads = await historyPayloadTexts(cluster.client, problemWorkflowId(buildId, String(problem.id)));
      expect(payloads.some((text) => text.includes(String(problem.id)))).toBe(true);
      expect(payloads.filter((text) => text.includes(distinctive))).toEqual([]);
      // What the workflow branches on came back from staging as a small marker.
      expect(Math.max(...payloads.map((text) => Buffer.byteLength(text)))).toBeLessThan(8 * 1024);
    }
  }, 600_000);
});
