import { access, constants } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';

/** The chosen interpreter cannot run the renderer's harness. */
export class PythonNotUsableError extends Error {
  override readonly name = 'PythonNotUsableError';
  constructor(
    readonly python: string,
    message: string,
  ) {
    super(message);
  }

  static isInstance(error: unknown): error is PythonNotUsableError {
    return error instanceof Error && error.name === 'PythonNotUsableError';
  }
}

export interface FindPythonOptions {
  /** An explicit interpreter (the `render.python` setting, which SCIGEN_PYTHON sets); wins over everything else. */
  python?: string;
}

const projectVirtualEnvironmentPython = fileURLToPath(new URL('../.venv/bin/python', import.meta.url));

const verifiedInterpreters = new Map<string, Promise<string>>();

/**
 * Resolves the Python that renders diagrams: the explicit setting, then the project venv, then
 * `python3`. The choice is verified to import matplotlib (once per interpreter)
 * and returned as an absolute path, so renders can run it with a PATH that owes nothing to ours.
 */
export async function findPython(options: FindPythonOptions = {}): Promise<string> {
  const candidate =
    nonEmpty(options.python) ??
    ((await isExecutable(projectVirtualEnvironmentPython)) ? projectVirtualEnvironmentPython : 'python3');

  let verification = verifiedInterpreters.get(candidate);
  if (verification === undefined) {
    verification = verifyMatplotlib(candidate);
    verifiedInterpreters.set(candidate, verification);
    // A failed check is not cached: the operator may run `npm run setup` and retry in-process.
    verification.catch(() => verifiedInterpreters.delete(candidate));
  }
  return verification;
}

async function verifyMatplotlib(python: string): Promise<string> {
  const result = await execa(python, ['-c', 'import sys, matplotlib; print(sys.executable)'], {
    // Only what finding a bare `python3` needs (the process's own search path, an OS setting, not
    // scigen's configuration); this probe has no business seeing API keys either.
    extendEnv: false,
    env: { PATH: process.env['PATH'] ?? '/usr/local/bin:/usr/bin:/bin', HOME: process.env['HOME'] ?? '/tmp' },
    reject: false,
    timeout: 60_000,
  });
  if (result.failed || result.exitCode !== 0) {
    const detail = String(result.stderr).trim().split('\n').at(-1) ?? result.shortMessage;
    throw new PythonNotUsableError(
      python,
      `matplotlib is not importable by ${python}: run npm run setup (${detail || result.shortMessage})`,
    );
  }
  const executable = String(result.stdout).trim();
  return executable.startsWith('/') ? executable : python;
}

async function isExecutable(path: string): Promise<boolean> {
  try {
    await access(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value;
}
