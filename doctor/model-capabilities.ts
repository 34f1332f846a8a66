import type { StructuredOutputMode } from '../providers/structured-output.ts';
import type { VisionVerdict } from './canary.ts';

/**
 * What this process has learnt about one model server's models: the structured-output mode that
 * works for each and whether each sees images. One instance per server (provider and base URL),
 * shared by the doctor and the llm worker of the same process, so an embedded build's preflight
 * answers the worker's questions and a dedicated worker learns it once, on its first call, rather
 * than once per problem. Activities are stateless across workers; this is per-process memory
 * only, which is fine: another process learns the same again at the cost of one call.
 */
export class ModelCapabilities {
  private readonly modes = new Map<string, StructuredOutputMode>();
  private readonly vision = new Map<string, Promise<VisionVerdict>>();

  /** The mode to use for a model: the one learnt, else the first the setting allows. */
  structuredMode(model: string, allowed: readonly StructuredOutputMode[]): StructuredOutputMode {
    const learnt = this.modes.get(model);
    return learnt !== undefined && allowed.includes(learnt) ? learnt : allowed[0]!;
  }

  /** Records the mode a probe found to work. */
  recordStructuredMode(model: string, mode: StructuredOutputMode): void {
    this.modes.set(model, mode);
  }

  /**
   * After the server refused `refused` for a model: the next mode to use, or undefined when none is
   * left. Calls that were refused together step down once: a caller whose mode is already behind
   * gets the current one. `changed` says whether this call made the step (and should log it).
   */
  stepDown(
    model: string,
    refused: StructuredOutputMode,
    allowed: readonly StructuredOutputMode[],
  ): { mode: StructuredOutputMode; changed: boolean } | undefined {
    const current = this.structuredMode(model, allowed);
    if (allowed.indexOf(current) > allowed.indexOf(refused)) return { mode: current, changed: false };
    const next = allowed[allowed.indexOf(refused) + 1];
    if (next === undefined) return undefined;
    this.modes.set(model, next);
    return { mode: next, changed: true };
  }

  /**
   * Whether a model sees images, asking `check` the first time only. Concurrent askers share one
   * check; a check that failed (the server was down) is forgotten, so the next asker tries again.
   */
  async sees(model: string, check: () => Promise<VisionVerdict>): Promise<VisionVerdict> {
    let verdict = this.vision.get(model);
    if (verdict === undefined) {
      verdict = check();
      this.vision.set(model, verdict);
      verdict.catch(() => {
        if (this.vision.get(model) === verdict) this.vision.delete(model);
      });
    }
    return verdict;
  }
}
