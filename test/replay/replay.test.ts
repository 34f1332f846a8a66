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
const entries = JSON.parse(readFileSync(new URL('index.json', historiesDirectory), 'utf8')) as HistoryEntry[];

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

  it('the index lists every committed history, of both workflow types', () => {
    const files = readdirSync(historiesDirectory).filter((file) => file.endsWith('.json') && file !== 'index.json');
    expect(entries.map((entry) => entry.file).sort()).toEqual(files.sort());
    expect(new Set(entries.map((entry) => entry.workflowType))).toEqual(
      new Set(['problemWorkflow', 'datasetBuildWorkflow']),
    );
  });

  it.each(entries)('$scenario', async (entry) => {
    const history = historyFromJSON(JSON.parse(await readFile(new URL(entry.file, historiesDirectory), 'utf8')));
    await expect(
      Worker.runReplayHistory({ workflowBundle: bundle }, history, entry.workflowId),
      `${entry.file} no longer replays`,
    ).resolves.toBeUndefined();
  });
});
