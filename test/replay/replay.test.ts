import { readdirSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils.js';
import { DefaultLogger, Runtime, Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { beforeAll, describe, expect, it } from 'vitest';
import { workflowBundle } from '../../workers/workflow-bundle.ts';
import type { HistoryEntry } from './scenarios.ts';

// Each replay starts and stops a worker; their INFO lines would drown a failure.
Runtime.install({ logger: new DefaultLogger('WARN') });

const historiesDirectory = new URL('./histories/', import.meta.url);
/**
 * The histories of the current code (histories/, rewritten by the refresh) and of older code kept
 * for the workflows it may still have open (each subfolder, e.g. problems-inline/: problems that
 * carried their whole problem in their input, builds that read pages whole). batch-mode/ holds a
 * batch-mode build's histories (build, batcher, problems), recorded from a real build of the
 * samples against the scripted endpoint's batch interface.
 */
const folders = [
  historiesDirectory,
  ...readdirSync(historiesDirectory, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => new URL(`${entry.name}/`, historiesDirectory)),
];
const entries = folders.flatMap((folder) =>
  (JSON.parse(readFileSync(new URL('index.json', folder), 'utf8')) as HistoryEntry[]).map((entry) => ({
    ...entry,
    folder,
    label: `${folder.pathname.slice(historiesDirectory.pathname.length)}${entry.scenario}`,
  })),
);

/**
 * Replays the committed histories of the sample build (scripts/refresh-histories.ts) against the
 * workflow code as it is now. A failure names the scenario whose history the code no longer
 * reproduces: a change that would break running workflows. Guard it with patched(), or, when
 * no workflow started before it can still be running, refresh the histories (README, "Changing
 * workflow code").
 */
describe('committed workflow histories replay against the current workflow code', () => {
  let bundle: WorkflowBundleWithSourceMap;

  beforeAll(async () => {
    bundle = await workflowBundle();
  });

  it.each(
    folders.map((folder) => ({ folder, name: folder.pathname.slice(historiesDirectory.pathname.length) || '.' })),
  )('the index of $name lists every history in it, of the build and problem workflows at least', ({ folder }) => {
    const files = readdirSync(folder).filter((file) => file.endsWith('.json') && file !== 'index.json');
    const listed = entries.filter((entry) => entry.folder === folder);
    expect(listed.map((entry) => entry.file).sort()).toEqual(files.sort());
    const types = [...new Set(listed.map((entry) => entry.workflowType))];
    expect(types).toEqual(expect.arrayContaining(['problemWorkflow', 'datasetBuildWorkflow']));
    expect(['problemWorkflow', 'datasetBuildWorkflow', 'batcherWorkflow']).toEqual(expect.arrayContaining(types));
  });

  it.each(entries)('$label', async (entry) => {
    const history = historyFromJSON(JSON.parse(await readFile(new URL(entry.file, entry.folder), 'utf8')));
    await expect(
      Worker.runReplayHistory({ workflowBundle: bundle }, history, entry.workflowId),
      `${entry.file} no longer replays`,
    ).resolves.toBeUndefined();
  });
});
