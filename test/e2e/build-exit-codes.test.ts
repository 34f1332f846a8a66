import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startScriptedEndpoint, type ScriptedEndpoint } from '../../scripted/server.ts';
import { createCliSandbox, writeProblemsFile, type CliSandbox } from '../helpers/cli.ts';

describe('scigen build exit codes', () => {
  let endpoint: ScriptedEndpoint;
  let sandbox: CliSandbox;

  beforeAll(async () => {
    // Every request of every problem is refused as a bad key would be.
    endpoint = await startScriptedEndpoint({
      script: {
        problems: { '*': { classify: { fault: { status: 401, message: 'Incorrect API key provided.', times: 100 } } } },
      },
    });
    sandbox = await createCliSandbox('exit-codes', {
      OPENAI_API_KEY: 'sk-test-not-a-real-key',
      OPENAI_BASE_URL: endpoint.openAiBaseUrl,
    });
  });
  afterAll(async () => {
    await endpoint?.close();
  });

  it('exits 3 when every problem failed, naming the most frequent reason with its count', async () => {
    const inputFile = await writeProblemsFile(
      'exit-codes-input',
      ['a', 'b', 'c'].map((id) => ({ id, question: `Draw a right triangle with legs 3 cm and 4 cm (${id}).` })),
    );
    const result = await sandbox.run(['build', inputFile, '--build-id', 'all-failed', '--no-progress', '--json']);
    expect(result.exitCode, result.all).toBe(3);
    expect(result.stderr).toContain('3 × classify: invalid API key for openai (401)');
    expect(result.stderr).toContain('build all-failed finished with no evaluated image');
    // --json: the summary is still the last stdout line.
    const summary = JSON.parse(result.stdout.trim().split('\n').at(-1)!) as { verdicts: Record<string, number> };
    expect(summary.verdicts.failed).toBe(3);
    expect(endpoint.count({ step: 'classify', doctor: false })).toBe(3);
  });
});
