import { chooseProvider, type ResolvedProvider } from '../../config/provider.ts';
import type { Config } from '../../config/schema.ts';
import { doctorForConfig, type DoctorReport, type DoctorRow } from '../../doctor/doctor.ts';
import type { ModelCapabilities } from '../../doctor/model-capabilities.ts';
import { STEP_NEEDS } from '../../doctor/steps.ts';
import { badInput } from '../errors.ts';
import type { Output } from '../output.ts';

/**
 * `scigen doctor`: checks every configured step model and prints the table; exit 2 (naming each
 * step that cannot work and why) when one cannot.
 */
export async function doctorCommand(config: Config, options: { json: boolean }, output: Output): Promise<DoctorReport> {
  let provider: ResolvedProvider;
  try {
    provider = chooseProvider(config, { allowScripted: false });
  } catch (error) {
    throw badInput((error as Error).message);
  }
  const report = await checkModels(config, provider);
  for (const line of formatDoctorTable(report)) output.line(line);
  if (options.json) output.json(report);
  if (!report.ok) throw badInput(describeUnservableSteps(report));
  return report;
}

/** The doctor for a config, a missing API key turned into the CLI's bad-config error. */
export async function checkModels(
  config: Config,
  provider: ResolvedProvider,
  options: { capabilities?: ModelCapabilities } = {},
): Promise<DoctorReport> {
  try {
    return await doctorForConfig(config, provider, options);
  } catch (error) {
    // createProvider's message for a missing key says what to set.
    if (error instanceof Error && /API_KEY is not set/.test(error.message)) throw badInput(error.message);
    throw error;
  }
}

/** One line per step that cannot work, naming the step, its model and the reason. */
export function describeUnservableSteps(report: DoctorReport): string {
  const failing = report.rows.filter((row) => row.problem !== null);
  return [
    `a model cannot serve ${failing.length === 1 ? 'a step' : `${failing.length} steps`} (${report.server}):`,
    ...failing.map((row) => `  ${stepName(row)} (model ${row.model}): ${row.problem}`),
  ].join('\n');
}

const COLUMNS = ['step', 'model', 'reachable', 'model exists', 'structured output', 'vision', 'latency'] as const;

/** The doctor's table as text lines: one row per step, then the problems and warnings in full. */
export function formatDoctorTable(report: DoctorReport): string[] {
  const cells = report.rows.map((row) => [
    stepName(row),
    row.model,
    row.reachable ? 'yes' : 'NO',
    row.modelExists === null ? '?' : row.modelExists ? 'yes' : 'NO',
    row.structuredOutput ?? (STEP_NEEDS[row.step].json ? 'NONE' : '-'),
    row.vision === null ? (STEP_NEEDS[row.step].vision ? '?' : '-') : row.vision === 'sees' ? 'sees' : 'BLIND',
    row.latencyMs === null ? '-' : `${row.latencyMs} ms`,
  ]);
  const widths = COLUMNS.map((title, column) => Math.max(title.length, ...cells.map((row) => row[column]!.length)));
  const line = (values: readonly string[]) =>
    values
      .map((value, column) => value.padEnd(widths[column]!))
      .join('  ')
      .trimEnd();
  const lines = [`doctor: ${report.server}`, line(COLUMNS), ...cells.map(line)];
  for (const row of report.rows) {
    if (row.problem !== null) lines.push(`  ✗ ${stepName(row)}: ${row.problem}`);
    if (row.warning !== null) lines.push(`  ! ${stepName(row)}: ${row.warning}`);
  }
  lines.push(report.ok ? 'every step can work' : 'some steps cannot work (see ✗ above)');
  return lines;
}

function stepName(row: DoctorRow): string {
  return row.generator === null ? row.step : `${row.step} (${row.generator})`;
}
