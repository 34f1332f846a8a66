import { fileURLToPath } from 'node:url';
import { bundleWorkflowCode, type WorkflowBundleWithSourceMap } from '@temporalio/worker';

export const workflowsPath = fileURLToPath(new URL('../workflows/index.ts', import.meta.url));

let bundle: Promise<WorkflowBundleWithSourceMap> | undefined;

/** Bundles the workflow code once per process; every workflows worker shares it. */
export function workflowBundle(): Promise<WorkflowBundleWithSourceMap> {
  bundle ??= bundleWorkflowCode({ workflowsPath, logger: quietBundlerLogger });
  return bundle;
}

const quietBundlerLogger = {
  log() {},
  trace() {},
  debug() {},
  info() {},
  warn(message: string, meta?: Record<string, unknown>) {
    process.stderr.write(`workflow bundler: ${message}${meta ? ` ${JSON.stringify(meta)}` : ''}\n`);
  },
  error(message: string, meta?: Record<string, unknown>) {
    process.stderr.write(`workflow bundler: ${message}${meta ? ` ${JSON.stringify(meta)}` : ''}\n`);
  },
};
