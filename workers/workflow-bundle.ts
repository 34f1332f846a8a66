import { fileURLToPath } from 'node:url';
import { bundleWorkflowCode, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { OPENTELEMETRY_WORKFLOW_INTERCEPTORS } from './telemetry.ts';

export const workflowsPath = fileURLToPath(new URL('../workflows/index.ts', import.meta.url));

const bundles = new Map<boolean, Promise<WorkflowBundleWithSourceMap>>();

/**
 * Bundles the workflow code once per process; every workflows worker shares it. With tracing on,
 * the OpenTelemetry workflow interceptors go inside the bundle (a prebuilt bundle ignores
 * interceptor modules given to the worker).
 */
export function workflowBundle(
  options: { tracing: boolean } = { tracing: false },
): Promise<WorkflowBundleWithSourceMap> {
  let bundle = bundles.get(options.tracing);
  if (!bundle) {
    bundle = bundleWorkflowCode({
      workflowsPath,
      logger: quietBundlerLogger,
      workflowInterceptorModules: options.tracing ? [OPENTELEMETRY_WORKFLOW_INTERCEPTORS] : [],
    });
    bundles.set(options.tracing, bundle);
  }
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
