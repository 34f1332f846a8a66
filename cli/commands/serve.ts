import { chooseProvider, type ResolvedProvider } from '../../config/provider.ts';
import type { Config } from '../../config/schema.ts';
import { runWorkers, QUEUE_KINDS, type QueueKind } from '../../workers/run-workers.ts';
import { announceDeploymentVersion } from '../deployment.ts';
import { badInput } from '../errors.ts';
import type { Output } from '../output.ts';
import { openTemporal } from '../temporal.ts';

/** `scigen dev`: the embedded dev server plus every worker, until interrupted. */
export async function devCommand(config: Config, output: Output): Promise<void> {
  if (config.temporal.address !== undefined)
    throw badInput('scigen dev runs the embedded dev server; unset TEMPORAL_ADDRESS, or use scigen worker');
  const provider = providerOf(config);
  const temporal = await openTemporal(config, { startServer: true, log: output.line });
  try {
    const workers = await runWorkers(config, { connection: temporal.workerConnection, queues: QUEUE_KINDS, provider });
    for (const description of workers.descriptions) output.line(description);
    await announceDeploymentVersion({
      client: temporal.client,
      namespace: temporal.namespace,
      version: workers.deploymentVersion,
      deploymentName: config.workers.deployment.name,
      embedded: true,
      log: output.line,
    });
    output.line(`Temporal UI: ${temporal.uiUrl}`);
    output.line('ready: run `scigen build <input>` in another terminal; Ctrl-C stops');
    await untilSignal();
    output.line('stopping workers…');
    await workers.shutdown();
  } finally {
    await temporal.close();
  }
}

/** `scigen worker --queue …`: one dedicated worker process against the configured cluster. */
export async function workerCommand(queue: string, config: Config, output: Output): Promise<void> {
  if (!(QUEUE_KINDS as readonly string[]).includes(queue))
    throw badInput(`--queue ${queue}: expected one of ${QUEUE_KINDS.join(', ')}`);
  const provider = queue === 'llm' ? providerOf(config) : undefined;
  const temporal = await openTemporal(config, { startServer: false, log: output.line });
  try {
    const workers = await runWorkers(config, {
      connection: temporal.workerConnection,
      queues: [queue as QueueKind],
      ...(provider ? { provider } : {}),
    });
    for (const description of workers.descriptions) output.line(description);
    await announceDeploymentVersion({
      client: temporal.client,
      namespace: temporal.namespace,
      version: workers.deploymentVersion,
      deploymentName: config.workers.deployment.name,
      embedded: false,
      log: output.line,
    });
    output.line(
      `connected to ${temporal.address} (namespace ${temporal.namespace}); SIGTERM or Ctrl-C stops after in-flight tasks`,
    );
    await Promise.race([untilSignal(), workers.done]);
    await workers.shutdown();
  } finally {
    await temporal.close();
  }
}

function providerOf(config: Config): ResolvedProvider {
  try {
    return chooseProvider(config, { allowScripted: false });
  } catch (error) {
    throw badInput((error as Error).message);
  }
}

function untilSignal(): Promise<void> {
  return new Promise((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
}
