import { join, resolve } from 'node:path';
import type { Config } from '../../config/schema.ts';
import { ManifestNotFoundError, writeReport, type WriteReportOutput } from '../../report/write-report.ts';
import { createStore } from '../../workers/runtime.ts';
import { badInput } from '../errors.ts';
import type { Output } from '../output.ts';

/** `<state directory>/reports/<build-id>`: next to the dev server database and local artifacts. */
export function defaultReportDirectory(config: Config, buildId: string): string {
  return join(config.stateDirectory, 'reports', buildId);
}

/** `scigen report <build-id>`: writes the static HTML report of a finished build and prints where. */
export async function reportCommand(
  buildId: string,
  config: Config,
  options: { out?: string },
  output: Output,
): Promise<WriteReportOutput> {
  const outputDirectory = options.out === undefined ? defaultReportDirectory(config, buildId) : resolve(options.out);
  let written: WriteReportOutput;
  try {
    written = await writeReport({ store: createStore(config), buildId, outputDirectory });
  } catch (error) {
    if (error instanceof ManifestNotFoundError) throw badInput(error.message);
    throw error;
  }
  for (const warning of written.warnings) output.line(`warning: ${warning}`);
  output.line(`report: ${written.indexPath} (${written.problems} problems, ${written.cards} cards)`);
  return written;
}

/** After `scigen build`: the build finished whatever happens here, so a report that fails is a warning, not a failed build. */
export async function reportAfterBuild(buildId: string, config: Config, output: Output): Promise<void> {
  try {
    await reportCommand(buildId, config, {}, output);
  } catch (error) {
    output.line(
      `warning: the build finished but its report could not be written: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
}
