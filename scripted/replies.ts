import { DOCTOR_PROBLEM_ID } from '../doctor/canary.ts';
import type { ImageView } from './image-view.ts';
import type { Script, ScriptedFault, ScriptedImage, ScriptedReply, ScriptedStepReplies } from './script.ts';

/** Where faults added at run time apply. */
export interface FaultTarget {
  problem: string;
  step: string;
  /** Only requests whose text contains this. */
  when?: string;
}

/**
 * A script's replies as the endpoint consults them: per problem and step, in order, counting the
 * uses of faults and of text replies with `times` (the matching rules are in script.ts).
 */
export class ScriptedReplies {
  private replies: Map<string, Map<string, ScriptedReply[]>>;
  /** How many requests each fault, or each text reply with `times`, has answered. */
  private readonly uses = new Map<ScriptedReply, number>();

  constructor(script: Script) {
    this.replies = normalizeScript(script);
  }

  /**
   * The reply a request gets, counting it as used; undefined when none is left for it.
   * `seeImage` looks at the request's first image (undefined: it carried no readable image); it is
   * called only for a reply that depends on the image, since decoding costs time.
   */
  select(
    problem: string,
    step: string,
    text: string,
    seeImage: () => ImageView | undefined = () => undefined,
  ): ScriptedReply | undefined {
    for (const reply of this.candidates(problem, step)) {
      if (reply.when !== undefined && !text.includes(reply.when)) continue;
      if (reply.whenImage !== undefined) {
        const image = seeImage();
        if (image?.width !== reply.whenImage.width || image.height !== reply.whenImage.height) continue;
      }
      const times = reply.fault ? (reply.fault.times ?? 1) : reply.times;
      if (times !== undefined) {
        const used = this.uses.get(reply) ?? 0;
        if (used >= times) continue;
        this.uses.set(reply, used + 1);
      }
      if (reply.fault || reply.text !== undefined || reply.image !== undefined) return reply;
    }
    return undefined;
  }

  /** The picture a request would get once its faults are used up (what a `cut-body` fault cuts); the placeholder when none is scripted. */
  image(problem: string, step: string, text: string): ScriptedImage {
    return (
      this.candidates(problem, step).find(
        (reply) => reply.image !== undefined && (reply.when === undefined || text.includes(reply.when)),
      )?.image ?? {}
    );
  }

  /** The text reply a request would get once its faults are used up (what a `truncated` fault cuts). */
  text(problem: string, step: string, text: string): string | undefined {
    return this.candidates(problem, step).find(
      (reply) => reply.text !== undefined && (reply.when === undefined || text.includes(reply.when)),
    )?.text;
  }

  /** Puts faults ahead of the scripted replies of one problem and step. */
  addFaults(target: FaultTarget, faults: ScriptedFault[]): void {
    const steps = this.replies.get(target.problem) ?? new Map<string, ScriptedReply[]>();
    this.replies.set(target.problem, steps);
    const added = faults.map((fault): ScriptedReply =>
      target.when === undefined ? { fault } : { when: target.when, fault },
    );
    steps.set(target.step, [...added, ...(steps.get(target.step) ?? [])]);
  }

  /** Replaces the script; faults start counting afresh. */
  replace(script: Script): void {
    this.replies = normalizeScript(script);
    this.uses.clear();
  }

  /** Faults and counted replies start counting afresh. */
  resetUses(): void {
    this.uses.clear();
  }

  private candidates(problem: string, step: string): ScriptedReply[] {
    // Problem-specific replies first, then the '*' fallback, so a problem can script one step
    // (or one `when`) and leave the rest to the shared answers. The doctor's probes belong to no
    // problem: '*' does not cover them (a script may still name DOCTOR_PROBLEM_ID to fault them).
    const list = [...(this.replies.get(problem)?.get(step) ?? [])];
    if (problem !== '*' && problem !== DOCTOR_PROBLEM_ID) list.push(...(this.replies.get('*')?.get(step) ?? []));
    return list;
  }
}

function normalizeScript(script: Script): Map<string, Map<string, ScriptedReply[]>> {
  const problems = new Map<string, Map<string, ScriptedReply[]>>();
  for (const [problem, steps] of Object.entries(script.problems)) {
    const normalizedSteps = new Map<string, ScriptedReply[]>();
    for (const [step, stepReplies] of Object.entries(steps)) {
      if (stepReplies !== undefined) normalizedSteps.set(step, normalizeReplies(stepReplies));
    }
    problems.set(problem, normalizedSteps);
  }
  return problems;
}

function normalizeReplies(stepReplies: ScriptedStepReplies): ScriptedReply[] {
  if (typeof stepReplies === 'string') return [{ text: stepReplies }];
  return Array.isArray(stepReplies) ? stepReplies : [stepReplies];
}
