import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { findFreePort } from '../../infra/dev-server.ts';
import { createCliSandbox, readJsonLines } from '../helpers/cli.ts';

interface Span {
  name: string;
  traceId: string;
  service: string;
  attributes: Record<string, unknown>;
}

describe('observability: OpenTelemetry spans, structured logs, worker metrics', () => {
  it('a build traced to a file, logged as JSON, with metrics served while it runs', async () => {
    const metricsPort = await findFreePort();
    const sandbox = await createCliSandbox('observability', { SCIGEN_PROVIDER: 'scripted' });
    const traceFile = join(sandbox.stateDirectory, 'spans.jsonl');
    const build = sandbox.run(['build', 'samples/scigenbench.json', '--build-id', 'observed', '--no-progress'], {
      SCIGEN_TRACE_FILE: traceFile,
      SCIGEN_LOG_FORMAT: 'json',
      SCIGEN_LOG_LEVEL: 'info',
      SCIGEN_METRICS_ADDRESS: `127.0.0.1:${metricsPort}`,
    });

    let metrics = '';
    let finished = false;
    void build.then(() => {
      finished = true;
    });
    while (!finished && !metrics.includes('temporal_')) {
      metrics = await fetch(`http://127.0.0.1:${metricsPort}/metrics`).then(
        (response) => response.text(),
        () => '',
      );
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    const result = await build;
    expect(result.exitCode, result.all).toBe(0);
    expect(metrics).toMatch(/temporal_\w+/);
    expect(result.stdout).toContain('tracing: OpenTelemetry spans to');

    const spans = readJsonLines<Span>(await readFile(traceFile, 'utf8'));
    const names = new Set(spans.map((span) => span.name));
    for (const expected of [
      'RunWorkflow:datasetBuildWorkflow',
      'RunWorkflow:problemWorkflow',
      'RunActivity:classifyProblem',
      'RunActivity:renderDiagram',
      'RunActivity:judgeImage',
    ]) {
      expect(names, expected).toContain(expected);
    }
    // Workflow and activity spans of a problem share its trace.
    const classify = spans.find((span) => span.name === 'RunActivity:classifyProblem')!;
    expect(spans.filter((span) => span.traceId === classify.traceId).map((span) => span.name)).toContain(
      'RunWorkflow:problemWorkflow',
    );

    const logs = result.stderr
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    const modelCall = logs.find(
      (record) => record['message'] === 'model call' && record['activityType'] === 'judgeImage',
    );
    expect(modelCall).toMatchObject({
      level: 'info',
      buildId: 'observed',
      step: 'judge',
      taskQueue: expect.any(String),
    });
    expect(modelCall!['problemKey']).toMatch(/^(2001|sgb-wire-field)$/);
    expect(modelCall!['workflowId']).toBe(`build/observed/problem/${String(modelCall!['problemKey'])}`);
    expect(modelCall!['activityId']).toEqual(expect.any(String));
    const recorded = logs.filter((record) => record['message'] === 'problem recorded');
    expect(recorded.map((record) => record['verdict'])).toEqual(['accepted', 'accepted']);
  });
});
