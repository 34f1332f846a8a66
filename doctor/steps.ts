import { stepModel, type ModelStep } from '../activities/model-call.ts';
import type { Config } from '../config/schema.ts';
import { protocolSettings } from '../domain/protocol.ts';

/** What a step asks of its model. */
export interface StepNeeds {
  /** The step asks for a JSON answer (a response schema). */
  json: boolean;
  /** The step sends an image the model must see. */
  vision: boolean;
}

/**
 * What each model step needs of its model, for the doctor's checks. A new model step is one line
 * here (the type makes it required once the step is in domain/types.ts STEPS).
 */
export const STEP_NEEDS = {
  classify: { json: true, vision: false },
  plan: { json: true, vision: false },
  code: { json: false, vision: false },
  repair: { json: false, vision: false },
  refine: { json: false, vision: false },
  judge: { json: true, vision: true },
  quiz: { json: true, vision: false },
  answer: { json: false, vision: true },
  'visual-answer': { json: false, vision: true },
  grade: { json: true, vision: false },
} as const satisfies Record<ModelStep, StepNeeds>;

/** One step's model as a build would call it. */
export interface StepModel {
  step: ModelStep;
  model: string;
  /** The code generator whose own model this is; absent for the provider's per-step models. */
  generator?: string;
  needs: StepNeeds;
}

/** The steps to check and their models, as a build with this config calls them (cli/commands/build.ts problemSettings). */
export function configuredStepModels(config: Config, provider: 'openai' | 'gemini'): StepModel[] {
  const { models } = config[provider];
  const modelOf = (step: ModelStep): string => stepModel({ models }, step);
  // Steps the build's protocol leaves out are not checked: refine without refinement rounds, the VE steps without VE.
  const { settings } = protocolSettings({
    protocol: config.protocol,
    refinementRounds: config.refinement.rounds,
    dpi: config.render.dpi,
    visualAnswer: config.ve,
  });
  const runs = (step: ModelStep): boolean =>
    step === 'refine'
      ? settings.refinementRounds > 0
      : step === 'visual-answer' || step === 'grade'
        ? settings.visualAnswer
        : true;
  const steps: StepModel[] = [];
  for (const step of Object.keys(STEP_NEEDS) as ModelStep[]) {
    if (runs(step)) steps.push({ step, model: modelOf(step), needs: STEP_NEEDS[step] });
  }
  // A code generator that names its model writes, repairs and refines its code with it.
  for (const generator of config.generators) {
    if (generator.paradigm !== 'code' || generator.model === undefined) continue;
    for (const step of ['code', 'repair', 'refine'] as const)
      if (runs(step) && generator.model !== modelOf(step))
        steps.push({ step, model: generator.model, generator: generator.name, needs: STEP_NEEDS[step] });
  }
  return steps;
}
