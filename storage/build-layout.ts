/**
 * Every artifact key of a build, in one place: no other file spells a key. The layout under
 * `builds/<build-id>/`:
 *
 *   input.json                    what was staged (written last: its presence means complete)
 *   input/page-000000.jsonl       the staged problems, page by page
 *   invalid.jsonl                 manifest lines of input that failed validation (--skip-invalid)
 *   references/<problem>.<ext>    reference images copied in at staging
 *   records/<problem>.json        one problem's result (domain/problem-result.ts ProblemRecord)
 *   problems/<problem>/           problem.json, classification.json, plan.json, quizzes.json, and one
 *                                 folder per generator:
 *     <generator>/attempt-N/      the first code and each repair: answer, diagram.py, figures
 *     <generator>/refine-R/       refinement round R
 *     <generator>/judge-R.json, <generator>/image.<ext> (pixel, external); answers/quiz-N.json beside each image,
 *     and answers/ve-answer.json, answers/ve-grade.json (the VE question) beside the image asked it;
 *     <generator>/image-request.json (pixel), <generator>/image-source.json (external)
 *     batch/<seq>-<step>-<hash>.request.json, .answer.json   a model call sent through a batch and its answer
 *   batches/<provider>/<submission>.json   one submitted batch: its id and requests (batch mode)
 *   manifest.jsonl, summary.json  written when the build finishes
 *
 * Pure string functions with no imports, so workflow code may use them too.
 */

/** The store key prefix of one build. */
export function buildPrefix(buildId: string): string {
  return `builds/${buildId}`;
}

/** What `scigen build` wrote about the staged input; present once staging completed. */
export const inputDescriptionKey = (buildId: string) => `${buildPrefix(buildId)}/input.json`;

/** Prefix every staged page key starts with (for listing them). */
export const stagedPagesPrefix = (buildId: string) => `${buildPrefix(buildId)}/input/page-`;

/** The staged input, page by page: the build workflow reads one page at a time. */
export const stagedPageKey = (buildId: string, page: number) =>
  `${stagedPagesPrefix(buildId)}${String(page).padStart(6, '0')}.jsonl`;

/** Manifest lines of input lines that failed validation (`--skip-invalid`). */
export const invalidRecordsKey = (buildId: string) => `${buildPrefix(buildId)}/invalid.jsonl`;

/** A reference image staged for a problem, keeping its file extension (`.png`, `.jpg`, …). */
export const referenceImageKey = (buildId: string, problemKey: string, extension: string) =>
  `${buildPrefix(buildId)}/references/${problemKey}${extension}`;

/** The record of one finished problem; the manifest line is made from it when the build finishes. */
export const problemRecordKey = (buildId: string, problemKey: string) =>
  `${buildPrefix(buildId)}/records/${problemKey}.json`;

export const manifestKey = (buildId: string) => `${buildPrefix(buildId)}/manifest.jsonl`;
export const summaryKey = (buildId: string) => `${buildPrefix(buildId)}/summary.json`;

/** Names one problem of a build. */
export interface ProblemLocation {
  buildId: string;
  problemKey: string;
}

/** The folder of one problem's artifacts. */
export const problemFolder = (problem: ProblemLocation) =>
  `${buildPrefix(problem.buildId)}/problems/${problem.problemKey}`;

/** The problem as staged for its activities: they read its text here, not from their inputs. */
export const stagedProblemKey = (problem: ProblemLocation) => `${problemFolder(problem)}/problem.json`;

export const classificationKey = (problem: ProblemLocation) => `${problemFolder(problem)}/classification.json`;
export const planKey = (problem: ProblemLocation) => `${problemFolder(problem)}/plan.json`;
export const quizzesKey = (problem: ProblemLocation) => `${problemFolder(problem)}/quizzes.json`;

/** Names one generator's work on one problem. */
export interface GeneratorLocation extends ProblemLocation {
  /** The generator's name (config `generators[].name`); its artifacts live in a folder of that name. */
  generator: string;
}

/** `builds/<build>/problems/<problem>/<generator>`. */
export const generatorFolder = (location: GeneratorLocation) => `${problemFolder(location)}/${location.generator}`;

/**
 * The folder of one code version: `attempt-N` for the first code and its repairs, `refine-R` for
 * refinement round R.
 */
export function codeVersionFolder(location: GeneratorLocation, version: { attempt: number; round?: number }): string {
  const base = generatorFolder(location);
  return version.round ? `${base}/refine-${version.round}` : `${base}/attempt-${version.attempt}`;
}

/** The files of one code version. */
export const codeVersionFiles = (folder: string) => ({
  script: `${folder}/diagram.py`,
  answer: (step: string) => `${folder}/${step}-answer.md`,
  figure: (index: number) => `${folder}/figure-${index + 1}.png`,
  introspection: `${folder}/introspection.json`,
  renderLog: `${folder}/render.json`,
});

export const judgeKey = (location: GeneratorLocation, round: number) =>
  `${generatorFolder(location)}/judge-${round}.json`;

/** The answers to an image's questions live in an `answers` folder beside the image. */
function answersFolder(imageKey: string): string {
  const folder = imageKey.includes('/') ? imageKey.slice(0, imageKey.lastIndexOf('/')) : '';
  return `${folder}/answers`;
}

export function quizAnswerKey(imageKey: string, quizIndex: number): string {
  return `${answersFolder(imageKey)}/quiz-${quizIndex + 1}.json`;
}

/** The VE question's answer read from an image (step `visual-answer`), beside its quiz answers. */
export function visualAnswerKey(imageKey: string): string {
  return `${answersFolder(imageKey)}/ve-answer.json`;
}

/** The grader's verdict on that answer (step `grade`). */
export function visualAnswerGradeKey(imageKey: string): string {
  return `${answersFolder(imageKey)}/ve-grade.json`;
}

/**
 * A pixel or external generator's image (`image.png`, or `image.jpg` / `image.webp` for a JPEG or
 * WebP), then the pixel generator's request and the external generator's record of where its copy came from.
 */
export const drawnImageKey = (location: GeneratorLocation, extension: string) =>
  `${generatorFolder(location)}/image.${extension}`;
export const imageRequestKey = (location: GeneratorLocation) => `${generatorFolder(location)}/image-request.json`;
export const imageSourceKey = (location: GeneratorLocation) => `${generatorFolder(location)}/image-source.json`;

/**
 * A model call of batch mode: the request as it goes into the batch, keyed by the problem's call
 * sequence number, the step and a hash of the request, so the same call asks the same again.
 */
export const batchRequestKey = (problem: ProblemLocation, seq: number, step: string, hash: string) =>
  `${problemFolder(problem)}/batch/${seq}-${step}-${hash}.request.json`;

/** The answer (or the failure) a batch gave to the request at `requestKey`. */
export const batchAnswerKey = (requestKey: string) => requestKey.replace(/\.request\.json$/, '.answer.json');

/** One submitted batch: its provider id and the requests it holds (the batcher keeps only the key). */
export const batchSubmissionKey = (buildId: string, provider: string, submission: string) =>
  `${buildPrefix(buildId)}/batches/${provider}/${submission}.json`;

/** True for a string that is a key of some build's artifact (how inspect finds keys in activity results). */
export const isBuildArtifactKey = (value: string) => value.startsWith('builds/');
