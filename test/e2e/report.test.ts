import { mkdir, mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BuildSummary } from '../../domain/summary.ts';
import { launchChromium } from '../helpers/browser.ts';
import { repositoryRoot } from '../helpers/cli.ts';
import { startTestCluster, type TestCluster } from '../helpers/cluster.ts';
import { loadSampleScript } from '../helpers/samples.ts';

/** What the test reads of an <img> (the project compiles without the DOM library). */
interface LoadedImage {
  naturalWidth: number;
}

describe('scigen report on a finished build, opened from file:// in Chromium', () => {
  let cluster: TestCluster;
  let browser: Browser;

  beforeAll(async () => {
    cluster = await startTestCluster('report', { script: await loadSampleScript() });
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await cluster?.close();
  });

  it('is written after the build, rewritten by the command, and renders leaderboard, charts, images and filters', async () => {
    const buildId = 'report-e2e';
    const built = await cluster.sandbox.run([
      'build',
      'samples/problems.jsonl',
      '--build-id',
      buildId,
      '--json',
      '--no-progress',
    ]);
    expect(built.exitCode, built.all).toBe(0);
    const defaultIndex = join(cluster.sandbox.stateDirectory, 'reports', buildId, 'index.html');
    expect(built.stderr).toContain(`report: ${defaultIndex}`);
    const summary = JSON.parse(built.stdout.trim().split('\n').at(-1)!) as BuildSummary;
    expect(summary.build_id).toBe(buildId);

    const out = await mkdtemp(join(tmpdir(), 'scigen-report-e2e-'));
    const reported = await cluster.sandbox.run(['report', buildId, '--out', out]);
    expect(reported.exitCode, reported.all).toBe(0);
    const indexPath = join(out, 'index.html');
    expect(reported.stdout).toContain(`report: ${indexPath} (${summary.problems} problems`);
    expect(await readFile(indexPath, 'utf8')).toContain('R_inv by subject');

    const unknown = await cluster.sandbox.run(['report', 'no-such-build']);
    expect(unknown.exitCode).toBe(2);
    expect(unknown.stderr).toContain('build no-such-build has no manifest');

    const page = await browser.newPage({ viewport: { width: 1440, height: 1000 } });
    const errors: string[] = [];
    const remote: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    page.on('request', (request) => {
      if (!request.url().startsWith('file:')) remote.push(request.url());
    });
    await page.goto(pathToFileURL(indexPath).href);
    await page.locator('#gallery-grid .card').first().waitFor();

    const cards = page.locator('#gallery-grid .card');
    const total = await cards.count();
    expect(total).toBe(Math.min(summary.problems, 24));
    const images = page.locator('#gallery-grid a.image img');
    const imageCount = await images.count();
    expect(imageCount).toBe(summary.verdicts.accepted + summary.verdicts.rejected);
    for (let position = 0; position < imageCount; position++) {
      const image = images.nth(position);
      await image.scrollIntoViewIfNeeded();
      await expect
        .poll(() => image.evaluate((element) => (element as unknown as LoadedImage).naturalWidth))
        .toBeGreaterThan(0);
    }

    await page.locator('#verdict-filter button[data-verdict="accepted"]').click();
    await expect.poll(() => cards.count()).toBe(summary.verdicts.accepted);
    expect(
      new Set(await cards.evaluateAll((elements) => elements.map((element) => element.getAttribute('data-verdict')))),
    ).toEqual(new Set(['accepted']));
    await page.locator('#verdict-filter button[data-verdict="skipped"]').click();
    await expect.poll(() => cards.count()).toBe(summary.verdicts.skipped);
    expect(await cards.first().getAttribute('data-verdict')).toBe('skipped');
    await page.locator('#verdict-filter button[data-verdict="all"]').click();
    await expect.poll(() => cards.count()).toBe(total);

    const physicsValue = await page
      .locator('#subject-filter option', { hasText: 'Physics' })
      .first()
      .getAttribute('value');
    await page.locator('#subject-filter').selectOption(physicsValue!);
    const physics = await cards.evaluateAll((elements) =>
      elements.map((element) => element.querySelector('.meta')?.textContent ?? ''),
    );
    expect(physics.length).toBeGreaterThan(0);
    for (const meta of physics) expect(meta.startsWith('Physics')).toBe(true);
    await page.locator('#subject-filter').selectOption('-1');

    expect(await page.locator('table.board').first().textContent()).toContain('imgcoder');
    expect(await page.locator('svg.chart').count()).toBe(4);
    expect(errors).toEqual([]);
    expect(remote).toEqual([]);

    await page.evaluate('window.scrollTo(0, 0)');
    const directory = join(repositoryRoot, 'test-results');
    await mkdir(directory, { recursive: true });
    await page.screenshot({ path: join(directory, 'report.png'), fullPage: true });
  });
});
