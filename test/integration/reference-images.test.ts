import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { checkReferenceImages, stageReferenceImages } from '../../cli/reference-images.ts';
import { formatInputError, problemKey } from '../../domain/input.ts';
import { readProblemsFile } from '../../domain/read-input-file.ts';
import { createFileStore } from '../../storage/file-store.ts';
import { createCliSandbox } from '../helpers/cli.ts';
import { makePng } from '../helpers/png.ts';
import { useTemporaryDirectory } from '../helpers/temporary-directory.ts';

describe('reference images at staging', () => {
  const directory = useTemporaryDirectory('references');

  it('copies each reference into the store and sets reference_image_key', async () => {
    const relative = makePng(30, 20, { seed: 1 });
    const absolute = makePng(20, 30, { seed: 2 });
    await mkdir(join(directory.path, 'bench', 'images'), { recursive: true });
    await writeFile(join(directory.path, 'bench', 'images', 'a.PNG'), relative);
    await writeFile(join(directory.path, 'elsewhere.jpg'), absolute);
    const input = join(directory.path, 'bench', 'problems.json');
    await writeFile(
      input,
      JSON.stringify(
        [
          { id: 'a/1', question: 'q', image: 'images/a.PNG' },
          { id: 2, question: 'q', reference_image: pathToFileURL(join(directory.path, 'elsewhere.jpg')).href },
          { id: 3, question: 'q' },
        ],
        null,
        2,
      ),
    );
    const parsed = await checkReferenceImages(await readProblemsFile(input), input);
    expect(parsed.errors).toEqual([]);
    const store = createFileStore(join(directory.path, 'artifacts'));
    const staged = parsed.problems.map((problem) => ({ problemKey: problemKey(problem.id), problem }));
    await stageReferenceImages(store, 'build-1', staged, input);
    const [first, second, third] = staged.map((entry) => entry.problem);
    expect(first!.reference_image_key).toBe(`builds/build-1/references/${problemKey('a/1')}.png`);
    expect(second!.reference_image_key).toBe('builds/build-1/references/2.jpg');
    expect(third!.reference_image_key).toBeUndefined();
    expect(await store.get(first!.reference_image_key!)).toEqual(relative);
    expect(await store.get(second!.reference_image_key!)).toEqual(absolute);
  });

  it('turns a missing reference into an input error on its line', async () => {
    const input = join(directory.path, 'missing.jsonl');
    await writeFile(
      input,
      [
        JSON.stringify({ id: 1, question: 'q' }),
        JSON.stringify({ id: 2, question: 'q', image: 'nowhere/2.png' }),
        JSON.stringify({ id: 3, question: 'q', reference_image: '' }),
      ].join('\n'),
    );
    const parsed = await checkReferenceImages(await readProblemsFile(input), input);
    expect(parsed.problems.map((problem) => problem.id)).toEqual([1]);
    expect(parsed.sources).toEqual([{ line: 1, index: 0 }]);
    expect(parsed.errors.map((error) => formatInputError('missing.jsonl', error))).toEqual([
      `missing.jsonl:2: problem [1] (id 2): field "image": no such file: ${join(directory.path, 'nowhere', '2.png')}`,
      'missing.jsonl:3: problem [2] (id 3): field "reference_image": must be a path or a file:// or s3:// URI, got an empty string',
    ]);
    expect(parsed.errors[0]!.id).toBe(2);
  });

  it('makes scigen build refuse an input whose reference is missing, naming the line', async () => {
    const input = join(directory.path, 'cli.jsonl');
    await writeFile(
      input,
      `${JSON.stringify({ id: 1, question: 'q' })}\n${JSON.stringify({ id: 2, question: 'q', reference_image: 'gone.png' })}\n`,
    );
    const sandbox = await createCliSandbox('references');
    const run = await sandbox.run(['build', input, '--no-progress']);
    expect(run.exitCode, run.all).toBe(2);
    expect(run.stderr).toContain(
      `${input}:2: problem [1] (id 2): field "reference_image": no such file: ${join(directory.path, 'gone.png')}`,
    );
    await rm(sandbox.stateDirectory, { recursive: true, force: true });
  });
});
