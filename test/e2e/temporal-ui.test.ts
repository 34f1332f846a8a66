import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DevServer } from '../../infra/dev-server.ts';
import { launchChromium } from '../helpers/browser.ts';
import { createCliSandbox, repositoryRoot, type CliSandbox } from '../helpers/cli.ts';
import { startSandboxDevServer } from '../helpers/cluster.ts';

describe('the Temporal UI shows a finished problem as pipeline steps', () => {
  let server: DevServer;
  let sandbox: CliSandbox;
  let browser: Browser;

  beforeAll(async () => {
    sandbox = await createCliSandbox('ui', { SCIGEN_PROVIDER: 'scripted' });
    server = await startSandboxDevServer(sandbox);
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  it('finds a problem workflow of the build and shows its steps by name', async () => {
    const buildId = 'ui-e2e';
    const built = await sandbox.run(['build', 'samples/scigenbench.json', '--build-id', buildId, '--no-progress']);
    expect(built.exitCode, built.all).toBe(0);

    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    const query = encodeURIComponent(`ScigenBuildId="${buildId}" AND ScigenVerdict="accepted"`);
    await page.goto(`${server.uiUrl}/namespaces/default/workflows?query=${query}`);
    const problemLink = page.locator(`a[href*="${encodeURIComponent(`build/${buildId}/problem/`)}"]`).first();
    await problemLink.waitFor({ timeout: 60_000 });
    await problemLink.click();

    for (const step of [
      'classifyProblem',
      'planDiagram',
      'writeDiagramCode',
      'renderDiagram',
      'judgeImage',
      'answerQuizzes',
      'recordProblemResult',
    ]) {
      await page.getByText(step).first().waitFor({ timeout: 60_000 });
    }
    // Activity summaries make the timeline read like the pipeline. (recordProblemResult is a local
    // activity: the timeline draws its marker without the summary; test/e2e/audit.test.ts reads it.)
    for (const summary of ['render attempt 1', 'judge: five dimensions', /answer \d+ quizzes from the image alone/]) {
      await page.getByText(summary).first().waitFor({ timeout: 30_000 });
    }
    const directory = join(repositoryRoot, 'test-results');
    await mkdir(directory, { recursive: true });
    await page.screenshot({ path: join(directory, 'temporal-ui-problem.png'), fullPage: true });
    expect(page.url()).toContain(encodeURIComponent(`build/${buildId}/problem/`));
  });
});
