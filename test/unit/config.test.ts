import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { problemSettings } from '../../cli/commands/build.ts';
import { readEnvironment } from '../../config/environment.ts';
import { ConfigError, loadConfig, taskQueues } from '../../config/load.ts';
import { chooseProvider } from '../../config/provider.ts';

describe('loadConfig', () => {
  it('gives the documented defaults', () => {
    const config = loadConfig({ environment: readEnvironment({}), baseDirectory: '/work/project' });
    expect(config.provider).toBe('auto');
    expect(config.policy).toEqual({ minEachDimension: 1, minCorrectnessFidelity: 2, minRInv: 0.75 });
    expect(config.render).toMatchObject({ dpi: 150, timeoutSeconds: 20, maxAttempts: 3 });
    expect(config.temporal.devServer).toEqual({ port: 7233, uiPort: 8233 });
    expect(config.stateDirectory).toBe('/work/project/.scigen');
    expect(config.artifacts).toBe('file:///work/project/.scigen/artifacts');
    expect(taskQueues(config)).toEqual({ workflows: 'scigen-workflows', render: 'scigen-render' });
  });

  it('reads structuredOutput as a mode, auto by default, and the booleans of older configs as json_schema / prompt', () => {
    const load = (explicit: Record<string, unknown>) =>
      loadConfig({ explicit, environment: readEnvironment({}), baseDirectory: '/work/project' });
    expect(load({}).openai.structuredOutput).toBe('auto');
    expect(load({}).gemini.structuredOutput).toBe('auto');
    expect(load({ openai: { structuredOutput: 'json_object' } }).openai.structuredOutput).toBe('json_object');
    expect(load({ openai: { structuredOutput: true } }).openai.structuredOutput).toBe('json_schema');
    expect(load({ gemini: { structuredOutput: false } }).gemini.structuredOutput).toBe('prompt');
    expect(() => load({ openai: { structuredOutput: 'grammar' } })).toThrow(/openai\.structuredOutput/);
  });

  it('applies explicit value > file > environment > default', async () => {
    const directory = await mkdtemp(join(tmpdir(), 'scigen-config-'));
    const file = join(directory, 'config.json');
    await writeFile(file, JSON.stringify({ build: { windowSize: 8 }, render: { dpi: 200 } }));
    const config = loadConfig({
      file,
      explicit: { build: { windowSize: 3 } },
      environment: readEnvironment({
        SCIGEN_WINDOW_SIZE: '5',
        SCIGEN_TEMPORAL_PORT: '7999',
        SCIGEN_ARTIFACTS: 's3://bucket/prefix',
        OPENAI_BASE_URL: 'http://127.0.0.1:1/v1',
      }),
      baseDirectory: directory,
    });
    expect(config.build.windowSize).toBe(3);
    expect(config.render.dpi).toBe(200);
    expect(config.temporal.devServer.port).toBe(7999);
    expect(config.artifacts).toBe('s3://bucket/prefix');
    expect(config.openai.baseUrl).toBe('http://127.0.0.1:1/v1');
  });

  it('carries the API keys from the environment only, where printing the config does not show them', () => {
    const config = loadConfig({
      environment: readEnvironment({
        GOOGLE_API_KEY: 'AIza-google-key',
        OPENAI_API_KEY: ' sk-openai-key ',
        TEMPORAL_API_KEY: '',
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318',
      }),
    });
    expect(config.credentials).toEqual({ geminiApiKey: 'AIza-google-key', openAiApiKey: 'sk-openai-key' });
    expect(JSON.stringify(config)).not.toMatch(/google-key|openai-key/);
    expect(Object.keys(config)).not.toContain('credentials');
    expect(config.telemetry.otlpEndpoint).toBe('http://collector:4318');
    expect(readEnvironment({ GEMINI_API_KEY: 'gemini', GOOGLE_API_KEY: 'google' }).credentials.geminiApiKey).toBe(
      'gemini',
    );
  });

  it('resolves a references folder given as a path against the working directory and keeps a URI as it is', () => {
    const references = (value?: string) =>
      loadConfig({
        environment: readEnvironment({}),
        baseDirectory: '/work/project',
        ...(value === undefined ? {} : { explicit: { input: { references: value } } }),
      }).input.references;
    expect(references()).toBeUndefined();
    expect(references('data/seephys_images')).toBe('/work/project/data/seephys_images');
    expect(references('/data/images')).toBe('/data/images');
    expect(references('s3://bench/seephys_images')).toBe('s3://bench/seephys_images');
    expect(references('file:///data/images')).toBe('file:///data/images');
    expect(() => references('  ')).toThrow(/input\.references/);
  });

  it('addresses S3 buckets by path when the AWS SDK is pointed at an S3-compatible endpoint', () => {
    const load = (variables: Record<string, string>) =>
      loadConfig({ environment: readEnvironment(variables), baseDirectory: '/work/project' }).s3PathStyle;
    expect(load({})).toBe(false);
    expect(load({ AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:9000' })).toBe(true);
    expect(load({ AWS_ENDPOINT_URL: 'http://127.0.0.1:9000' })).toBe(true);
    expect(load({ AWS_ENDPOINT_URL: 'http://127.0.0.1:9000', AWS_IGNORE_CONFIGURED_ENDPOINT_URLS: 'true' })).toBe(
      false,
    );
  });

  it('names the field, its source and the reason for an invalid value', async () => {
    expect(() => loadConfig({ environment: readEnvironment({ SCIGEN_TEMPORAL_PORT: 'seventy' }) })).toThrow(
      /temporal\.devServer\.port \(from env SCIGEN_TEMPORAL_PORT\): .*number/,
    );
    expect(() => loadConfig({ environment: readEnvironment({ SCIGEN_PROVIDER: 'claude' }) })).toThrow(
      /provider \(from env SCIGEN_PROVIDER\)/,
    );
    const directory = await mkdtemp(join(tmpdir(), 'scigen-config-'));
    const file = join(directory, 'config.json');
    await writeFile(file, JSON.stringify({ policy: { minRInv: 2 }, temporal: { taskQueuePrefix: 'has space' } }));
    let message = '';
    try {
      loadConfig({ file, environment: readEnvironment({}) });
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
    expect(() => loadConfig({ file, environment: readEnvironment({}) })).toThrow(/render.*dpii/);
  });

  it('reports an unreadable or non-JSON config file', async () => {
    const directory = await mkdtemp(join(tmpdir(), 'scigen-config-'));
    const file = join(directory, 'config.json');
    await writeFile(file, '{ not json');
    expect(() => loadConfig({ file, environment: readEnvironment({}) })).toThrow(/is not valid JSON/);
    expect(() => loadConfig({ file: join(directory, 'absent.json'), environment: readEnvironment({}) })).toThrow(
      /cannot read config file/,
    );
  });
});

describe('the documented generator configs', () => {
  const repositoryRoot = join(import.meta.dirname, '..', '..');

  /** The JSON blocks of the README's "Comparing generators" section. */
  async function readmeExamples(): Promise<Array<Record<string, unknown>>> {
    const readme = await readFile(join(repositoryRoot, 'README.md'), 'utf8');
    const section = readme.split('\n## Comparing generators\n')[1]!.split('\n## ')[0]!;
    return [...section.matchAll(/```json\n([\s\S]*?)```/g)].map(
      (match) => JSON.parse(match[1]!) as Record<string, unknown>,
    );
  }

  it('README examples load and resolve each generator to a model of their provider', async () => {
    const examples = await readmeExamples();
    expect(examples.map((example) => example['provider'])).toEqual(['openai', 'gemini', 'gemini']);
    const resolved = examples.map((example) => {
      const config = loadConfig({ explicit: example, environment: readEnvironment({}) });
      const settings = problemSettings(config, chooseProvider(config, { allowScripted: false }));
      expect(settings.refinementRounds).toBe(1);
      expect(settings.provider).toBe(example['provider']);
      return settings.generators!.map((generator) => [generator.paradigm, generator.model]);
    });
    expect(resolved).toEqual([
      [
        ['code', 'gpt-4.1'],
        ['code', 'gpt-4.1-mini'],
        ['pixel', 'gpt-image-1'],
      ],
      [
        ['code', 'gemini-2.5-pro'],
        ['pixel', 'gemini-2.5-flash-image'],
      ],
      [
        ['code', 'gemini-2.5-pro'],
        ['external', 'external'],
        ['external', 'external'],
        ['pixel', 'stable-diffusion-3.5'],
      ],
    ]);
  });

  it('gives a code generator without a model the configured repair and refine models; one that names its model, none', () => {
    const models = { classify: 'c', plan: 'p', code: 'coder', repair: 'repairer', judge: 'j', quiz: 'q', answer: 'a' };
    const generators = [
      { name: 'default', paradigm: 'code' },
      { name: 'named', paradigm: 'code', model: 'own' },
      { name: 'picture', paradigm: 'pixel' },
    ];
    const settingsWith = (refine?: string) =>
      problemSettings(
        loadConfig({
          explicit: { openai: { models: { ...models, ...(refine ? { refine } : {}) } }, generators },
          environment: readEnvironment({}),
        }),
        'openai',
      ).generators!;
    expect(settingsWith('refiner')).toEqual([
      {
        name: 'default',
        paradigm: 'code',
        model: 'coder',
        revisionModels: { repair: 'repairer', refine: 'refiner' },
      },
      { name: 'named', paradigm: 'code', model: 'own' },
      { name: 'picture', paradigm: 'pixel', model: 'gpt-image-1' },
    ]);
    // Without models.refine, refinement asks the repair model.
    expect(settingsWith()[0]!.revisionModels).toEqual({ repair: 'repairer', refine: 'repairer' });
  });

  it('samples/compare-generators.json names a code and a pixel generator with one refinement round', () => {
    const config = loadConfig({
      file: join(repositoryRoot, 'samples', 'compare-generators.json'),
      environment: readEnvironment({}),
    });
    expect(config.generators.map((generator) => generator.paradigm)).toEqual(['code', 'pixel']);
    expect(config.generators[0]!.name).toBe('imgcoder');
    expect(config.refinement.rounds).toBe(1);
  });
});

describe('external generators and pixel generators on their own server', () => {
  /** The config's error lines, or [] when it loads. */
  function errorsOf(generators: unknown[]): string[] {
    try {
      loadConfig({ explicit: { generators }, environment: readEnvironment({}) });
      return [];
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      return error.message.split('\n').slice(1);
    }
  }

  it('an external generator needs images and takes no model; images and baseUrl belong to their paradigms', () => {
    expect(errorsOf([{ name: 'flux', paradigm: 'external', model: 'flux-2' }])).toEqual([
      '  generators.0 (from command line): an external generator needs `images`: a folder of <id>.png|jpg|jpeg|webp, or a URI template with {id}',
      '  generators.0.model (from command line): an external generator calls no model; drop `model` (its `name` labels it in the leaderboard)',
    ]);
    expect(
      errorsOf([
        { name: 'imgcoder', paradigm: 'code', images: '/data/run', baseUrl: 'http://127.0.0.1:8000/v1' },
        { name: 'flux', paradigm: 'external', images: '/data/run', baseUrl: 'http://127.0.0.1:8000/v1' },
      ]),
    ).toEqual([
      '  generators.0.images (from command line): only an external generator takes `images`',
      '  generators.0.baseUrl (from command line): only a pixel generator takes `baseUrl`',
      '  generators.1.baseUrl (from command line): only a pixel generator takes `baseUrl`',
    ]);
    expect(errorsOf([{ name: 'sd', paradigm: 'pixel', baseUrl: 'not a url' }])[0]).toMatch(
      /^ {2}generators\.0\.baseUrl/,
    );
  });

  it('a relative images folder is relative to the config file; file:// becomes a path; s3:// and {id} stay as written', async () => {
    const directory = await mkdtemp(join(tmpdir(), 'scigen-config-'));
    const file = join(directory, 'config.json');
    await writeFile(
      file,
      JSON.stringify({
        generators: [
          { name: 'local', paradigm: 'external', images: 'runs/flux' },
          { name: 'file-uri', paradigm: 'external', images: 'file:///data/run7/{id}.png' },
          { name: 'bucket', paradigm: 'external', images: 's3://bucket/run7/{id}.webp' },
          { name: 'own-server', paradigm: 'pixel', model: 'sd-3.5', baseUrl: 'http://127.0.0.1:7860/v1' },
        ],
      }),
    );
    const config = loadConfig({ file, environment: readEnvironment({}), baseDirectory: '/elsewhere' });
    expect(config.generators.map((generator) => generator.images)).toEqual([
      join(directory, 'runs', 'flux'),
      '/data/run7/{id}.png',
      's3://bucket/run7/{id}.webp',
      undefined,
    ]);
    expect(problemSettings(config, 'gemini').generators).toEqual([
      { name: 'local', paradigm: 'external', model: 'external', images: join(directory, 'runs', 'flux') },
      { name: 'file-uri', paradigm: 'external', model: 'external', images: '/data/run7/{id}.png' },
      { name: 'bucket', paradigm: 'external', model: 'external', images: 's3://bucket/run7/{id}.webp' },
      { name: 'own-server', paradigm: 'pixel', model: 'sd-3.5', baseUrl: 'http://127.0.0.1:7860/v1' },
    ]);
  });
});
