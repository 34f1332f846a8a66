import type { ExportItem } from './items.ts';

/** Something that turns items into files under an output folder. */
export interface ExportWriter {
  /** False when the format only names images by URI, so their bytes need not be read. */
  readonly needsImageBytes: boolean;
  add(item: ExportItem, image: Uint8Array | null): Promise<void>;
  /** Moves the finished output into place; returns the paths written. */
  finish(): Promise<string[]>;
  /** Removes what a failed export left half-written. */
  abort(): Promise<void>;
}

/** The flat, snake_case record the jsonl export writes and the imagefolder metadata builds on. */
export function itemRecord(item: ExportItem) {
  return {
    id: item.id,
    problem_id: item.problemId,
    generator: item.generator,
    paradigm: item.paradigm,
    model: item.model,
    verdict: item.verdict,
    reasons: item.reasons,
    question: item.question,
    answer: item.answer,
    subject: item.subject,
    image_type: item.imageType,
    image: item.image,
    code: item.code,
    plan: item.plan,
    judge: item.judge,
    r_inv: item.rInv,
    reference: item.reference,
    extra: item.extra,
  };
}

/** A partial output's name next to its final one, so the last rename never crosses a filesystem. */
export function partialPath(finalPath: string): string {
  return `${finalPath}.partial-${process.pid}`;
}
