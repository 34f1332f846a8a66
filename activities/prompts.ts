import { readFileSync } from 'node:fs';

const PROMPT_NAMES = [
  'classify.system',
  'classify.user',
  'plan.system',
  'plan.user',
  'code.system',
  'code.user',
  'repair.user',
  'refine.user',
  'image.user',
  'judge.system',
  'judge.user',
  'quiz.system',
  'quiz.user',
  'answer.system',
  'answer.user',
  'visual-answer.system',
  'visual-answer.user',
  'grade.system',
  'grade.user',
] as const;
export type PromptName = (typeof PROMPT_NAMES)[number];

/** The prompt texts, read once from activities/prompts/*.txt. */
export interface Prompts {
  render(name: PromptName, values?: Record<string, string>): string;
}

export function loadPrompts(directory = new URL('./prompts/', import.meta.url)): Prompts {
  const texts = new Map<PromptName, string>();
  for (const name of PROMPT_NAMES) texts.set(name, readFileSync(new URL(`${name}.txt`, directory), 'utf8'));
  return {
    render(name, values = {}) {
      const template = texts.get(name);
      if (template === undefined) throw new Error(`unknown prompt ${name}`);
      // One pass, so a value that itself contains "{{x}}" (model-written code, say) is never expanded.
      return template
        .replace(/\{\{(\w+)\}\}/g, (_placeholder, key: string) => {
          const value = values[key];
          if (value === undefined) throw new Error(`prompt ${name} needs a value for {{${key}}}`);
          return value;
        })
        .trimEnd();
    },
  };
}
