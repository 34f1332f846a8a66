import { describeFindings, describeFlaws } from '../render/introspection.ts';
import type { RenderErrorKind, RenderIntrospection, Renderer } from '../render/renderer.ts';
import type { ArtifactStore } from '../storage/artifact-store.ts';
import { currentCancellationSignal, withHeartbeats } from './activity-context.ts';
import { codeVersionFiles, codeVersionFolder } from '../storage/build-layout.ts';
import type { GeneratorRef } from './types.ts';

export interface RenderDiagramInput extends GeneratorRef {
  codeKey: string;
  attempt: number;
  /** The refinement round (0 or absent: not a refinement). */
  round?: number;
  dpi: number;
  /** Resize every figure to this and save it whole (a protocol's fixed image size); absent: the script's size, cropped tight. */
  figureInches?: { width: number; height: number };
  timeoutSeconds: number;
}

/**
 * `findings` are short sentences from the harness's introspection ("label 'F = 25 N' overlaps an
 * arrow", "the figure is blank …"); the whole record is the `introspectionKey` artifact.
 */
export type RenderDiagramOutput = (
  | {
      ok: true;
      imageKey: string;
      figureKeys: string[];
      width: number;
      height: number;
      /** The findings worth a refinement round: overlapping texts, a blank figure, unreadable type. */
      flaws: string[];
    }
  | { ok: false; kind: RenderErrorKind; message: string }
) & { introspectionKey: string | null; findings: string[] };

export function createRenderDiagram(dependencies: { renderer: Renderer; store: ArtifactStore }) {
  return async function renderDiagram(input: RenderDiagramInput): Promise<RenderDiagramOutput> {
    const code = await dependencies.store.getText(input.codeKey);
    const files = codeVersionFiles(codeVersionFolder(input, input));
    const result = await withHeartbeats(
      dependencies.renderer.render({
        code,
        jobId: `${input.problemKey}-${input.generator}-${input.round ? `r${input.round}` : input.attempt}`.replace(
          /[^A-Za-z0-9._-]/g,
          '_',
        ),
        dpi: input.dpi,
        ...(input.figureInches ? { figureInches: input.figureInches } : {}),
        timeoutMs: input.timeoutSeconds * 1000,
        signal: currentCancellationSignal(),
      }),
    );
    const { output, durationMs } = result;
    const findings = describeFindings(result.introspection);
    const introspectionKey = await storeIntrospection(dependencies.store, files.introspection, result.introspection);
    if (!result.ok) {
      await dependencies.store.put(
        files.renderLog,
        JSON.stringify(
          { ok: false, kind: result.kind, message: result.message, findings, output, durationMs },
          null,
          2,
        ),
        'application/json',
      );
      return { ok: false, kind: result.kind, message: result.message, introspectionKey, findings };
    }
    const figureKeys = result.images.map((_, index) => files.figure(index));
    await Promise.all(
      result.images.map((image, index) => dependencies.store.put(figureKeys[index]!, image, 'image/png')),
    );
    await dependencies.store.put(
      files.renderLog,
      JSON.stringify(
        { ok: true, figures: figureKeys, width: result.width, height: result.height, findings, output, durationMs },
        null,
        2,
      ),
      'application/json',
    );
    const flaws = describeFlaws(result.introspection);
    return {
      ok: true,
      imageKey: figureKeys[0]!,
      figureKeys,
      width: result.width,
      height: result.height,
      introspectionKey,
      findings,
      flaws,
    };
  };
}

/** Every text, box and overlap the harness measured, next to the figures, for the report to show. */
async function storeIntrospection(
  store: ArtifactStore,
  key: string,
  introspection: RenderIntrospection | undefined,
): Promise<string | null> {
  if (introspection === undefined) return null;
  await store.put(key, JSON.stringify(introspection, null, 2), 'application/json');
  return key;
}
