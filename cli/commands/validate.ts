import type { Config } from '../../config/schema.ts';
import { formatInputReport } from '../../domain/input-report.ts';
import { badInput } from '../errors.ts';
import { checkInputFile } from '../input-check.ts';
import type { Output } from '../output.ts';

export interface ValidateOptions {
  /** Print the report as one JSON object on stdout. */
  json: boolean;
}

/**
 * `scigen validate`: the build's input check on its own, with nothing started (no Temporal, no
 * model). Exit 0 when no problem is invalid, 2 otherwise; missing references are listed, not fatal.
 */
export async function validateCommand(
  inputPath: string,
  config: Config,
  options: ValidateOptions,
  output: Output,
): Promise<void> {
  const { report } = await checkInputFile(inputPath, config);
  if (options.json) output.json(report);
  else for (const line of formatInputReport(report)) output.line(line);
  if (report.errors.length === 0) return;
  const wholeFile = report.errors.some((error) => error.index < 0);
  throw badInput(
    wholeFile
      ? `${inputPath} cannot be read as problems`
      : `${inputPath}: ${report.problems.invalid} of ${report.problems.total} problems are invalid`,
  );
}
