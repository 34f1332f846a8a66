import { existsSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { isPortListening } from '../../infra/dev-server.ts';
import { createCliSandbox, type CliSandbox } from '../helpers/cli.ts';

const good = (id: string) => JSON.stringify({ id, question: `Draw a right triangle with legs 3 cm and 4 cm (${id}).` });

describe('scigen build refuses bad input before starting anything', () => {
  let sandbox: CliSandbox;
  let directory: string;

  beforeAll(async () => {
    sandbox = await createCliSandbox('bad-input', {
      OPENAI_API_KEY: 'sk-test-not-a-real-key',
      OPENAI_BASE_URL: 'http://127.0.0.1:9/v1',
    });
    directory = await mkdtemp(join(tmpdir(), 'scigen-bad-input-'));
  });

  /** An input file that is fine, for the tests whose fault lies elsewhere. */
  async function validInputFile(): Promise<string> {
    const file = join(directory, 'ok.jsonl');
    await writeFile(file, `${good('a')}\n`);
    return file;
  }

  async function expectRefused(fileName: string, content: string, ...expectedFragments: string[]): Promise<void> {
    const file = join(directory, fileName);
    await writeFile(file, content);
    const result = await sandbox.run(['build', file, '--no-progress']);
    expect(result.exitCode, result.all).toBe(2);
    for (const fragment of expectedFragments) expect(result.stderr).toContain(fragment.replace('FILE', file));
    // Nothing was started: no dev server, no state written.
    expect(await isPortListening('127.0.0.1', sandbox.temporalPort)).toBe(false);
    expect(existsSync(join(sandbox.stateDirectory, 'artifacts'))).toBe(false);
    expect(existsSync(join(sandbox.stateDirectory, 'temporal.db'))).toBe(false);
  }

  it('a malformed JSONL line names its line', async () => {
    await expectRefused('malformed.jsonl', `${good('a')}\n{"id": "b", "question": \n${good('c')}\n`, 'FILE:2:');
  });

  it('a missing question names the line, the problem (index and id) and the field', async () => {
    await expectRefused(
      'missing.jsonl',
      `${good('a')}\n${good('b')}\n{"id": "c"}\n`,
      'FILE:3: problem [2] (id "c"): field "question"',
    );
  });

  it('a duplicate id names both lines', async () => {
    await expectRefused(
      'duplicate.jsonl',
      `${good('a')}\n${good('b')}\n${good('a')}\n`,
      'FILE:3: problem [2] (id "a"): field "id": duplicate id "a", first seen on line 1',
    );
  });

  it('an empty file is refused', async () => {
    await expectRefused('empty.jsonl', '\n\n', 'no problems found');
  });

  it('a missing file is refused', async () => {
    const result = await sandbox.run(['build', join(directory, 'absent.jsonl')]);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain('no such file');
  });

  it('an invalid config value names the field and its source', async () => {
    const file = await validInputFile();
    const fromEnvironment = await sandbox.run(['build', file], { SCIGEN_TEMPORAL_PORT: 'seventy' });
    expect(fromEnvironment.exitCode).toBe(2);
    expect(fromEnvironment.stderr).toContain('temporal.devServer.port (from env SCIGEN_TEMPORAL_PORT)');

    const configFile = join(directory, 'config.json');
    await writeFile(configFile, JSON.stringify({ policy: { minRInv: 1.5 }, render: { dpii: 100 } }));
    const fromFile = await sandbox.run(['build', file, '--config', configFile]);
    expect(fromFile.exitCode).toBe(2);
    expect(fromFile.stderr).toContain(`policy.minRInv (from ${configFile})`);
    expect(fromFile.stderr).toMatch(/render.*dpii/);
  });

  it('no API key and no --demo is a configuration error that says what to set', async () => {
    const file = await validInputFile();
    const result = await sandbox.run(['build', file], { OPENAI_API_KEY: '' });
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain('GEMINI_API_KEY or OPENAI_API_KEY');
  });
});
