import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { ReplacedPrompt } from '../domain/types.ts';

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

/** `{{name}}`: a value the step fills in. */
const PLACEHOLDER = /\{\{(\w+)\}\}/g;
/** Anything written in double braces, well-formed or not: double braces are reserved for placeholders. */
const DOUBLE_BRACES = /\{\{([^{}]*)\}\}/g;

/**
 * The prompt texts: the bundled ones in activities/prompts/<name>.txt, each replaceable by a file
 * of the user's (config `prompts.<name>`).
 */
export interface Prompts {
  render(name: PromptName, values?: Record<string, string>): string;
  /** The prompts a user's file replaced, by name, with the sha256 of the text used. */
  readonly replaced: readonly ReplacedPrompt[];
}

/** A replacement that cannot be used: an unknown prompt name, a missing file, a placeholder the step does not fill. */
export class PromptReplacementError extends Error {
  override readonly name = 'PromptReplacementError';
  constructor(
    /** One entry per problem found, each naming the prompt (and the file, where there is one). */
    readonly problems: ReadonlyArray<{ prompt: string; message: string }>,
  ) {
    super(problems.map((problem) => `prompts.${problem.prompt}: ${problem.message}`).join('\n'));
  }
}

export interface LoadPromptsOptions {
  /** Prompt name -> a file whose text replaces the bundled prompt (absolute, or relative to the working directory). */
  replacements?: Readonly<Record<string, string>>;
  /** @default activities/prompts/ */
  directory?: URL;
}

/** The placeholders a text uses, in order of first use. */
export function placeholdersOf(text: string): string[] {
  return [...new Set([...text.matchAll(PLACEHOLDER)].map((match) => match[1]!))];
}

/** Every prompt's name and the placeholders its step fills in (those of its bundled text). */
export function promptCatalogue(directory = bundledDirectory()): Array<{ name: PromptName; placeholders: string[] }> {
  return PROMPT_NAMES.map((name) => ({ name, placeholders: placeholdersOf(readBundled(directory, name)) }));
}

/**
 * Reads the prompts once: the bundled texts, then the replacements. A step fills in exactly the
 * placeholders its bundled text uses, so a replacement may use any of those and no other; every
 * problem with the replacements is reported at once.
 */
export function loadPrompts(options: LoadPromptsOptions = {}): Prompts {
  const directory = options.directory ?? bundledDirectory();
  const texts = new Map<PromptName, string>();
  const supplied = new Map<PromptName, Set<string>>();
  for (const name of PROMPT_NAMES) {
    const text = readBundled(directory, name);
    texts.set(name, text);
    supplied.set(name, new Set(placeholdersOf(text)));
  }

  const problems: Array<{ prompt: string; message: string }> = [];
  const replaced: ReplacedPrompt[] = [];
  for (const [prompt, file] of Object.entries(options.replacements ?? {})) {
    if (!isPromptName(prompt)) {
      problems.push({ prompt, message: `no such prompt; the prompts are ${PROMPT_NAMES.join(', ')}` });
      continue;
    }
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      const why = code === 'ENOENT' ? 'no such file' : (error as Error).message;
      problems.push({ prompt, message: `cannot read ${file}: ${why}` });
      continue;
    }
    const found = placeholderProblems(text, supplied.get(prompt)!);
    if (found.length > 0) {
      problems.push(...found.map((message) => ({ prompt, message: `${file} ${message}` })));
      continue;
    }
    texts.set(prompt, text);
    replaced.push({ name: prompt, sha256: createHash('sha256').update(text).digest('hex') });
  }
  if (problems.length > 0) throw new PromptReplacementError(problems);

  return {
    replaced,
    render(name, values = {}) {
      const template = texts.get(name);
      if (template === undefined) throw new Error(`unknown prompt ${name}`);
      // The values a step gives are its contract with replacements: exactly the bundled text's placeholders.
      for (const key of Object.keys(values)) {
        if (!supplied.get(name)!.has(key)) throw new Error(`prompt ${name} has no placeholder {{${key}}}`);
      }
      // One pass, so a value that itself contains "{{x}}" (model-written code, say) is never expanded.
      return template
        .replace(PLACEHOLDER, (_placeholder, key: string) => {
          const value = values[key];
          if (value === undefined) throw new Error(`prompt ${name} needs a value for {{${key}}}`);
          return value;
        })
        .trimEnd();
    },
  };
}

/**
 * What is wrong with a replacement's placeholders: a `{{name}}` its step does not fill, or a
 * placeholder in single braces (`{question}`, the Python format of prompts written for other
 * code), which would reach the model unfilled.
 */
function placeholderProblems(text: string, supplied: ReadonlySet<string>): string[] {
  const offered = supplied.size > 0 ? [...supplied].map((key) => `{{${key}}}`).join(', ') : 'none';
  const problems: string[] = [];
  for (const [, inside] of text.matchAll(DOUBLE_BRACES)) {
    if (!supplied.has(inside!))
      problems.push(`uses {{${inside}}}, which this step does not fill in (it fills ${offered})`);
  }
  const withoutDouble = text.replace(DOUBLE_BRACES, '');
  for (const key of supplied) {
    if (withoutDouble.includes(`{${key}}`))
      problems.push(`writes {${key}} in single braces; scigen's placeholders are written {{${key}}}`);
  }
  return [...new Set(problems)];
}

function isPromptName(name: string): name is PromptName {
  return (PROMPT_NAMES as readonly string[]).includes(name);
}

function bundledDirectory(): URL {
  return new URL('./prompts/', import.meta.url);
}

function readBundled(directory: URL, name: PromptName): string {
  return readFileSync(new URL(`${name}.txt`, directory), 'utf8');
}
