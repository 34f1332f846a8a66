import type { Step, Usage } from '../domain/types.ts';
import type { ModelPart, ModelProvider } from '../providers/provider.ts';
import { currentCancellationSignal, withHeartbeats } from './activity-context.ts';

export type ModelStep = Exclude<Step, 'refine' | 'image'>;

/** USD per million tokens. */
export type PriceTable = Record<string, { input: number; output: number }>;

export interface ModelCallSettings {
  provider: ModelProvider;
  models: Record<ModelStep, string>;
  temperatures: Record<ModelStep, number>;
  prices: PriceTable;
}

export interface ModelCall {
  step: ModelStep;
  problemId: string | number;
  system?: string;
  parts: ModelPart[];
}

/** One model request for a step, with the step's model and temperature; returns the text and its cost. */
export async function callModel(settings: ModelCallSettings, call: ModelCall): Promise<{ text: string; usage: Usage }> {
  const model = settings.models[call.step];
  const response = await withHeartbeats(settings.provider.generate({
    step: call.step,
    problemId: String(call.problemId),
    model,
    system: call.system,
    parts: call.parts,
    temperature: settings.temperatures[call.step],
    signal: currentCancellationSignal(),
  }));
  const price = settings.prices[model] ?? settings.prices[response.model];
  const cost = price
    ? (response.usage.inputTokens * price.input + response.usage.outputTokens * price.output) / 1_000_000
    : 0;
  return {
    text: response.text,
    usage: { input_tokens: response.usage.inputTokens, output_tokens: response.usage.outputTokens, cost_usd: cost },
  };
}

