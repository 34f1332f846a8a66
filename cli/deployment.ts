import { type Client, isGrpcServiceError } from '@temporalio/client';
import type { WorkerDeploymentVersion } from '@temporalio/common';
import { describeDeploymentVersion } from '../workers/deployment.ts';
import { timestampMilliseconds } from './temporal.ts';

const grpcNotFound = 5;
const grpcFailedPrecondition = 9;

export interface PromoteOptions {
  client: Client;
  namespace: string;
  version: WorkerDeploymentVersion;
  /**
   * Promote even if the version is not polling every task queue the current version polled (an
   * embedded process that now serves another provider's llm queue, say). @default false
   */
  ignoreMissingTaskQueues?: boolean;
  /**
   * How long to wait for the version's workers to reach the server: a version exists once one of
   * its workers has polled, and the server refuses to make current a version that does not poll
   * every queue the current one did. @default 60000
   */
  waitMs?: number;
}

/**
 * Makes a Worker Deployment Version the current one: new workflows, and build workflows at their
 * next workflow task, go to its workers; problem workflows pinned to another version stay there.
 * Waits until the version's workers have polled.
 */
export async function promoteDeploymentVersion(options: PromoteOptions): Promise<void> {
  const { client, namespace, version } = options;
  const deadline = Date.now() + (options.waitMs ?? 60_000);
  for (;;) {
    try {
      await client.workflowService.setWorkerDeploymentCurrentVersion({
        namespace,
        deploymentName: version.deploymentName,
        buildId: version.buildId,
        identity: client.options.identity,
        ignoreMissingTaskQueues: options.ignoreMissingTaskQueues ?? false,
      });
      return;
    } catch (error) {
      // Not found: no worker of the version (or of the deployment) has polled yet. Failed
      // precondition: some of the current version's queues have no poller of this version yet.
      const waiting =
        isGrpcServiceError(error) && (error.code === grpcNotFound || error.code === grpcFailedPrecondition);
      if (!waiting) throw error;
      if (Date.now() >= deadline) {
        throw new Error(
          `cannot make ${describeDeploymentVersion(version)} current: ${error.details || error.message} ` +
            '(start its workers for every queue: scigen worker --queue workflows|llm|render --deployment-version …)',
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
}

/** One version of a deployment, as `scigen deploy status` shows it. */
export interface DeploymentVersionState {
  buildId: string;
  current: boolean;
  ramping: boolean;
  /** The server's word: inactive, current, ramping, draining or drained. */
  status: string;
  createdAtMs: number | null;
  /** Workflows still running on this version (pinned problems, and builds while it is current). */
  runningWorkflows: number;
}

export interface DeploymentState {
  name: string;
  currentBuildId: string | null;
  versions: DeploymentVersionState[];
}

/** The deployment's versions, which is current, and how many workflows still run on each; null when no versioned worker ever polled. */
export async function describeDeployment(
  client: Client,
  namespace: string,
  deploymentName: string,
): Promise<DeploymentState | null> {
  let response;
  try {
    response = await client.workflowService.describeWorkerDeployment({ namespace, deploymentName });
  } catch (error) {
    if (isGrpcServiceError(error) && error.code === grpcNotFound) return null;
    throw error;
  }
  const info = response.workerDeploymentInfo;
  const routing = info?.routingConfig;
  const currentBuildId = routing?.currentDeploymentVersion?.buildId || null;
  const rampingBuildId = routing?.rampingDeploymentVersion?.buildId || null;
  const versions: DeploymentVersionState[] = [];
  for (const summary of info?.versionSummaries ?? []) {
    const buildId = summary.deploymentVersion?.buildId;
    if (!buildId) continue;
    versions.push({
      buildId,
      current: buildId === currentBuildId,
      ramping: buildId === rampingBuildId,
      status: versionStatusName(summary.status ?? 0),
      createdAtMs: timestampMilliseconds(summary.createTime),
      runningWorkflows: await countRunningWorkflows(client, { deploymentName, buildId }),
    });
  }
  versions.sort((first, second) => (first.createdAtMs ?? 0) - (second.createdAtMs ?? 0));
  return { name: deploymentName, currentBuildId, versions };
}

/** Open workflows whose executions run on this version, from visibility (it lags the server by a moment). */
export async function countRunningWorkflows(client: Client, version: WorkerDeploymentVersion): Promise<number> {
  const { count } = await client.workflow.count(
    `TemporalWorkerDeploymentVersion = '${describeDeploymentVersion(version)}' AND ExecutionStatus = 'Running'`,
  );
  return count;
}

/** temporal.api.enums.v1.WorkerDeploymentVersionStatus, as words. */
function versionStatusName(status: number): string {
  return ['unspecified', 'inactive', 'current', 'ramping', 'draining', 'drained'][status] ?? `status ${status}`;
}

/**
 * After this process started its workers: an embedded process (its own dev server, every queue's
 * workers in it) makes their version current, so it works out of the box, and with unversioned
 * workers it unsets a current version an earlier versioned run left behind, whose workers are gone
 * and would otherwise be sent every new task. Against a cluster, where promoting is the operator's
 * decision, it only says when the version is not current.
 */
export async function announceDeploymentVersion(options: {
  client: Client;
  namespace: string;
  version: WorkerDeploymentVersion | null;
  /** The deployment (config `workers.deployment.name`), for unversioned workers. */
  deploymentName: string;
  embedded: boolean;
  log: (line: string) => void;
}): Promise<void> {
  const { client, namespace, version, log } = options;
  if (version === null) {
    if (options.embedded) await unsetCurrentVersion(client, namespace, options.deploymentName, log);
    return;
  }
  const described = describeDeploymentVersion(version);
  if (options.embedded) {
    await promoteDeploymentVersion({ client, namespace, version, ignoreMissingTaskQueues: true });
    log(`worker deployment version ${described} is current`);
    return;
  }
  const deployment = await describeDeployment(client, namespace, version.deploymentName).catch(() => null);
  if (deployment?.currentBuildId === version.buildId) {
    log(`worker deployment version ${described} is current`);
  } else {
    log(
      `worker deployment version ${described} is not current (current: ${deployment?.currentBuildId ?? 'none'}): ` +
        `it serves the problems pinned to it; \`scigen deploy promote ${version.buildId}\` sends new problems here`,
    );
  }
}

async function unsetCurrentVersion(
  client: Client,
  namespace: string,
  deploymentName: string,
  log: (line: string) => void,
): Promise<void> {
  try {
    const deployment = await describeDeployment(client, namespace, deploymentName);
    if (deployment?.currentBuildId == null) return;
    await client.workflowService.setWorkerDeploymentCurrentVersion({
      namespace,
      deploymentName,
      buildId: '',
      identity: client.options.identity,
      ignoreMissingTaskQueues: true,
      allowNoPollers: true,
    });
    log(
      `worker deployment ${deploymentName}: version ${deployment.currentBuildId} is no longer current; ` +
        "this process's unversioned workers take new problems",
    );
  } catch (error) {
    // A server without Worker Deployments has nothing to unset.
    if (!isGrpcServiceError(error)) throw error;
  }
}
