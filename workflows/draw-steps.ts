/**
 * How a generator makes its image: ImgCoder's plan -> code -> render with repairs (code), an image
 * model (pixel), an image made elsewhere (external), and the visual-feedback refinement of code images. Each step takes what it needs
 * and returns what it made; none touches the problem's result.
 */
import type { CodeStepOutput } from '../activities/code.ts';
import { critiqueOf, errorHeadline, withFindings } from '../domain/critique.ts';
import { judgeImage, type DrawnImage, type JudgedImage } from './evaluate-steps.ts';
import { searchAttributes, type GeneratorSettings } from './definitions.ts';
import { isStepFailure, reasonOf, type ProblemContext } from './problem-context.ts';

/** What the classify step decided, which every drawing step is told. */
export interface Diagram {
  subject: string;
  imageType: string;
}

/** The first image of a generator, or why there is none. `codeKey` is the last script written either way. */
export type Drawing = { renderAttempts: number; codeKey: string | null } & (
  { ok: true; image: DrawnImage } | { ok: false; reason: string }
);

/**
 * The code steps' common input: the problem, its plan, the generator and the model the step asks
 * (the generator's, or its revision model for repair and refine; '' = the worker's model for the step).
 */
function codeStepInput(
  context: ProblemContext,
  generator: GeneratorSettings,
  step: 'code' | 'repair' | 'refine',
  diagram: Diagram,
  planKey: string,
) {
  const model = step === 'code' ? generator.model : (generator.revisionModels?.[step] ?? generator.model);
  return {
    ...context.problem,
    ...diagram,
    planKey,
    generator: generator.name,
    ...(model === '' ? {} : { model }),
  };
}

/** The dpi, and the figure size when the build's protocol fixes one (absent from older builds' render inputs). */
function renderSize(context: ProblemContext): { dpi: number; figureInches?: { width: number; height: number } } {
  const figureInches = context.settings.protocol?.settings.figureInches;
  return { dpi: context.settings.dpi, ...(figureInches ? { figureInches } : {}) };
}

/**
 * ImgCoder: code from the plan, rendered; a failed render is repaired with its error (and what the
 * renderer measured) until the attempts run out.
 */
export async function drawWithCode(
  context: ProblemContext,
  generator: GeneratorSettings,
  diagram: Diagram,
  planKey: string,
  primary: boolean,
): Promise<Drawing> {
  const { llm, renderer, ledger, progress, settings } = context;
  const code = codeStepInput(context, generator, 'code', diagram, planKey);
  const repair = codeStepInput(context, generator, 'repair', diagram, planKey);
  const attempts = settings.maxRenderAttempts;
  let lastError = '';
  let lastFindings: readonly string[] = [];
  let previousKey: string | null = null;
  let codeKey: string | null = null;
  let attempt = 0;
  try {
    while (attempt < attempts) {
      attempt += 1;
      progress.enter('code', `render attempt ${attempt} of ${attempts}`, generator);
      const written: CodeStepOutput =
        previousKey === null
          ? await ledger.invoke(
              'code',
              () =>
                llm.writeDiagramCode.executeWithOptions(
                  { summary: progress.summary(`code for render attempt ${attempt}`, generator) },
                  [{ ...code, attempt }],
                ),
              generator,
            )
          : await ledger.invoke(
              'repair',
              () =>
                llm.repairDiagramCode.executeWithOptions(
                  {
                    summary: progress.summary(
                      `repair for render attempt ${attempt}: ${errorHeadline(lastError).slice(0, 80)}`,
                      generator,
                    ),
                  },
                  [{ ...repair, attempt, previousKey: previousKey!, error: withFindings(lastError, lastFindings) }],
                ),
              generator,
            );
      if (!written.ok) {
        lastError = `the answer held no usable script: ${written.reason}`;
        lastFindings = [];
        previousKey = written.answerKey;
        continue;
      }
      const writtenKey: string = written.value.codeKey;
      codeKey = writtenKey;
      progress.enter('render', `render attempt ${attempt} of ${attempts}`, generator);
      const rendered = await renderer.renderDiagram.executeWithOptions(
        { summary: progress.summary(`render attempt ${attempt}`, generator) },
        [
          {
            ...context.problem,
            generator: generator.name,
            codeKey: writtenKey,
            attempt,
            ...renderSize(context),
            timeoutSeconds: settings.renderTimeoutSeconds,
          },
        ],
      );
      if (primary) progress.note({ key: searchAttributes.renderAttempts, value: attempt });
      if (rendered.ok) {
        const image = {
          round: 0,
          imageKey: rendered.imageKey,
          codeKey: writtenKey,
          findings: rendered.flaws,
          critique: null,
        };
        return { ok: true, image, renderAttempts: attempt, codeKey: writtenKey };
      }
      lastError = `${rendered.kind}: ${rendered.message}`;
      lastFindings = rendered.findings;
      previousKey = writtenKey;
    }
  } catch (error) {
    if (!isStepFailure(error)) throw error;
    return { ok: false, reason: reasonOf(error, `${generator.name} failed`), renderAttempts: attempt, codeKey };
  }
  return {
    ok: false,
    reason: `render failed after ${attempt} attempts: ${errorHeadline(lastError)}`,
    renderAttempts: attempt,
    codeKey,
  };
}

/** The pixel paradigm: the image model draws the figure from the problem text. */
export async function drawWithImageModel(
  context: ProblemContext,
  generator: GeneratorSettings,
  diagram: Diagram,
): Promise<Drawing> {
  const { llm, ledger, progress } = context;
  progress.enter('image', `${generator.model} draws the figure`, generator);
  const drawn = await ledger.modelStep(
    'image',
    () =>
      llm.drawDiagramImage.executeWithOptions(
        { summary: progress.summary(`image: ${generator.model} draws the figure`, generator) },
        [
          {
            ...context.problem,
            ...diagram,
            generator: generator.name,
            model: generator.model,
            ...(generator.baseUrl === undefined ? {} : { baseUrl: generator.baseUrl }),
          },
        ],
      ),
    generator,
  );
  const image = { round: 0, imageKey: drawn.imageKey, codeKey: null, findings: [], critique: null };
  return { ok: true, image, renderAttempts: 0, codeKey: null };
}

/**
 * The external paradigm: the image a model elsewhere made for the problem, found by the problem's
 * id under the generator's `images` and copied into the build; none there is the generator's failure.
 */
export async function importExternalImage(context: ProblemContext, generator: GeneratorSettings): Promise<Drawing> {
  const { imports, progress } = context;
  const images = generator.images!;
  progress.enter('image', `the image made elsewhere, from ${images}`, generator);
  const imported = await imports.importExternalImage.executeWithOptions(
    { summary: progress.summary(`image: copied in from ${images}`, generator) },
    [{ ...context.problem, generator: generator.name, images }],
  );
  if (!imported.ok) return { ok: false, reason: imported.reason, renderAttempts: 0, codeKey: null };
  const image = { round: 0, imageKey: imported.imageKey, codeKey: null, findings: [], critique: null };
  return { ok: true, image, renderAttempts: 0, codeKey: null };
}

/**
 * Visual feedback: while the judge or the renderer reports a flaw and rounds remain, the code is
 * revised with that critique, rendered and judged again. Returns the new versions, oldest first,
 * and notes on a round that failed: refinement can only add versions, never lose the first.
 */
export async function refine(
  context: ProblemContext,
  generator: GeneratorSettings,
  diagram: Diagram,
  planKey: string,
  first: JudgedImage,
  renderAttempts: number,
): Promise<{ versions: JudgedImage[]; notes: string[] }> {
  const rounds = context.settings.refinementRounds ?? 0;
  const versions: JudgedImage[] = [];
  let latest = first;
  for (let round = 1; round <= rounds; round++) {
    const critique = critiqueOf(latest);
    if (critique === null || latest.codeKey === null) break;
    try {
      const refined = await refineOnce(context, generator, {
        diagram,
        planKey,
        latest,
        round,
        critique,
        renderAttempts,
      });
      if (!refined.ok) return { versions, notes: [refined.note] };
      versions.push(refined.image);
      latest = refined.image;
    } catch (error) {
      if (!isStepFailure(error)) throw error;
      return { versions, notes: [`refinement round ${round} failed: ${reasonOf(error)}`] };
    }
  }
  return { versions, notes: [] };
}

/** One refinement round: revised code, rendered and judged; a note when it made no image. */
async function refineOnce(
  context: ProblemContext,
  generator: GeneratorSettings,
  request: {
    diagram: Diagram;
    planKey: string;
    latest: JudgedImage;
    round: number;
    critique: string;
    renderAttempts: number;
  },
): Promise<{ ok: true; image: JudgedImage } | { ok: false; note: string }> {
  const { llm, renderer, ledger, progress, settings } = context;
  const { round, critique, renderAttempts: attempt } = request;
  progress.enter('refine', `round ${round} of ${settings.refinementRounds ?? 0}`, generator);
  const written = await ledger.invoke(
    'refine',
    () =>
      llm.refineDiagramCode.executeWithOptions(
        { summary: progress.summary(`refine round ${round}: ${critique.split('\n')[0]!.slice(0, 80)}`, generator) },
        [
          {
            ...codeStepInput(context, generator, 'refine', request.diagram, request.planKey),
            attempt,
            previousKey: request.latest.codeKey!,
            round,
            critique,
          },
        ],
      ),
    generator,
  );
  if (!written.ok) return { ok: false, note: `refinement round ${round} gave no usable script: ${written.reason}` };
  progress.enter('render', `refinement round ${round}`, generator);
  const rendered = await renderer.renderDiagram.executeWithOptions(
    { summary: progress.summary(`render refinement ${round}`, generator) },
    [
      {
        ...context.problem,
        generator: generator.name,
        codeKey: written.value.codeKey,
        attempt,
        round,
        ...renderSize(context),
        timeoutSeconds: settings.renderTimeoutSeconds,
      },
    ],
  );
  if (!rendered.ok) {
    const headline = errorHeadline(`${rendered.kind}: ${rendered.message}`);
    return { ok: false, note: `refinement round ${round} did not render: ${headline}` };
  }
  const image = {
    round,
    imageKey: rendered.imageKey,
    codeKey: written.value.codeKey,
    findings: rendered.flaws,
    critique,
  };
  return { ok: true, image: await judgeImage(context, generator, image) };
}
