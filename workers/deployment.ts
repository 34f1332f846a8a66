import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { WorkerDeploymentVersion } from '@temporalio/common';
import type { Config } from '../config/schema.ts';

const packageRoot = fileURLToPath(new URL('..', import.meta.url));

/**
 * What a worker runs: the folders whose code an activity or workflow executes, and the lock file
 * that fixes the libraries beneath them. The CLI, tests and benchmarks are not in it: changing
 * them does not change what a worker does.
 */
const WORKER_SOURCES = [
  'activities',
  'config',
  'domain',
  'providers',
  'render',
  'scripted',
  'storage',
  'workers',
  'workflows',
  'package.json',
  'package-lock.json',
];

/** The build id `auto` stands for, once per process: computed on first use. */
let derivedBuildId: string | undefined;

/**
 * A build id for the code this process runs: the package version and the first 12 hex digits of
 * a SHA-256 over every worker-side source file (its path and its bytes, in path order), e.g.
 * `0.1.0-3f9a1c0b7d2e`. Two trees that differ in any such file get different ids; the same tree
 * gets the same id on every machine, so the three queues' workers of one release agree without
 * being told.
 */
export function codeBuildId(root: string = packageRoot): string {
  if (root === packageRoot && derivedBuildId !== undefined) return derivedBuildId;
  const hash = createHash('sha256');
  for (const file of listFiles(root, WORKER_SOURCES)) {
    hash.update(`${relative(root, file)}\0`);
    hash.update(readFileSync(file));
    hash.update('\0');
  }
  const version = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version;
  const buildId = `${version}-${hash.digest('hex').slice(0, 12)}`;
  if (root === packageRoot) derivedBuildId = buildId;
  return buildId;
}

function listFiles(root: string, entries: readonly string[]): string[] {
  const files: string[] = [];
  const visit = (path: string) => {
    let children;
    try {
      children = readdirSync(path, { withFileTypes: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOTDIR') {
        files.push(path);
        return;
      }
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw error;
    }
    for (const child of children) {
      // Python byte code and other caches are not sources.
      if (child.name === '__pycache__' || child.name === 'node_modules' || child.name.startsWith('.')) continue;
      const childPath = join(path, child.name);
      if (child.isDirectory()) visit(childPath);
      else if (child.isFile()) files.push(childPath);
    }
  };
  for (const entry of entries) visit(join(root, entry));
  return files.sort();
}

/**
 * The Worker Deployment Version this process's workers poll as (config `workers.deployment`),
 * or null for unversioned workers.
 */
export function deploymentVersionOf(config: Config): WorkerDeploymentVersion | null {
  const { name, buildId } = config.workers.deployment;
  if (buildId === undefined) return null;
  return { deploymentName: name, buildId: buildId === 'auto' ? codeBuildId() : buildId };
}

/** `scigen:0.1.0-3f9a1c0b7d2e`: how the Temporal CLI and UI write a deployment version. */
export function describeDeploymentVersion(version: WorkerDeploymentVersion): string {
  return `${version.deploymentName}:${version.buildId}`;
}
