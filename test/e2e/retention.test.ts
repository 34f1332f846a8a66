import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { Connection } from '@temporalio/client';
import { optionalTsToMs } from '@temporalio/common/lib/time.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { problemKey } from '../../domain/input.ts';
import { emptyGeneratorResult, PROBLEM_RECORD_FORMAT, type ProblemRecord } from '../../domain/problem-result.ts';
import { ZERO_USAGE } from '../../domain/types.ts';
import {
  codeVersionFiles,
  codeVersionFolder,
  planKey,
  problemRecordKey,
  type GeneratorLocation,
} from '../../storage/build-layout.ts';
import { createFileStore } from '../../storage/file-store.ts';
import { createCliSandbox, type CliSandbox } from '../helpers/cli.ts';

const dayMilliseconds = 24 * 60 * 60 * 1000;

describe('the audit trail outlives the history', () => {
  let sandbox: CliSandbox;
  let dev: ReturnType<CliSandbox['run']>;
  let devOutput = '';

  beforeAll(async () => {
    sandbox = await createCliSandbox('retention', {
      SCIGEN_RETENTION_DAYS: '45',
      // `scigen dev` insists on a provider; no model is called in this test.
      OPENAI_API_KEY: 'sk-test-not-a-real-key',
      OPENAI_BASE_URL: 'http://127.0.0.1:9/v1',
    });
    dev = sandbox.run(['dev']);
    dev.all.on('data', (chunk: Buffer) => (devOutput += chunk.toString()));
    const deadline = Date.now() + 120_000;
    while (!devOutput.includes('ready:')) {
      if (dev.exitCode !== null || Date.now() > deadline)
        throw new Error(`scigen dev did not get ready:\n${devOutput}`);
      await delay(100);
    }
  }, 150_000);

  afterAll(async () => {
    // SIGTERM: `scigen dev` stops its workers and the server it started.
    dev?.kill('SIGTERM');
    await dev;
  });

  it('starts the embedded namespace with the configured retention', async () => {
    const connection = await Connection.connect({ address: `127.0.0.1:${sandbox.temporalPort}` });
    try {
      const description = await connection.workflowService.describeNamespace({ namespace: 'default' });
      expect(optionalTsToMs(description.config?.workflowExecutionRetentionTtl)).toBe(45 * dayMilliseconds);
    } finally {
      await connection.close();
    }
  });

  it('inspects a problem whose history is gone from its stored record and artifacts', async () => {
    // A build that never ran on this server: its problem has a record but no workflow, as once retention passed.
    const buildId = 'retention-history-gone';
    const problemId = 'problem-7';
    const key = problemKey(problemId);
    const location: GeneratorLocation = { buildId, problemKey: key, generator: 'code-gpt' };
    const files = codeVersionFiles(codeVersionFolder(location, { attempt: 1 }));
    const store = createFileStore(join(sandbox.stateDirectory, 'artifacts'));
    await store.put(planKey(location), '{"plan":"a pulley and two masses"}');
    await store.put(files.script, 'import matplotlib\n');
    await store.put(files.figure(0), 'not really a png');
    const generator = emptyGeneratorResult({ name: 'code-gpt', paradigm: 'code', model: 'gpt-4.1' });
    const record: ProblemRecord = {
      format: PROBLEM_RECORD_FORMAT,
      id: problemId,
      question: 'Two masses hang over a pulley…',
      answer: null,
      referenceImageKey: null,
      extra: {},
      subject: 'Physics',
      imageType: 'diagram',
      planKey: planKey(location),
      quizKey: null,
      results: [
        { ...generator, verdict: 'accepted', imageKey: files.figure(0), codeKey: files.script, renderAttempts: 1 },
      ],
      usage: ZERO_USAGE,
    };
    await store.put(problemRecordKey(buildId, key), JSON.stringify(record));

    const result = await sandbox.run(['inspect', buildId, problemId]);
    expect(result.exitCode, result.all).toBe(0);
    expect(result.stdout).toContain(`problem ${problemId} of build ${buildId}: accepted`);
    expect(result.stdout).toContain('history no longer on the server (retention 45 days); showing the stored record');
    expect(result.stdout).toContain('render attempts: 1');
    expect(result.stdout).toMatch(/stored artifacts:\n.*diagram\.py\n.*figure-1\.png\n.*plan\.json/);

    const json = await sandbox.run(['inspect', buildId, problemId, '--json']);
    expect(json.exitCode, json.all).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({ historyGone: { retentionDays: 45 }, steps: [] });

    const missing = await sandbox.run(['inspect', buildId, 'no-such-problem']);
    expect(missing.exitCode).not.toBe(0);
    expect(missing.all).toContain('no problem "no-such-problem"');
  });
});
