import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { ManifestRecord } from '../../domain/manifest.ts';
import { readJsonLines } from '../helpers/cli.ts';
import { useTestCluster } from '../helpers/cluster.ts';

/** SeePhys's layout, written for the tests: data/seephys.json beside seephys_images/<id>.<ext>. */
const fixtures = fileURLToPath(new URL('../fixtures/validate/', import.meta.url));

const drawing =
  "```python\nimport matplotlib.pyplot as plt\nfig, ax = plt.subplots(figsize=(3, 2))\nax.plot([0, 1], [0, 1])\nax.set_title('setup')\nplt.show()\n```";

describe('scigen build --references: reference images attached by problem id', () => {
  const cluster = useTestCluster('references-by-id', async () => ({
    script: {
      problems: {
        '*': {
          classify: JSON.stringify({
            visualizable: true,
            reason: 'every given value can be drawn',
            subject: 'Physics',
            image_type: 'Physics - Field Diagram',
          }),
          plan: JSON.stringify({ content: ['the setup'], layout: ['centred'], labels: ['values'], constraints: [] }),
          code: drawing,
          judge:
            '{"Correctness_Fidelity": 2, "Layout_Precision": 2, "Readability_Occlusion": 2, "Scientific_Plausibility": 2, "Expressiveness_Richness": 2}',
          answer: 'The figure shows it. The answer is B.',
        },
      },
    },
  }));

  it("compares each image with <id>.<ext> from the folder, or the problem's own image, and counts the missing one", async () => {
    const buildId = 'references-by-id';
    const config = join(cluster.sandbox.stateDirectory, 'config.json');
    await writeFile(config, JSON.stringify({ refinement: { rounds: 0 }, render: { dpi: 60 } }));
    const built = await cluster.sandbox.run([
      'build',
      join(fixtures, 'seephys.json'),
      '--references',
      join(fixtures, 'seephys_images'),
      '--config',
      config,
      '--build-id',
      buildId,
      '--no-progress',
    ]);
    expect(built.exitCode, built.all).toBe(0);
    expect(built.stdout).toContain(
      `references: 3 found (1 named by the problems, 2 from ${join(fixtures, 'seephys_images')}, which holds 4 images), 1 missing\n  no image for 4104\n`,
    );

    const manifest = join(cluster.sandbox.stateDirectory, 'artifacts', 'builds', buildId, 'manifest.jsonl');
    const records = readJsonLines<ManifestRecord>(await readFile(manifest, 'utf8'));
    const byId = new Map(records.map((record) => [record.id, record]));
    expect([...byId.keys()].sort()).toEqual([4101, 4102, 4103, 4104]);
    const staged = (id: number) => byId.get(id)!.reference_image;
    expect(staged(4101)).toMatch(new RegExp(`/builds/${buildId}/references/4101\\.png$`));
    expect(staged(4102)).toMatch(new RegExp(`/builds/${buildId}/references/4102\\.jpg$`));
    expect(staged(4104)).toBeNull();
    // 4103 names its own image, which wins over the folder's 4103.png.
    expect(await readFile(fileURLToPath(staged(4103)!))).toEqual(await readFile(join(fixtures, 'own', '4103.png')));
    expect(await readFile(fileURLToPath(staged(4101)!))).toEqual(
      await readFile(join(fixtures, 'seephys_images', '4101.png')),
    );

    for (const id of [4101, 4102, 4103]) {
      const [result] = byId.get(id)!.results!;
      expect(result!.image, `${id}`).not.toBeNull();
      expect(result!.reference, `${id}: ${result!.notes.join('; ')}`).not.toBeNull();
      expect(Number.isFinite(result!.reference!.psnr)).toBe(true);
    }
    expect(byId.get(4104)!.results![0]!.reference).toBeNull();
  });
});
