import { cp, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { temporal } from '@temporalio/proto';
import { deploymentVersionsFromHistory } from '../../cli/commands/inspect.ts';
import { readEnvironment } from '../../config/environment.ts';
import { ConfigError, loadConfig } from '../../config/load.ts';
import { codeBuildId, deploymentVersionOf } from '../../workers/deployment.ts';
import { repositoryRoot } from '../helpers/cli.ts';

/** A copy of the files a build id is derived from, to change one of them. */
async function copyOfWorkerSources(): Promise<string> {
  const copy = await mkdtemp(join(tmpdir(), 'scigen-build-id-'));
  for (const entry of ['workflows', 'domain', 'package.json'])
    await cp(join(repositoryRoot, entry), join(copy, entry), { recursive: true });
  return copy;
}

describe('the build id derived from the code', () => {
  it('is the package version and a hash of the worker-side sources, the same for the same tree', async () => {
    const copy = await copyOfWorkerSources();
    const buildId = codeBuildId(copy);
    expect(buildId).toMatch(/^\d+\.\d+\.\d+-[0-9a-f]{12}$/);
    expect(codeBuildId(await copyOfWorkerSources())).toBe(buildId);
  });

  it('changes with any worker-side source, not with the CLI, tests or Python caches', async () => {
    const copy = await copyOfWorkerSources();
    const before = codeBuildId(copy);
    await writeFile(join(copy, 'cli.ts'), 'export {};\n');
    await cp(join(repositoryRoot, 'test', 'helpers', 'cli.ts'), join(copy, 'test', 'cli.ts'));
    await cp(join(repositoryRoot, 'package.json'), join(copy, 'workflows', '__pycache__', 'cached.pyc'));
    expect(codeBuildId(copy)).toBe(before);
    await writeFile(join(copy, 'workflows', 'problem.ts'), '// a changed step\n', { flag: 'a' });
    expect(codeBuildId(copy)).not.toBe(before);
  });
});

describe('the deployment version workers poll as', () => {
  const load = (variables: Record<string, string>, explicit: Record<string, unknown> = {}) =>
    loadConfig({ environment: readEnvironment(variables), explicit, baseDirectory: '/work/project' });

  it('is none (unversioned workers) unless a build id is given', () => {
    expect(deploymentVersionOf(load({}))).toBeNull();
  });

  it('comes from SCIGEN_WORKER_BUILD_ID and SCIGEN_DEPLOYMENT_NAME, the command line winning', () => {
    expect(deploymentVersionOf(load({ SCIGEN_WORKER_BUILD_ID: 'release-7', SCIGEN_DEPLOYMENT_NAME: 'lab' }))).toEqual({
      deploymentName: 'lab',
      buildId: 'release-7',
    });
    const explicit = { workers: { deployment: { buildId: 'release-8' } } };
    expect(deploymentVersionOf(load({ SCIGEN_WORKER_BUILD_ID: 'release-7' }, explicit))).toEqual({
      deploymentName: 'scigen',
      buildId: 'release-8',
    });
  });

  it('`auto` is the build id derived from this code', () => {
    expect(deploymentVersionOf(load({ SCIGEN_WORKER_BUILD_ID: 'auto' }))?.buildId).toBe(codeBuildId());
  });

  it('refuses a build id Temporal would not take, naming the variable', () => {
    expect(() => load({ SCIGEN_WORKER_BUILD_ID: 'a b' })).toThrow(ConfigError);
    expect(() => load({ SCIGEN_WORKER_BUILD_ID: 'a b' })).toThrow(
      /workers\.deployment\.buildId \(from env SCIGEN_WORKER_BUILD_ID\)/,
    );
    expect(() => load({ SCIGEN_DEPLOYMENT_NAME: 'with.dot' })).toThrow(/workers\.deployment\.name/);
  });
});

describe('the versions a history says ran its workflow tasks', () => {
  const completedBy = (
    deploymentVersion: { deploymentName: string; buildId: string } | null,
  ): temporal.api.history.v1.IHistoryEvent => ({
    workflowTaskCompletedEventAttributes: deploymentVersion ? { deploymentVersion } : {},
  });

  it('lists each version once, in the order they first ran, and none for unversioned workers', () => {
    const a = { deploymentName: 'scigen', buildId: 'a' };
    const b = { deploymentName: 'scigen', buildId: 'b' };
    expect(deploymentVersionsFromHistory([completedBy(null), completedBy(null)])).toEqual([]);
    expect(
      deploymentVersionsFromHistory([completedBy(a), { activityTaskStartedEventAttributes: {} }, completedBy(a)]),
    ).toEqual(['scigen:a']);
    expect(deploymentVersionsFromHistory([completedBy(a), completedBy(b), completedBy(b)])).toEqual([
      'scigen:a',
      'scigen:b',
    ]);
  });
});
