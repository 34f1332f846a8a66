import { z } from 'zod';

const stepModels = z
  .object({
    classify: z.string().min(1),
    plan: z.string().min(1),
    code: z.string().min(1),
    repair: z.string().min(1),
    judge: z.string().min(1),
    quiz: z.string().min(1),
    answer: z.string().min(1),
  })
  .strict();

const stepTemperatures = z
  .object({
    classify: z.number().min(0).max(2),
    plan: z.number().min(0).max(2),
    code: z.number().min(0).max(2),
    repair: z.number().min(0).max(2),
    judge: z.number().min(0).max(2),
    quiz: z.number().min(0).max(2),
    answer: z.number().min(0).max(2),
  })
  .strict();

/** USD per million tokens, keyed by model name. Unknown models cost 0 and are reported once. */
const priceTable = z.record(
  z.string(),
  z.object({ input: z.number().nonnegative(), output: z.number().nonnegative() }).strict(),
);

/**
 * The whole configuration. Defaults live here; `config/load.ts` merges
 * explicit value > config file > environment > default, then parses once.
 */
export const configSchema = z
  .object({
    /** Which model provider answers. `auto`: gemini if GEMINI_API_KEY, else openai if OPENAI_API_KEY, else scripted. */
    provider: z.enum(['auto', 'gemini', 'openai', 'scripted']).default('auto'),
    openai: z
      .object({
        /** OpenAI-compatible base URL (vLLM, Ollama, proxies). @default OPENAI_BASE_URL or the SDK's default */
        baseUrl: z.url().optional(),
        models: stepModels.default({
          classify: 'gpt-4.1-mini',
          plan: 'gpt-4.1',
          code: 'gpt-4.1',
          repair: 'gpt-4.1',
          judge: 'gpt-4.1-mini',
          quiz: 'gpt-4.1-mini',
          answer: 'gpt-4.1-mini',
        }),
      })
      .strict()
      .prefault({}),
    gemini: z
      .object({
        baseUrl: z.url().optional(),
        models: stepModels.default({
          classify: 'gemini-2.5-flash',
          plan: 'gemini-2.5-pro',
          code: 'gemini-2.5-pro',
          repair: 'gemini-2.5-pro',
          judge: 'gemini-2.5-flash',
          quiz: 'gemini-2.5-flash',
          answer: 'gemini-2.5-flash',
        }),
      })
      .strict()
      .prefault({}),
    scripted: z
      .object({
        /** The hand-written answers the demo endpoint serves. */
        responses: z.string().min(1).default('samples/scripted-responses.json'),
      })
      .strict()
      .prefault({}),
    temperatures: stepTemperatures.default({
      classify: 0.1,
      plan: 0.4,
      code: 0.2,
      repair: 0.2,
      judge: 0.1,
      quiz: 0.3,
      answer: 0,
    }),
    prices: priceTable.default({}),
    llm: z
      .object({
        /** One HTTP request's limit. @default 120 */
        requestTimeoutSeconds: z.number().positive().default(120),
        /** Temporal attempts per model call (retryable faults only). @default 8 */
        maxAttempts: z.int().min(1).default(8),
      })
      .strict()
      .prefault({}),
    temporal: z
      .object({
        /** An existing cluster (host:port). Absent: the embedded dev server. */
        address: z.string().min(1).optional(),
        namespace: z.string().min(1).default('default'),
        /** Task queues are `<prefix>-workflows`, `<prefix>-llm`, `<prefix>-render`. @default "scigen" */
        taskQueuePrefix: z
          .string()
          .regex(/^[A-Za-z0-9._-]+$/, 'letters, digits, ".", "_" and "-" only')
          .default('scigen'),
        devServer: z
          .object({
            port: z.int().min(1).max(65535).default(7233),
            uiPort: z.int().min(1).max(65535).default(8233),
          })
          .strict()
          .prefault({}),
      })
      .strict()
      .prefault({}),
    /** Where scigen keeps local state: the dev server database and, by default, artifacts. */
    stateDirectory: z.string().min(1).default('.scigen'),
    /** `file://path` or `s3://bucket/prefix`. @default file://<stateDirectory>/artifacts */
    artifacts: z.string().min(1).optional(),
    render: z
      .object({
        /** Python with matplotlib. @default SCIGEN_PYTHON, the project venv, then python3 */
        python: z.string().min(1).optional(),
        dpi: z.int().min(30).max(600).default(150),
        timeoutSeconds: z.number().positive().max(600).default(20),
        /** Render attempts per problem: the first code plus repairs. @default 3 */
        maxAttempts: z.int().min(1).max(10).default(3),
        /** Concurrent renders per worker. @default number of cores */
        slots: z.int().min(1).optional(),
      })
      .strict()
      .prefault({}),
    build: z
      .object({
        /** Problems in flight at once per build (the sliding window); change it live with `scigen window`. @default 32 */
        windowSize: z.int().min(1).max(10_000).default(32),
        /** Pause the build once finished problems cost this much (USD); resume with a higher budget. */
        budgetUsd: z.number().positive().optional(),
        /** Problems per staged input page: the unit the build reads and finalizes in. @default 500 */
        pageSize: z.int().min(1).max(100_000).default(500),
        /** Continue as new once a build run's history has this many events (or when the server suggests it). @default 10000 */
        continueAsNewEvents: z.int().min(100).max(40_000).default(10_000),
      })
      .strict()
      .prefault({}),
    policy: z
      .object({
        minEachDimension: z.int().min(0).max(2).default(1),
        minCorrectnessFidelity: z.int().min(0).max(2).default(2),
        minRInv: z.number().min(0).max(1).default(0.75),
      })
      .strict()
      .prefault({}),
    workers: z
      .object({
        /** Concurrent model calls per llm worker. @default 32 */
        llmConcurrency: z.int().min(1).default(32),
      })
      .strict()
      .prefault({}),
  })
  .strict();

export type Config = z.output<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;
