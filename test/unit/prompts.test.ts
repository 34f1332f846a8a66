import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadPrompts, promptCatalogue, PromptReplacementError } from '../../activities/prompts.ts';
import { readEnvironment } from '../../config/environment.ts';
import { ConfigError, loadConfig } from '../../config/load.ts';
import { loadConfiguredPrompts } from '../../workers/runtime.ts';
import { useTemporaryDirectory } from '../helpers/temporary-directory.ts';

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** The problems a load reports, as `prompt: message` lines. */
function problemsOf(load: () => unknown): string[] {
  try {
    load();
  } catch (error) {
    if (error instanceof PromptReplacementError)
      return error.problems.map((problem) => `${problem.prompt}: ${problem.message}`);
    throw error;
  }
  throw new Error('the prompts loaded without a problem');
}

describe('prompts the user replaces', () => {
  const directory = useTemporaryDirectory('prompts');

  async function promptFile(name: string, text: string): Promise<string> {
    const file = join(directory.path, name);
    await writeFile(file, text);
    return file;
  }

  it('names each prompt and the placeholders its step fills in, read from the bundled texts', () => {
    const catalogue = Object.fromEntries(promptCatalogue().map(({ name, placeholders }) => [name, placeholders]));
    expect(catalogue['judge.user']).toEqual(['question']);
    expect(catalogue['judge.system']).toEqual([]);
    expect(catalogue['answer.user']).toEqual(['question', 'options']);
    expect(catalogue['repair.user']).toEqual(['subject', 'image_type', 'question', 'plan', 'attempt', 'code', 'error']);
    expect(loadPrompts().replaced).toEqual([]);
  });

  it('a replacement is what the step renders, and is recorded with the sha256 of its text', async () => {
    const text = 'Grade this figure for: {{question}}\nScore it 0-2 on five dimensions.\n';
    const prompts = loadPrompts({ replacements: { 'judge.user': await promptFile('judge.txt', text) } });
    expect(prompts.render('judge.user', { question: 'A 5 kg block on a 30° incline.' })).toBe(
      'Grade this figure for: A 5 kg block on a 30° incline.\nScore it 0-2 on five dimensions.',
    );
    expect(prompts.replaced).toEqual([{ name: 'judge.user', sha256: sha256(text) }]);
    // The other prompts stay the bundled ones.
    expect(prompts.render('judge.system')).toContain('Correctness_Fidelity');
  });

  it('a replacement may leave placeholders out, and an empty system prompt renders empty (no system message)', async () => {
    const prompts = loadPrompts({
      replacements: {
        'answer.user': await promptFile('answer.txt', 'Options:\n{{options}}\n'),
        'answer.system': await promptFile('empty.txt', ''),
      },
    });
    expect(prompts.render('answer.user', { question: 'Which?', options: 'A. x\nB. y' })).toBe('Options:\nA. x\nB. y');
    expect(prompts.render('answer.system')).toBe('');
  });

  it('a placeholder the step does not fill is an error naming the prompt, the file and the placeholder', async () => {
    const file = await promptFile('judge-with-answer.txt', 'Problem: {{question}}\nAnswer: {{answer}}\n');
    expect(problemsOf(() => loadPrompts({ replacements: { 'judge.user': file } }))).toEqual([
      `judge.user: ${file} uses {{answer}}, which this step does not fill in (it fills {{question}})`,
    ]);
    const spaced = await promptFile('spaced.txt', 'Problem: {{ question }}');
    expect(problemsOf(() => loadPrompts({ replacements: { 'quiz.user': spaced } }))[0]).toContain(
      'uses {{ question }}',
    );
  });

  it("a placeholder in single braces (Python's format, as other code writes prompts) is an error saying how to write it", async () => {
    const file = await promptFile('python-format.txt', 'Question: {question}\nA JSON example: {"A": 1}\n');
    expect(problemsOf(() => loadPrompts({ replacements: { 'judge.user': file } }))).toEqual([
      `judge.user: ${file} writes {question} in single braces; scigen's placeholders are written {{question}}`,
    ]);
  });

  it('a missing file and an unknown prompt name are errors naming them, all reported at once', () => {
    const missing = join(directory.path, 'nowhere', 'judge.txt');
    const problems = problemsOf(() =>
      loadPrompts({ replacements: { 'judge.user': missing, 'judge.prompt': missing } }),
    );
    expect(problems).toHaveLength(2);
    expect(problems[0]).toBe(`judge.user: cannot read ${missing}: no such file`);
    expect(problems[1]).toMatch(/^judge\.prompt: no such prompt; the prompts are classify\.system, .*judge\.user/);
  });

  it('a step that gives a value its prompt has no placeholder for is a bug caught at render', () => {
    expect(() => loadPrompts().render('judge.user', { question: 'q', answer: 'a' })).toThrow(
      'prompt judge.user has no placeholder {{answer}}',
    );
  });

  it("the config's prompt paths are relative to the config file, and a bad one is a config error", async () => {
    const configDirectory = join(directory.path, 'project');
    await mkdir(join(configDirectory, 'prompts'), { recursive: true });
    await writeFile(join(configDirectory, 'prompts', 'judge.txt'), 'Judge: {{question}} {{answer}}');
    const file = join(configDirectory, 'scigen.json');
    await writeFile(file, JSON.stringify({ prompts: { 'judge.user': './prompts/judge.txt' } }));
    const config = loadConfig({ file, environment: readEnvironment({}), baseDirectory: '/elsewhere' });
    expect(config.prompts).toEqual({ 'judge.user': join(configDirectory, 'prompts', 'judge.txt') });
    let thrown: unknown;
    try {
      loadConfiguredPrompts(config);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(ConfigError);
    expect((thrown as Error).message).toBe(
      `invalid configuration:\n  prompts.judge.user: ${join(configDirectory, 'prompts', 'judge.txt')} uses {{answer}}, ` +
        'which this step does not fill in (it fills {{question}})',
    );
  });
});
