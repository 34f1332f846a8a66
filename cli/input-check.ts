/**
 * The check `scigen validate` prints and `scigen build` runs before starting anything: the file
 * parsed and validated, the reference images each problem names checked, the references folder's
 * `<id>.<ext>` images attached, and the report of it all (domain/input-report.ts).
 */
import type { Config } from '../config/schema.ts';
import type { ParsedProblems } from '../domain/input.ts';
import { summarizeInput, type InputReport } from '../domain/input-report.ts';
import { readProblemsFile } from '../domain/read-input-file.ts';
import { attachReferencesById, checkReferenceImages, openReferenceFolder } from './reference-images.ts';

export interface CheckedInput {
  /** The valid problems, references attached, and every error found. */
  parsed: ParsedProblems;
  report: InputReport;
}

/** Reads and checks an input file with the config's references folder, S3 addressing and page size. */
export async function checkInputFile(
  inputPath: string,
  config: Pick<Config, 'input' | 's3PathStyle' | 'build'>,
): Promise<CheckedInput> {
  const readOptions = { s3PathStyle: config.s3PathStyle };
  const checked = await checkReferenceImages(await readProblemsFile(inputPath), inputPath, readOptions);
  const folder =
    config.input.references === undefined ? null : await openReferenceFolder(config.input.references, readOptions);
  const { parsed, references } = attachReferencesById(checked, folder);
  return {
    parsed,
    report: summarizeInput(parsed, { input: inputPath, pageSize: config.build.pageSize, references }),
  };
}
