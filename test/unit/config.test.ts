import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, taskQueues } from '../../config/load.ts';

describe('loadConfig', () => {
  it('gives the documented defaults', () => {
    const config = loadConfig({ environment: {}, baseDirectory: '/work/project' });
    expect(config.provider).toBe('auto');
    expect(config.policy).toEqual({ minEachDimension: 1, minCorrectnessFidelity: 2, minRInv: 0.75 });
    expect(config.render).toMatchObject({ dpi: 150, timeoutSeconds: 20, maxAttempts: 3 });
    expect(config.temporal.devServer).toEqual({ port: 7233, uiPort: 8233 });
    expect(config.stateDirectory).toBe('/work/project/.scigen');
    expect(config.artifacts).toBe('file:///work/project/.scigen/artifacts');
    expect(taskQueues(config)).toEqual({ workflows: 'scigen-workflows', render: 'scigen-render' });
  });

  it('applies explicit value > file > environment > default', async () => {
    const directory = await mkdtemp(join(tmpdir(), 'scigen-config-'));
    const file = join(directory, 'config.json');
    await writeFile(file, JSON.stringify({ build: { windowSize: 8 }, render: { dpi: 200 } }));
    const config = loadConfig({
      file,
      explicit: { build: { windowSize: 3 } },
      environment: { SCIGEN_WINDOW_SIZE: '5', SCIGEN_TEMPORAL_PORT: '7999', SCIGEN_ARTIFACTS: 's3://bucket/prefix', OPENAI_BASE_URL: 'http://127.0.0.1:1/v1' },
      baseDirectory: directory,
    });
    expect(config.build.windowSize).toBe(3);
    expect(config.render.dpi).toBe(200);
    expect(config.temporal.devServer.port).toBe(7999);
    expect(config.artifacts).toBe('s3://bucket/prefix');
    expect(config.openai.baseUrl).toBe('http://127.0.0.1:1/v1');
  });

  it('names the field, its source and the reason for an invalid value', async () => {
    expect(() => loadConfig({ environment: { SCIGEN_TEMPORAL_PORT: 'seventy' } })).toThrow(/temporal\.devServer\.port \(from env SCIGEN_TEMPORAL_PORT\): .*number/);
    expect(() => loadConfig({ environment: { SCIGEN_PROVIDER: 'claude' } })).toThrow(/provider \(from env SCIGEN_PROVIDER\)/);
    const directory = await mkdtemp(join(tmpdir(), 'scigen-config-'));
    const file = join(directory, 'config.json');
    await writeFile(file, JSON.stringify({ policy: { minRInv: 2 }, temporal: { taskQueuePrefix: 'has space' } }));
    let message = '';
    try {
      loadConfig({ file, environment: {} });
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      message = (error as Error).message;
    }
    expect(message).toContain(`policy.minRInv (from ${file})`);
    expect(message).toContain(`temporal.taskQueuePrefix (from ${file}): letters, digits`);
  });

  it('rejects unknown fields, which are usually typos', async () => {
    const directory = await mkdtemp(join(tmpdir(), 'scigen-config-'));
    const file = join(directory, 'config.json');
    await writeFile(file, JSON.stringify({ render: { dpii: 100 } }));
    expect(() => loadConfig({ file, environment: {} })).toThrow(/render.*dpii/);
  });

  it('reports an unreadable or non-JSON config file', async () => {
    const directory = await mkdtemp(join(tmpdir(), 'scigen-config-'));
    const file = join(directory, 'config.json');
    await writeFile(file, '{ not json');
    expect(() => loadConfig({ file, environment: {} })).toThrow(/is not valid JSON/);
    expect(() => loadConfig({ file: join(directory, 'absent.json'), environment: {} })).toThrow(/cannot read config file/);
  });
});
