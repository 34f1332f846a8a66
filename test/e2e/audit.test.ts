import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { useTestCluster } from '../helpers/cluster.ts';
import { loadSampleScript } from '../helpers/samples.ts';

const PLANTED_KEY = 'sk-PLANTED-7f3c9e1d5b2a4c6e8f0a1b3c5d7e9f20';

/** Every file under a directory, as text (binary files too: a key inside a PNG would still show). */
async function* filesUnder(directory: string): AsyncIterable<{ path: string; text: string }> {
  for (const entry of await readdir(directory, { withFileTypes: true })) {
    const path = join(directory, entry.name);
    if (entry.isDirectory()) yield* filesUnder(path);
    else if (entry.isFile()) yield { path, text: (await readFile(path)).toString('latin1') };
  }
}

/** History as searchable text: payload bytes decoded, so a key inside any input or result shows. */
function historyText(history: unknown): string {
  return JSON.stringify(history, (_, value: unknown) =>
    value instanceof Uint8Array ? Buffer.from(value).toString('utf8') : value,
  );
}

describe('auditing a build: inspect, and no API key in history, artifacts or logs', () => {
  const cluster = useTestCluster('secrets', async () => ({
    script: await loadSampleScript(),
    environment: { OPENAI_API_KEY: PLANTED_KEY, SCIGEN_LOG_LEVEL: 'debug' },
  }));
  beforeAll(async () => {
    // An auth failure too, whose error paths must not echo the key either.
    cluster.endpoint.addFaults(
      { problem: 'phys-incline-block', step: 'plan' },
      { status: 401, message: `Incorrect API key provided: ${PLANTED_KEY}` },
    );
  });

  it('is absent from every workflow history of the build, every artifact and the CLI output', async () => {
    const buildId = 'secrets-e2e';
    const result = await cluster.sandbox.run([
      'build',
      'samples/problems.jsonl',
      '--build-id',
      buildId,
      '--no-progress',
    ]);
    expect(result.exitCode, result.all).toBe(0);
    expect(result.all).toContain('invalid API key for openai');
    expect(result.all).not.toContain(PLANTED_KEY);

    let histories = 0;
    for await (const execution of cluster.client.workflow.list({
      query: `WorkflowId STARTS_WITH 'build/${buildId}'`,
    })) {
      const history = await cluster.client.workflow.getHandle(execution.workflowId, execution.runId).fetchHistory();
      const text = historyText(history);
      expect(text.length).toBeGreaterThan(100);
      expect(text.includes(PLANTED_KEY), `history of ${execution.workflowId}`).toBe(false);
      histories += 1;
    }
    expect(histories).toBeGreaterThanOrEqual(17);

    let files = 0;
    for await (const file of filesUnder(join(cluster.sandbox.stateDirectory, 'artifacts'))) {
      expect(file.text.includes(PLANTED_KEY), file.path).toBe(false);
      files += 1;
    }
    expect(files).toBeGreaterThan(50);
    // The key did reach the model endpoint: it was really in use.
    expect(cluster.endpoint.count()).toBeGreaterThan(0);
  });

  it("scigen inspect tells a problem's steps, attempts, failures and artifacts from its history", async () => {
    const inspected = await cluster.sandbox.run(['inspect', 'secrets-e2e', 'chem-haber-process']);
    expect(inspected.exitCode, inspected.all).toBe(0);
    expect(inspected.stdout).toContain('problem chem-haber-process of build secrets-e2e: accepted');
    expect(inspected.stdout).toMatch(/plan\s.*2 attempts/);
    expect(inspected.stdout).toContain('earlier attempt failed: openai unavailable (503)');
    // Each activity call carries a summary, so the history reads like the pipeline.
    expect(inspected.stdout).toContain('render attempt 1');
    expect(inspected.stdout).toContain('answer 4 quizzes from the image alone');
    expect(inspected.stdout).toMatch(/record: accepted — judge: C&F 2, L&P 2, R&O 2, SP 2, E&R 2 — R_inv 1\.00/);
    expect(inspected.stdout).toMatch(/file:\/\/\S+\/problems\/chem-haber-process\/imgcoder\/attempt-1\/figure-1\.png/);

    const failed = await cluster.sandbox.run(['inspect', 'secrets-e2e', 'chem-titration-curve', '--json']);
    const inspection = JSON.parse(failed.stdout) as {
      steps: Array<{ step: string; problem: string | null }>;
      record: { verdict: string };
    };
    expect(inspection.record.verdict).toBe('failed');
    expect(inspection.steps.filter((step) => step.step === 'render').map((step) => step.problem)).toEqual([
      expect.stringContaining('AttributeError'),
      expect.stringContaining('ZeroDivisionError'),
      expect.stringContaining('ZeroDivisionError'),
    ]);

    // Visibility queries over the search attributes the problems keep current.
    const failedList = await cluster.sandbox.run(['list', 'secrets-e2e', '--verdict', 'failed', '--json']);
    expect(failedList.exitCode, failedList.all).toBe(0);
    const listed = JSON.parse(failedList.stdout) as {
      query: string;
      problems: Array<{ problem: string; verdict: string; stage: string }>;
    };
    expect(listed.query).toBe("ScigenBuildId = 'secrets-e2e' AND ScigenVerdict = 'failed'");
    expect(listed.problems.map((problem) => problem.problem).sort()).toEqual([
      'chem-titration-curve',
      'phys-incline-block',
    ]);
    expect(listed.problems.every((problem) => problem.verdict === 'failed' && problem.stage === 'done')).toBe(true);
    const physics = await cluster.sandbox.run(['list', 'secrets-e2e', '--subject', 'Physics', '--verdict', 'rejected']);
    expect(physics.stdout).toContain('phys-lens-ray-diagram');

    const missing = await cluster.sandbox.run(['inspect', 'secrets-e2e', 'no-such-problem']);
    expect(missing.exitCode).toBe(2);
    expect(missing.stderr).toContain('no problem "no-such-problem" in build secrets-e2e');
  });
});
