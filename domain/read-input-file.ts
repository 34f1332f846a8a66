/**
 * Reads a problem file and validates it. The one domain/ file that touches the file system, so
 * workflow code must never import it.
 */
import { readFile, stat } from 'node:fs/promises';
import { parseProblemsText } from './input.ts';
import type { ParsedProblems } from './input.ts';

function fileProblem(error: unknown): string {
  const code = typeof error === 'object' && error !== null && 'code' in error ? String(error.code) : '';
  switch (code) {
    case 'ENOENT':
      return 'no such file';
    case 'EISDIR':
      return 'is a directory, expected a JSONL or JSON file';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    default:
      return `cannot read: ${error instanceof Error ? error.message : String(error)}`;
  }
}

/**
 * Problems from a JSONL or JSON-array file. A file that cannot be read comes back as one error about
 * the input as a whole (index -1), so callers report every input problem the same way.
 */
export async function readProblemsFile(path: string): Promise<ParsedProblems> {
  const unreadable = (error: unknown): ParsedProblems => ({
    problems: [],
    errors: [{ line: null, index: -1, field: null, message: fileProblem(error) }],
    sources: [],
  });
  try {
    const status = await stat(path);
    if (status.isDirectory()) return unreadable({ code: 'EISDIR' });
    return parseProblemsText(await readFile(path, 'utf8'), path);
  } catch (error) {
    return unreadable(error);
  }
}
