import type { Renderer } from '../render/renderer.ts';
import type { ArtifactStore } from '../storage/artifact-store.ts';
import type { BatchCallOptions } from '../domain/batch.ts';
import { runBatchable } from './batch-calls.ts';
import type { ProblemRef } from './types.ts';
import { createAnswerQuizzes } from './answer.ts';
import { createClassifyProblem } from './classify.ts';
import { createRefineDiagramCode, createRepairDiagramCode, createWriteDiagramCode } from './code.ts';
import { createDrawDiagramImage } from './draw.ts';
import { createCompareWithReference } from './compare.ts';
import { createJudgeImage } from './judge.ts';
import type { ModelCallSettings } from './model-call.ts';
import { createPlanDiagram } from './plan.ts';
import { loadPrompts, type Prompts } from './prompts.ts';
import { createGenerateQuizzes } from './quiz.ts';
import { createGradeVisualAnswer } from './grade.ts';
import { createAnswerVisualQuestion } from './visual-answer.ts';
import { createFinalizeBuild } from './finalize.ts';
import { createImportExternalImage } from './import-image.ts';
import { createRecordActivities } from './record.ts';
import { createRenderDiagram } from './render.ts';

/** Every model call: registered on the `llm` task queue. */
export function createLlmActivities(dependencies: {
  model: ModelCallSettings;
  store: ArtifactStore;
  prompts?: Prompts;
}) {
  const stepDependencies = { ...dependencies, prompts: dependencies.prompts ?? loadPrompts() };
  return batchable(dependencies.store, {
    classifyProblem: createClassifyProblem(stepDependencies),
    planDiagram: createPlanDiagram(stepDependencies),
    writeDiagramCode: createWriteDiagramCode(stepDependencies),
    repairDiagramCode: createRepairDiagramCode(stepDependencies),
    refineDiagramCode: createRefineDiagramCode(stepDependencies),
    drawDiagramImage: createDrawDiagramImage(stepDependencies),
    judgeImage: createJudgeImage(stepDependencies),
    generateQuizzes: createGenerateQuizzes(stepDependencies),
    answerQuizzes: createAnswerQuizzes(stepDependencies),
    answerVisualQuestion: createAnswerVisualQuestion(stepDependencies),
    gradeVisualAnswer: createGradeVisualAnswer(stepDependencies),
  });
}

/**
 * The model steps, each also runnable in batch mode: given `batch` in its input, its calls are
 * answered from batches, and it returns `{ deferred }` while some wait (activities/batch-calls.ts).
 * Typed as the steps themselves: the problem workflow's batch wrapper (workflows/batched-steps.ts)
 * is the one caller that passes `batch` and sees `{ deferred }`.
 */
function batchable<Steps extends Record<string, (input: any) => Promise<unknown>>>(
  store: ArtifactStore,
  steps: Steps,
): Steps {
  return Object.fromEntries(
    Object.entries(steps).map(([name, step]) => [
      name,
      (input: ProblemRef & { batch?: BatchCallOptions }) => runBatchable(store, input, input.batch, () => step(input)),
    ]),
  ) as Steps;
}

/**
 * CPU-bound rendering of untrusted code, and image comparison: registered on the `render` task queue.
 * `python` is the interpreter that compares images (scikit-image), the renderer's own.
 */
export function createRenderActivities(dependencies: { renderer: Renderer; store: ArtifactStore; python?: string }) {
  return {
    renderDiagram: createRenderDiagram(dependencies),
    compareWithReference: createCompareWithReference(dependencies),
  };
}

/**
 * Light storage work next to the workflows: registered on the `workflows` task queue. `s3PathStyle`
 * is how external generators' images on S3 are addressed (config `s3PathStyle`).
 */
export function createStorageActivities(dependencies: { store: ArtifactStore; s3PathStyle?: boolean }) {
  return {
    ...createRecordActivities(dependencies),
    finalizeBuild: createFinalizeBuild(dependencies),
    importExternalImage: createImportExternalImage(dependencies),
  };
}

export type LlmActivities = ReturnType<typeof createLlmActivities>;
export type RenderActivities = ReturnType<typeof createRenderActivities>;
export type StorageActivities = ReturnType<typeof createStorageActivities>;
