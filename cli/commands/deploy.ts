import type { Config } from '../../config/schema.ts';
import { deploymentVersionOf } from '../../workers/deployment.ts';
import { describeDeployment, promoteDeploymentVersion } from '../deployment.ts';
import { badInput, infrastructureFailure } from '../errors.ts';
import type { Output } from '../output.ts';
import { openTemporal } from '../temporal.ts';

/** `scigen deploy promote <build-id>`: make that version (config `workers.deployment`) current. */
export async function deployPromoteCommand(config: Config, output: Output): Promise<void> {
  const version = deploymentVersionOf(config);
  if (version === null) throw badInput('scigen deploy promote needs the build id to make current');
  const temporal = await openTemporal(config, { startServer: false, log: output.line });
  try {
    await promoteDeploymentVersion({ client: temporal.client, namespace: temporal.namespace, version }).catch(
      (error: unknown) => {
        throw infrastructureFailure((error as Error).message);
      },
    );
    output.line(
      `${version.deploymentName}:${version.buildId} is current: new problems start on it, builds move to it at their next step; ` +
        'problems pinned to other versions finish there (`scigen deploy status` counts them)',
    );
  } finally {
    await temporal.close();
  }
}

/** `scigen deploy status`: the deployment's versions, the current one, and the workflows still running on each. */
export async function deployStatusCommand(config: Config, options: { json: boolean }, output: Output): Promise<void> {
  const name = config.workers.deployment.name;
  const temporal = await openTemporal(config, { startServer: false, log: options.json ? () => {} : output.line });
  try {
    const deployment = await describeDeployment(temporal.client, temporal.namespace, name);
    if (options.json) {
      output.json(deployment ?? { name, currentBuildId: null, versions: [] });
      return;
    }
    if (deployment === null || deployment.versions.length === 0) {
      output.line(`no worker of deployment ${name} has polled yet: its workers run unversioned`);
      return;
    }
    output.line(`deployment ${name}, current version: ${deployment.currentBuildId ?? 'none (unversioned workers)'}`);
    for (const version of deployment.versions) {
      const running = `${version.runningWorkflows} workflow${version.runningWorkflows === 1 ? '' : 's'} running`;
      const retire =
        !version.current && !version.ramping && version.runningWorkflows === 0 ? ' — its workers can be stopped' : '';
      output.line(`  ${version.buildId}  ${version.status}  ${running}${retire}`);
    }
  } finally {
    await temporal.close();
  }
}
