import { Command, Option } from 'commander';
import { Runtime } from '@temporalio/worker';
import { readEnvironment } from '../config/environment.ts';
import { ConfigError, loadConfig } from '../config/load.ts';
import type { Config } from '../config/schema.ts';
import { buildCommand } from './commands/build.ts';
import {
  cancelCommand,
  listCommand,
  pauseCommand,
  resumeCommand,
  statusCommand,
  windowCommand,
} from './commands/control.ts';
import { doctorCommand } from './commands/doctor.ts';
import { exportCommand } from './commands/export.ts';
import { inspectCommand } from './commands/inspect.ts';
import { leaderboardCommand } from './commands/leaderboard.ts';
import { reportCommand } from './commands/report.ts';
import { deployPromoteCommand, deployStatusCommand } from './commands/deploy.ts';
import { devCommand, workerCommand } from './commands/serve.ts';
import { validateCommand } from './commands/validate.ts';
import { CliError } from './errors.ts';
import { createConsoleLogger, logFormatFromEnvironment, logLevelFromEnvironment } from './logger.ts';
import { createOutput, type Output } from './output.ts';
import { PROBLEM_STAGES } from '../workflows/definitions.ts';
import { LEADERBOARD_FORMATS, LEADERBOARD_GROUPINGS } from '../report/leaderboard-table.ts';

// The one read of the environment; every command gets its values through the config.
const environment = readEnvironment();

// The SDK's own logs would drown the progress bar: warnings and errors by default, one line each.
// SCIGEN_METRICS_ADDRESS (host:port) serves the workers' Prometheus metrics at /metrics.
const metricsAddress = environment.metricsAddress;
Runtime.install({
  logger: createConsoleLogger(
    logLevelFromEnvironment(environment.logging.level),
    logFormatFromEnvironment(environment.logging.format),
  ),
  ...(metricsAddress ? { telemetryOptions: { metrics: { prometheus: { bindAddress: metricsAddress } } } } : {}),
});

const program = new Command()
  .name('scigen')
  .description('Build verified scientific-diagram datasets from text problems, as durable Temporal workflows.')
  .showHelpAfterError()
  .exitOverride();

function configOption() {
  return new Option('--config <file>', 'JSON config file (explicit flags > file > environment > defaults)');
}

function referencesOption() {
  return new Option(
    '--references <dir|uri>',
    "reference images named <id>.png|jpg|jpeg|webp: a folder, file:// or s3:// URI (a problem's own reference_image wins)",
  );
}

/** `--references` as a config value: it wins over `input.references` from the file or environment. */
function referencesConfig(options: { references?: string }): Record<string, unknown> {
  return options.references === undefined ? {} : { input: { references: options.references } };
}

function readConfig(options: { config?: string }, explicit: Record<string, unknown> = {}): Config {
  return loadConfig({ ...(options.config ? { file: options.config } : {}), explicit, environment });
}

function deploymentVersionOption() {
  return new Option(
    '--deployment-version <build-id>',
    'run the workers as this Worker Deployment Version (`auto`: derived from the code); see README "Upgrading a running build"',
  );
}

/** `--deployment-version` as a config value (workers.deployment.buildId), so the schema checks it. */
function deploymentExplicit(options: { deploymentVersion?: string }): Record<string, unknown> {
  return options.deploymentVersion === undefined
    ? {}
    : { workers: { deployment: { buildId: options.deploymentVersion } } };
}

program
  .command('build')
  .description('start (or re-attach to, or resume) a dataset build and wait for it')
  .argument('<input>', 'problems: JSONL, or a JSON array (SciGenBench layout)')
  .option('--build-id <id>', 'names the build; the same id again resumes it (default: file name + input hash)')
  .addOption(configOption())
  .option('--json', 'print the summary JSON as the last stdout line')
  .option('--no-progress', 'no progress bar')
  .option('--skip-invalid', 'record invalid input lines as verdict "invalid" instead of refusing to start')
  .option('--workers', 'run in-process workers even with TEMPORAL_ADDRESS')
  .option('--window <n>', 'problems in flight at once (the sliding window)', (value) => Number(value))
  .option('--budget <usd>', 'pause the build once finished problems cost this much', (value) => Number(value))
  .option('--no-preflight', "skip the doctor's check of every step model before the build starts")
  .option(
    '--batch',
    "batch mode: model calls go through the provider's batch interface (half the price, answers within 24 h)",
  )
  .addOption(referencesOption())
  .addOption(
    new Option(
      '--protocol <name>',
      'dataset (default) builds a dataset; scigenbench reproduces the benchmark: every problem drawn, no refinement, 6x6 in at dpi 100, the VE step',
    ).choices(['dataset', 'scigenbench']),
  )
  .addOption(deploymentVersionOption())
  .addOption(new Option('--demo', 'use the bundled scripted endpoint when no API key is set (npm start)').hideHelp())
  .action(async (input: string, options) => {
    const output = createOutput({ json: Boolean(options.json) });
    const build: Record<string, number | string> = {};
    if (options.window !== undefined) build['windowSize'] = options.window;
    if (options.budget !== undefined) build['budgetUsd'] = options.budget;
    if (options.batch) build['mode'] = 'batch';
    const explicit: Record<string, unknown> = {
      ...(Object.keys(build).length > 0 ? { build } : {}),
      // In batch mode the window is batch.windowSize; --window sets it there too.
      ...(options.batch && options.window !== undefined ? { batch: { windowSize: options.window } } : {}),
      ...referencesConfig(options),
      ...deploymentExplicit(options),
    };
    if (options.protocol !== undefined) explicit['protocol'] = options.protocol;
    const config = readConfig(options, explicit);
    await buildCommand(
      input,
      config,
      {
        buildId: options.buildId,
        json: Boolean(options.json),
        progress: options.progress !== false,
        skipInvalid: Boolean(options.skipInvalid),
        workers: Boolean(options.workers),
        allowScripted: Boolean(options.demo),
        preflight: options.preflight !== false,
      },
      output,
    );
  });

program
  .command('doctor')
  .description(
    'check every configured step model: reachable, model exists, the structured-output mode that works, vision (a canary image), latency',
  )
  .addOption(configOption())
  .option('--json', 'print the report JSON as the last stdout line')
  .action(async (options) => {
    const json = Boolean(options.json);
    await doctorCommand(readConfig(options), { json }, createOutput({ json }));
  });

program
  .command('validate')
  .description('check an input file without starting anything: problems, quizzes, references, taxonomy groups')
  .argument('<input>', 'problems: JSONL, or a JSON array (SciGenBench layout)')
  .addOption(referencesOption())
  .addOption(configOption())
  .option('--json', 'print the report as one JSON object')
  .action(async (input: string, options) =>
    validateCommand(
      input,
      readConfig(options, referencesConfig(options)),
      { json: Boolean(options.json) },
      createOutput({ json: Boolean(options.json) }),
    ),
  );

program
  .command('dev')
  .description('run the embedded Temporal dev server (UI on :8233, state under .scigen/) and all workers')
  .addOption(configOption())
  .addOption(deploymentVersionOption())
  .action(async (options) =>
    devCommand(readConfig(options, deploymentExplicit(options)), createOutput({ json: false })),
  );

program
  .command('worker')
  .description('run one dedicated worker process for a task queue')
  .requiredOption('--queue <queue>', 'workflows | llm | render')
  .addOption(configOption())
  .addOption(deploymentVersionOption())
  .action(async (options) =>
    workerCommand(options.queue, readConfig(options, deploymentExplicit(options)), createOutput({ json: false })),
  );

const deploy = program
  .command('deploy')
  .description('Worker Versioning: which code version new problems start on (README "Upgrading a running build")');

deploy
  .command('promote')
  .description(
    'make a version current once its workers run: new problems start on it, builds move to it; pinned problems finish where they started',
  )
  .argument('<build-id>', 'the version to make current (`auto`: the build id of this code)')
  .addOption(configOption())
  .action(async (buildId: string, options) =>
    deployPromoteCommand(
      readConfig(options, deploymentExplicit({ deploymentVersion: buildId })),
      createOutput({ json: false }),
    ),
  );

deploy
  .command('status')
  .description("the deployment's versions, the current one, and how many workflows still run on each")
  .addOption(configOption())
  .option('--json', 'print the deployment as JSON')
  .action(async (options) =>
    deployStatusCommand(
      readConfig(options),
      { json: Boolean(options.json) },
      createOutput({ json: Boolean(options.json) }),
    ),
  );

program
  .command('status')
  .description("a build's progress")
  .argument('<build-id>')
  .addOption(configOption())
  .option('--json', 'print the status as JSON')
  .action(async (buildId: string, options) =>
    statusCommand(
      buildId,
      readConfig(options),
      { json: Boolean(options.json) },
      createOutput({ json: Boolean(options.json) }),
    ),
  );

program
  .command('pause')
  .description('stop starting new problems; those in flight finish')
  .argument('<build-id>')
  .addOption(configOption())
  .action(async (buildId: string, options) =>
    pauseCommand(buildId, readConfig(options), createOutput({ json: false })),
  );

program
  .command('resume')
  .description('start new problems again (optionally raising the budget)')
  .argument('<build-id>')
  .option('--budget <usd>', 'the new budget in US dollars', (value) => Number(value))
  .addOption(configOption())
  .action(async (buildId: string, options) =>
    resumeCommand(
      buildId,
      readConfig(options),
      options.budget === undefined ? {} : { budgetUsd: options.budget },
      createOutput({ json: false }),
    ),
  );

program
  .command('cancel')
  .description('cancel the problems in flight and write the manifest of those that finished')
  .argument('<build-id>')
  .addOption(configOption())
  .action(async (buildId: string, options) =>
    cancelCommand(buildId, readConfig(options), createOutput({ json: false })),
  );

program
  .command('window')
  .description('change how many problems a running build keeps in flight')
  .argument('<build-id>')
  .argument('<size>', 'problems in flight', (value) => Number(value))
  .addOption(configOption())
  .action(async (buildId: string, size: number, options) =>
    windowCommand(buildId, size, readConfig(options), createOutput({ json: false })),
  );

program
  .command('inspect')
  .description("a problem's step history: attempts, durations, failures and artifact URIs")
  .argument('<build-id>')
  .argument('<problem-id>')
  .addOption(configOption())
  .option('--json', 'print the inspection as JSON')
  .action(async (buildId: string, problemId: string, options) =>
    inspectCommand(
      buildId,
      problemId,
      readConfig(options),
      { json: Boolean(options.json) },
      createOutput({ json: Boolean(options.json) }),
    ),
  );

program
  .command('list')
  .description("a build's problems, filtered by verdict, subject, image type or stage (from Temporal's visibility)")
  .argument('<build-id>')
  .option('--verdict <verdict>', 'accepted | rejected | skipped | failed')
  .option('--subject <subject>', 'Math | Physics | Chemistry | Biology | Universal')
  .option('--image-type <type>', 'e.g. Circuit, Plane Geometry')
  .option('--stage <stage>', `where running problems are: ${PROBLEM_STAGES.join(', ')}`)
  .option('--query <text>', 'more visibility-query text, ANDed with the filters')
  .option('--limit <n>', 'at most this many', (value) => Number(value), 100)
  .option('--json', 'print the problems as JSON')
  .addOption(configOption())
  .action(async (buildId: string, options) =>
    listCommand(
      buildId,
      {
        verdict: options.verdict,
        subject: options.subject,
        imageType: options.imageType,
        stage: options.stage,
        query: options.query,
      },
      readConfig(options),
      { json: Boolean(options.json), limit: options.limit },
      createOutput({ json: Boolean(options.json) }),
    ),
  );

program
  .command('report')
  .description("write a build's static HTML report: leaderboard, charts per subject and image type, gallery")
  .argument('<build-id>')
  .option('--out <dir>', 'report directory (default: <state directory>/reports/<build-id>)')
  .addOption(configOption())
  .action(async (buildId: string, options) => {
    await reportCommand(buildId, readConfig(options), { out: options.out }, createOutput({ json: false }));
  });

program
  .command('export')
  .description(
    "a finished build's items as a dataset: JSON lines, Parquet (verl's RL layout) or a Hugging Face imagefolder",
  )
  .argument('<build-id>')
  .requiredOption('--format <format>', 'jsonl | parquet | hf')
  .option('--out <dir>', 'output folder (default: <state directory>/exports/<build-id>/<format>)')
  .option('--all', 'every result that has an image, whatever its verdict (default: accepted only)')
  .option('--generator <name>', "only this generator's results")
  .option('--json', 'print what was written as JSON')
  .addOption(configOption())
  .action(async (buildId: string, options) =>
    exportCommand(
      buildId,
      readConfig(options),
      {
        format: options.format,
        out: options.out,
        all: Boolean(options.all),
        generator: options.generator,
        json: Boolean(options.json),
      },
      createOutput({ json: Boolean(options.json) }),
    ),
  );

program
  .command('leaderboard')
  .description(
    "the paper's table from finished builds: one row per generator — R_inv %, the five judge means, PSNR, SSIM, perfect-image %, VE %, images",
  )
  .argument('<build-id...>', 'one or more builds; with several, each row names its build')
  .addOption(new Option('--by <group>', 'one table per subject or image type').choices(LEADERBOARD_GROUPINGS))
  .addOption(
    new Option('--format <format>', 'table, markdown, csv, or json (unrounded values, rates 0–1)')
      .choices(LEADERBOARD_FORMATS)
      .default('table'),
  )
  .addOption(configOption())
  .action(async (buildIds: string[], options) =>
    leaderboardCommand(
      buildIds,
      readConfig(options),
      { by: options.by, format: options.format },
      createOutput({ json: false }),
    ),
  );

async function main(): Promise<number> {
  try {
    await program.parseAsync(process.argv);
    return 0;
  } catch (error) {
    return report(error, createOutput({ json: false }));
  }
}

function report(error: unknown, output: Output): number {
  if (error instanceof CliError) {
    process.stderr.write(`scigen: ${error.message}\n`);
    return error.exitCode;
  }
  if (error instanceof ConfigError) {
    process.stderr.write(`scigen: ${error.message}\n`);
    return 2;
  }
  if (
    typeof error === 'object' &&
    error !== null &&
    'exitCode' in error &&
    'code' in error &&
    String(error.code).startsWith('commander.')
  ) {
    // Commander already printed its message (or help).
    return error.exitCode === 0 ? 0 : 2;
  }
  void output;
  process.stderr.write(`scigen: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  return 1;
}

process.exitCode = await main();
// Native Temporal handles can keep the loop alive after a command finished.
setTimeout(() => process.exit(process.exitCode), 200).unref();
