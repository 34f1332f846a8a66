import { describe, expect, it } from 'vitest';
import { problemSettings } from '../../cli/commands/build.ts';
import { readEnvironment } from '../../config/environment.ts';
import { ConfigError, loadConfig } from '../../config/load.ts';
import { protocolSettings } from '../../domain/protocol.ts';
import { stepModel } from '../../activities/model-call.ts';

const environment = readEnvironment({});

describe('protocolSettings', () => {
  it('scigenbench fixes what the benchmark does, whatever the config says', () => {
    expect(protocolSettings({ protocol: 'scigenbench', refinementRounds: 2, dpi: 150, visualAnswer: false })).toEqual({
      name: 'scigenbench',
      settings: {
        skipNotVisualizable: false,
        refinementRounds: 0,
        dpi: 100,
        figureInches: { width: 6, height: 6 },
        visualAnswer: true,
      },
    });
  });

  it("dataset takes the config's refinement, dpi and VE switch", () => {
    expect(protocolSettings({ protocol: 'dataset', refinementRounds: 2, dpi: 150, visualAnswer: true })).toEqual({
      name: 'dataset',
      settings: { skipNotVisualizable: true, refinementRounds: 2, dpi: 150, figureInches: null, visualAnswer: true },
    });
  });
});

describe('the protocol in the config and the build settings', () => {
  it('defaults to the dataset protocol without VE: the settings of before', () => {
    const config = loadConfig({ environment });
    expect(config.protocol).toBe('dataset');
    expect(config.ve).toBe(false);
    const settings = problemSettings(config, 'openai');
    expect(settings.refinementRounds).toBe(1);
    expect(settings.dpi).toBe(150);
    expect(settings.protocol?.settings).toMatchObject({ skipNotVisualizable: true, visualAnswer: false });
  });

  it('--protocol scigenbench overrides refinement and dpi in what each problem is given', () => {
    const config = loadConfig({
      environment,
      explicit: { protocol: 'scigenbench', refinement: { rounds: 3 }, render: { dpi: 200 } },
    });
    const settings = problemSettings(config, 'gemini');
    expect(settings.refinementRounds).toBe(0);
    expect(settings.dpi).toBe(100);
    expect(settings.protocol).toEqual(
      protocolSettings({ protocol: 'scigenbench', refinementRounds: 0, dpi: 100, visualAnswer: false }),
    );
  });

  it('refuses an unknown protocol, naming the field', () => {
    expect(() => loadConfig({ environment, explicit: { protocol: 'paper' } })).toThrow(ConfigError);
    expect(() => loadConfig({ environment, explicit: { protocol: 'paper' } })).toThrow(/protocol/);
  });
});

describe('the models of the VE steps', () => {
  it('fall back to the answer model (visual-answer) and the quiz model (grade) unless named', () => {
    const config = loadConfig({ environment });
    expect(stepModel(config.openai, 'visual-answer')).toBe('gpt-4.1-mini');
    expect(stepModel(config.gemini, 'grade')).toBe('gemini-2.5-flash');
    const named = loadConfig({
      environment,
      explicit: {
        openai: {
          models: {
            classify: 'c',
            plan: 'p',
            code: 'k',
            repair: 'r',
            judge: 'j',
            quiz: 'q',
            answer: 'a',
            visualAnswer: 'vision-x',
            grade: 'text-y',
          },
        },
      },
    });
    expect(stepModel(named.openai, 'visual-answer')).toBe('vision-x');
    expect(stepModel(named.openai, 'grade')).toBe('text-y');
    expect(stepModel(named.openai, 'answer')).toBe('a');
  });
});
