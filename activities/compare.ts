import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CancelledFailure } from '@temporalio/common';
import { execa } from 'execa';
import type { ReferenceComparison } from '../domain/problem-result.ts';
import { findPython } from '../render/find-python.ts';
import { ArtifactNotFoundError, type ArtifactStore } from '../storage/artifact-store.ts';
import { currentCancellationSignal, withHeartbeats } from './activity-context.ts';

const compareScript = fileURLToPath(new URL('./compare-images.py', import.meta.url));

export interface CompareWithReferenceInput {
  buildId: string;
  problemKey: string;
  /** The generated image. */
  imageKey: string;
  /** The problem's staged reference image (`Problem.reference_image_key`). */
  referenceKey: string;
}

/**
 * PSNR in dB (null for identical images: infinite) and SSIM in [-1, 1], the way SciGenBench computes
 * them: RGB, the reference resized to the generated image's size (compare-images.py has the recipe).
 * An image that cannot be compared is a reason, not a failure: retrying would not change it.
 */
export type CompareWithReferenceOutput = ({ ok: true } & ReferenceComparison) | { ok: false; reason: string };

export interface CompareDependencies {
  store: ArtifactStore;
  /**
   * A Python with Pillow, NumPy and scikit-image: the render worker's interpreter.
   * @default findPython() (the project venv, else python3)
   */
  python?: string;
  /** @default 60 s */
  timeoutMs?: number;
}

export function createCompareWithReference(dependencies: CompareDependencies) {
  const { store } = dependencies;
  const timeoutMs = dependencies.timeoutMs ?? 60_000;

  async function read(key: string, what: string): Promise<Uint8Array | string> {
    try {
      return await store.get(key);
    } catch (error) {
      if (error instanceof ArtifactNotFoundError) return `the ${what} image ${store.uri(key)} does not exist`;
      throw error;
    }
  }

  return async function compareWithReference(input: CompareWithReferenceInput): Promise<CompareWithReferenceOutput> {
    const [reference, image] = await Promise.all([
      read(input.referenceKey, 'reference'),
      read(input.imageKey, 'generated'),
    ]);
    if (typeof reference === 'string') return { ok: false, reason: reference };
    if (typeof image === 'string') return { ok: false, reason: image };
    const python = dependencies.python ?? (await findPython());
    const directory = await mkdtemp(join(tmpdir(), 'scigen-compare-'));
    try {
      const referencePath = join(directory, 'reference');
      const imagePath = join(directory, 'generated');
      await Promise.all([writeFile(referencePath, reference), writeFile(imagePath, image)]);
      const result = await withHeartbeats(
        execa(python, ['-s', '-B', compareScript, referencePath, imagePath], {
          // The images are untrusted data; the script gets no keys, only what running Python needs.
          extendEnv: false,
          env: { PATH: `${dirname(python)}:/usr/bin:/bin`, HOME: directory, OMP_NUM_THREADS: '1' },
          cwd: directory,
          timeout: timeoutMs,
          killSignal: 'SIGKILL',
          maxBuffer: 64 * 1024,
          reject: false,
          ...(currentCancellationSignal() ? { cancelSignal: currentCancellationSignal()! } : {}),
        }),
      );
      if (result.timedOut) return { ok: false, reason: `the comparison took longer than ${timeoutMs / 1000} s` };
      if (result.isCanceled) throw new CancelledFailure('comparison cancelled');
      if (result.exitCode !== 0) {
        // The script reports bad images itself; a crash here means the interpreter is unusable.
        throw new Error(
          `${python} compare-images.py exited with ${result.exitCode ?? result.signal}: ${String(result.stderr).trim().split('\n').slice(-3).join(' | ')}`,
        );
      }
      return JSON.parse(String(result.stdout).trim().split('\n').at(-1) ?? '') as CompareWithReferenceOutput;
    } finally {
      await rm(directory, { recursive: true, force: true });
    }
  };
}
