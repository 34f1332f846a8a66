import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import type { Credentials } from './environment.ts';
import { STEPS } from '../domain/types.ts';

/** The demo endpoint's answers shipped with scigen: found wherever scigen is run from. */
const BUNDLED_SCRIPTED_RESPONSES = fileURLToPath(new URL('../samples/scripted-responses.json', import.meta.url));

const stepModels = z
  .object({
    classify: z.string().min(1),
    plan: z.string().min(1),
    code: z.string().min(1),
    repair: z.string().min(1),
    judge: z.string().min(1),
    quiz: z.string().min(1),
    answer: z.string().min(1),
    /** The refinement round's model. @default the repair model */
    refine: z.string().min(1).optional(),
    /** The VE step's vision model, which answers the problem's `multimodal_question` from the image. @default the answer model */
    visualAnswer: z.string().min(1).optional(),
    /** The VE step's grader, a text model that checks that answer against the problem's `answer`. @default the quiz model */
    grade: z.string().min(1).optional(),
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
    /** @default the repair temperature */
    refine: z.number().min(0).max(2).optional(),
    /** @default the answer temperature */
    visualAnswer: z.number().min(0).max(2).optional(),
    /** @default 0 */
    grade: z.number().min(0).max(2).optional(),
  })
  .strict();

/**
 * One way of making an image for a problem. `code` is ImgCoder (plan -> Matplotlib code ->
 * sandboxed render, with repairs and refinement); `pixel` asks an image model for the picture;
 * `external` takes images made elsewhere (any text-to-image model) and only evaluates them.
 */
const generator = z
  .object({
    /** Names the generator in the manifest, the leaderboard and artifact paths. */
    name: z.string().regex(/^[a-z0-9][a-z0-9._-]{0,39}$/, 'lowercase letters, digits, ".", "_" and "-", at most 40'),
    paradigm: z.enum(['code', 'pixel', 'external']),
    /**
     * The model that writes the code (code) or draws the image (pixel); external generators call no model.
     * @default the provider's `models.code`, or its image model (gemini-2.5-flash-image, gpt-image-1)
     */
    model: z.string().min(1).optional(),
    /**
     * Pixel only: an OpenAI-images-compatible server (`…/v1`) that draws this generator's images,
     * with the OpenAI SDK and OPENAI_API_KEY, whatever the build's provider. @default the build's provider
     */
    baseUrl: z.url().optional(),
    /**
     * External only, and required there: where the images are. A folder (a path, relative to the
     * config file, `file://…` or `s3://bucket/prefix`) holding `<id>.png|jpg|jpeg|webp`, or a
     * template with `{id}` used as written (`s3://bucket/run7/{id}.png`).
     */
    images: z.string().min(1).optional(),
  })
  .strict()
  .superRefine((entry, context) => {
    if (entry.paradigm === 'external') {
      if (entry.images === undefined)
        context.addIssue({
          code: 'custom',
          path: [],
          message:
            'an external generator needs `images`: a folder of <id>.png|jpg|jpeg|webp, or a URI template with {id}',
        });
      if (entry.model !== undefined)
        context.addIssue({
          code: 'custom',
          path: ['model'],
          message: 'an external generator calls no model; drop `model` (its `name` labels it in the leaderboard)',
        });
    } else if (entry.images !== undefined) {
      context.addIssue({ code: 'custom', path: ['images'], message: 'only an external generator takes `images`' });
    }
    if (entry.baseUrl !== undefined && entry.paradigm !== 'pixel')
      context.addIssue({ code: 'custom', path: ['baseUrl'], message: 'only a pixel generator takes `baseUrl`' });
  });

/**
 * USD per million tokens, keyed by model name. `cachedInput` is the rate for input tokens served
 * from the provider's prompt cache (default: the input rate); `imageOutput` the rate for output
 * tokens that are a generated image (default: the output rate). Unknown models cost 0 and are
 * reported once per worker.
 */
const rates = z
  .object({
    input: z.number().nonnegative(),
    output: z.number().nonnegative(),
    cachedInput: z.number().nonnegative().optional(),
    imageOutput: z.number().nonnegative().optional(),
  })
  .strict();

/**
 * `batch` holds the rates of the provider's batch interface (build.mode "batch"); absent: every
 * real-time rate halved, the batch price of both OpenAI and Gemini.
 */
const priceTable = z.record(z.string(), rates.extend({ batch: rates.optional() }).strict());

/**
 * List prices of the default models and their close relatives (standard tier, prompts under
 * 200k tokens), as the providers published them in 2025. Entries in the config's `prices` are
 * merged over these, so one override does not drop the rest; check your provider's price page.
 */
export const DEFAULT_PRICES: z.output<typeof priceTable> = {
  'gpt-4.1': { input: 2, cachedInput: 0.5, output: 8 },
  'gpt-4.1-mini': { input: 0.4, cachedInput: 0.1, output: 1.6 },
  'gpt-4.1-nano': { input: 0.1, cachedInput: 0.025, output: 0.4 },
  'gpt-4o': { input: 2.5, cachedInput: 1.25, output: 10 },
  'gpt-4o-mini': { input: 0.15, cachedInput: 0.075, output: 0.6 },
  'gemini-2.5-pro': { input: 1.25, cachedInput: 0.31, output: 10 },
  'gemini-2.5-flash': { input: 0.3, cachedInput: 0.075, output: 2.5 },
  'gemini-2.5-flash-lite': { input: 0.1, cachedInput: 0.025, output: 0.4 },
  // Image models (pixel generators). Assumed: the prompt is text only (gpt-image-1 charges $10
  // for image input tokens, which scigen never sends); gpt-image-1's output is all image tokens
  // at $40; gemini-2.5-flash-image bills an image at $30 per million output tokens (1290 tokens
  // for a picture up to 1024 px, about $0.039) and any text it writes alongside at the
  // gemini-2.5-flash text rate.
  'gpt-image-1': { input: 5, cachedInput: 1.25, output: 40, imageOutput: 40 },
  'gemini-2.5-flash-image': { input: 0.3, output: 2.5, imageOutput: 30 },
};

/** The image model a pixel generator uses when its config names none, per provider. */
export const DEFAULT_IMAGE_MODELS = { openai: 'gpt-image-1', gemini: 'gemini-2.5-flash-image' } as const;

/**
 * What config's `openai.structuredOutput` / `gemini.structuredOutput` says (providers/structured-output.ts
 * turns it into the modes tried). `auto` starts with the strongest mode and steps down when the
 * server refuses one; the others fix the mode.
 */
export const STRUCTURED_OUTPUT_SETTINGS = ['auto', 'json_schema', 'json_object', 'prompt'] as const;
export type StructuredOutputSetting = (typeof STRUCTURED_OUTPUT_SETTINGS)[number];

/**
 * The booleans of earlier configs still load: `true` is `json_schema` (what it always meant: the
 * strict schema mode, no fallback), `false` is `prompt`.
 */
export function normalizeStructuredOutput(setting: StructuredOutputSetting | boolean): StructuredOutputSetting {
  if (setting === true) return 'json_schema';
  if (setting === false) return 'prompt';
  return setting;
}

/** A provider's structured-output setting; the booleans of earlier configs are read as json_schema / prompt. */
const structuredOutputSetting = z
  .union([z.enum(STRUCTURED_OUTPUT_SETTINGS), z.boolean()])
  .default('auto')
  .transform(normalizeStructuredOutput);

/** Requests per minute for one provider's llm task queue, across all workers. */
const requestsPerMinute = z.number().positive().max(600_000);

/** What `requestsPerMinute` is when not set and the provider's own API is used. */
export const DEFAULT_REQUESTS_PER_MINUTE = { openai: 450, gemini: 140 } as const;

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
        /**
         * How the JSON steps ask for JSON: `json_schema` (strict `response_format: json_schema`),
         * `json_object` (`response_format: json_object`, with the schema beside it where the server
         * takes one, as llama.cpp's servers do), `prompt` (no response_format: the prompt describes
         * the shape and the tolerant parser reads it), or `auto`: the strongest mode the server
         * accepts, found by `scigen doctor`'s probe and stepped down at run time when the server
         * refuses one with a message naming response_format. `true` / `false` (older configs) mean
         * `json_schema` / `prompt`. @default "auto"
         */
        structuredOutput: structuredOutputSetting,
        /**
         * Model calls per minute for all workers together: the openai task queue's server-side
         * rate (Temporal's maxTaskQueueActivitiesPerSecond = this / 60). Set it a little below
         * your account's limit. @default 450 against the OpenAI API (its 500 RPM at usage tier 1,
         * with headroom); no limit when `baseUrl` points at another server (vLLM, Ollama, a proxy)
         */
        requestsPerMinute: requestsPerMinute.optional(),
        /**
         * Model calls one llm worker sends this server at once. A server on this machine or a private
         * network (vLLM, Ollama, llama.cpp) usually serves a few requests at a time, and a burst of
         * the build's whole window only queues there until client timeouts fire, so without a
         * `requestsPerMinute` such a base URL gets LOCAL_SERVER_CONCURRENCY. @default workers.llmConcurrency;
         * 4 for a base URL on localhost or a private address without requestsPerMinute
         */
        maxConcurrency: z.int().min(1).optional(),
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
        /**
         * How the JSON steps ask for JSON: `json_schema` (`responseMimeType: application/json` +
         * `responseJsonSchema`), `json_object` (the mime type alone), `prompt` (neither), or `auto`
         * (the strongest the server accepts). `true` / `false` mean `json_schema` / `prompt`. @default "auto"
         */
        structuredOutput: structuredOutputSetting,
        /**
         * Model calls per minute for all workers together (the gemini task queue's server-side
         * rate). One queue serves every Gemini model, so this is bounded by the slowest default
         * model's limit. @default 140 against the Gemini API (gemini-2.5-pro's 150 RPM at tier 1,
         * with headroom); no limit when `baseUrl` points at another server
         */
        requestsPerMinute: requestsPerMinute.optional(),
        /**
         * Model calls one llm worker sends this server at once. A server on this machine or a private
         * network (vLLM, Ollama, llama.cpp) usually serves a few requests at a time, and a burst of
         * the build's whole window only queues there until client timeouts fire, so without a
         * `requestsPerMinute` such a base URL gets LOCAL_SERVER_CONCURRENCY. @default workers.llmConcurrency;
         * 4 for a base URL on localhost or a private address without requestsPerMinute
         */
        maxConcurrency: z.int().min(1).optional(),
      })
      .strict()
      .prefault({}),
    scripted: z
      .object({
        /** The hand-written answers the demo endpoint serves. @default the bundled samples/scripted-responses.json */
        responses: z.string().min(1).default(BUNDLED_SCRIPTED_RESPONSES),
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
    prices: priceTable.optional().transform((prices) => ({ ...DEFAULT_PRICES, ...prices })),
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
        /**
         * Days the embedded dev server's namespace keeps closed workflows' histories (what `scigen
         * inspect`, `list` and the UI show); a cluster given by `address` keeps its own setting.
         * @default 30
         */
        retentionDays: z.int().min(1).max(3650).default(30),
        devServer: z
          .object({
            port: z.int().min(1).max(65535).default(7233),
            uiPort: z.int().min(1).max(65535).default(8233),
            /** The `temporal` CLI binary. @default the project venv's, then `temporal` on PATH */
            binary: z.string().min(1).optional(),
          })
          .strict()
          .prefault({}),
      })
      .strict()
      .prefault({}),
    input: z
      .object({
        /**
         * A folder of reference images named by problem id, `<id>.png|jpg|jpeg|webp` (SeePhys's
         * `data/seephys_images/`): a path (relative to the working directory), a file:// or an
         * s3:// URI. A problem's own `reference_image`/`image` wins; `--references` wins over this.
         */
        references: z.string().trim().min(1).optional(),
      })
      .strict()
      .prefault({}),
    /** Where scigen keeps local state: the dev server database and, by default, artifacts. */
    stateDirectory: z.string().min(1).default('.scigen'),
    /** `file://path` or `s3://bucket/prefix`. @default file://<stateDirectory>/artifacts */
    artifacts: z.string().min(1).optional(),
    /**
     * Address S3 buckets by path (`endpoint/bucket/key`), as MinIO and most S3-compatible servers want.
     * @default true when AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL points the AWS SDK at such a server
     */
    s3PathStyle: z.boolean().default(false),
    render: z
      .object({
        /** Python with matplotlib. @default SCIGEN_PYTHON, the project venv, then python3 */
        python: z.string().min(1).optional(),
        dpi: z.int().min(30).max(600).default(150),
        timeoutSeconds: z.number().positive().max(600).default(20),
        /** Render attempts per problem: the first code plus repairs. @default 3 */
        maxAttempts: z.int().min(1).max(10).default(3),
        /** Concurrent renders per worker, one sandboxed zygote each. @default number of cores */
        slots: z.int().min(1).optional(),
        /**
         * How scripts are isolated. `auto` probes bubblewrap, then unshare namespaces, then a bare
         * unprivileged uid with a seccomp guard, and uses the first that works; the worker refuses to
         * start when none does. @default "auto"
         */
        isolation: z.enum(['auto', 'bubblewrap', 'namespaces', 'unprivileged-uid']).default('auto'),
        /** First of the unprivileged uids render slots run as (one per slot; ids with an account are skipped). @default 850000 */
        uidBase: z.int().min(1000).max(2_000_000_000).default(850_000),
        /** A slot's zygote is replaced after this many jobs. @default 200 */
        recycleAfterJobs: z.int().min(1).default(200),
        limits: z
          .object({
            /** @default 10 */
            cpuSeconds: z.int().min(1).max(600).default(10),
            /** Address space per process. @default 2048 */
            addressSpaceMebibytes: z.int().min(256).default(2048),
            /** Processes and threads per slot, its zygote included. @default 64 */
            processes: z.int().min(4).default(64),
            /** @default 64 */
            fileSizeMebibytes: z.int().min(1).default(64),
            /** @default 256 */
            openFiles: z.int().min(32).default(256),
            /** Captured stdout+stderr per job. @default 1048576 */
            outputBytes: z
              .int()
              .min(1024)
              .default(1024 * 1024),
            /** Largest PNG accepted. @default 20 */
            imageMebibytes: z.int().min(1).default(20),
            /** Largest PNG side, checked from its header before decoding. @default 8192 */
            imageSidePixels: z.int().min(256).max(65_535).default(8192),
            /** All a bubblewrap job may write (its tmpfs). @default 256 */
            scratchMebibytes: z.int().min(16).default(256),
          })
          .strict()
          .prefault({}),
      })
      .strict()
      .prefault({}),
    build: z
      .object({
        /** Problems in flight at once per build (the sliding window); change it live with `scigen window`. @default 32 */
        windowSize: z.int().min(1).max(10_000).default(32),
        /** Pause the build once finished problems cost this much (USD); resume with a higher budget. */
        budgetUsd: z.number().positive().optional(),
        /** Most problems per staged input page (a page also closes before 256 KiB): the unit the build reads and finalizes in. @default 500 */
        pageSize: z.int().min(1).max(100_000).default(500),
        /** Continue as new once a build run's history has this many events (or when the server suggests it). @default 10000 */
        continueAsNewEvents: z.int().min(100).max(40_000).default(10_000),
        /**
         * `realtime` asks the models as the problems go; `batch` sends the calls of `batch.steps`
         * through the provider's batch interface (half the price, answers within 24 hours;
         * README "Batch mode"). Also `scigen build --batch`. @default "realtime"
         */
        mode: z.enum(['realtime', 'batch']).default('realtime'),
      })
      .strict()
      .prefault({}),
    batch: z
      .object({
        /** The steps whose model calls go through batches; repair and refine wait on a render, so they stay real time. */
        steps: z
          .array(z.enum(STEPS))
          .default(STEPS.filter((step) => step !== 'repair' && step !== 'refine'))
          .refine((steps) => new Set(steps).size === steps.length, 'a step is listed twice'),
        /** Problems in flight at once in batch mode (it replaces build.windowSize): many, so each batch is large. @default 10000 */
        windowSize: z.int().min(1).max(10_000).default(10_000),
        /** A batch is submitted once it holds this many requests (the provider's own limit cuts it too). @default 1000 */
        maxRequests: z.int().min(1).max(50_000).default(1000),
        /** … or once its oldest request has waited this long. @default 10 */
        maxWaitMinutes: z
          .number()
          .positive()
          .max(24 * 60)
          .default(10),
        /** A request a batch answered with a retryable error (or did not reach) goes into this many later batches, then real time. @default 2 */
        maxResubmits: z.int().min(0).max(20).default(2),
        /** The first status check of a submitted batch after this long; the wait doubles up to maxPollSeconds. @default 30 */
        pollSeconds: z.number().positive().default(30),
        /** @default 600 */
        maxPollSeconds: z.number().positive().default(600),
      })
      .strict()
      .prefault({}),
    /**
     * The generators every problem is given to, compared on the same problems (one classify and one
     * quiz set shared). The first one's results are the manifest lines' top-level fields.
     * @default [{ "name": "imgcoder", "paradigm": "code" }]
     */
    generators: z
      .array(generator)
      .min(1)
      .default([{ name: 'imgcoder', paradigm: 'code' }])
      .superRefine((generators, context) => {
        const seen = new Set<string>();
        for (const [index, { name }] of generators.entries()) {
          if (seen.has(name))
            context.addIssue({
              code: 'custom',
              path: [index, 'name'],
              message: `generator name "${name}" is used twice`,
            });
          seen.add(name);
        }
      }),
    /**
     * Replacements for the bundled prompts: prompt name (a file name of activities/prompts/ without
     * `.txt`, e.g. `judge.user`) -> a text file, relative to the config file. A replacement may use
     * the placeholders the bundled prompt uses, and no others; the llm workers read the files.
     * @default {} (the bundled prompts)
     */
    prompts: z.record(z.string(), z.string().min(1)).default({}),
    /**
     * `dataset` builds a dataset: the visualizability filter skips problems, refinement and the
     * render settings are the config's. `scigenbench` reproduces the benchmark: every problem drawn
     * (classification fills the taxonomy only), no refinement, figures rendered at 6×6 inches and
     * dpi 100 (600×600 px, sent to the models as rendered), and the VE step on; it overrides
     * `refinement.rounds`, `render.dpi` and `ve`. summary.json records the protocol and its settings.
     * @default "dataset"
     */
    protocol: z.enum(['dataset', 'scigenbench']).default('dataset'),
    /**
     * The VE step in the dataset protocol: each image is asked the problem's `multimodal_question`
     * (step `visual-answer`), and the answer graded against the problem's `answer` (step `grade`).
     * Always on under `protocol: "scigenbench"`. @default false
     */
    ve: z.boolean().default(false),
    refinement: z
      .object({
        /**
         * Visual-feedback rounds for code generators: when the judge scores a dimension below 2 or
         * the renderer measured a flaw (overlapping labels, a blank area), the code is revised with
         * that critique, rendered and judged again; every version is kept. 0 turns it off. @default 1
         */
        rounds: z.int().min(0).max(3).default(1),
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
    telemetry: z
      .object({
        /** One JSON span per line to this file, for a look without a collector. */
        traceFile: z.string().min(1).optional(),
        /** OTLP/HTTP collector for spans (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT / OTEL_EXPORTER_OTLP_ENDPOINT). */
        otlpEndpoint: z.string().min(1).optional(),
        /** @default "scigen-<queues>" */
        serviceName: z.string().min(1).optional(),
      })
      .strict()
      .prefault({}),
    workers: z
      .object({
        /**
         * Model calls one llm worker process runs at once (its maxConcurrentActivityTaskExecutions);
         * the request rate is the provider's `requestsPerMinute`, shared by all workers. @default 32
         */
        llmConcurrency: z.int().min(1).default(32),
        /**
         * Temporal Worker Versioning, for rolling out new code while builds run (README "Upgrading a
         * running build"). With a `buildId`, every worker of this process polls as the deployment
         * version `<name>:<buildId>`: problem workflows stay pinned to the version they started on,
         * build workflows move to the current version at their next workflow task. Without one the
         * workers are unversioned, as before.
         */
        deployment: z
          .object({
            /** The Worker Deployment every scigen worker belongs to. @default "scigen" */
            name: z
              .string()
              .regex(/^[A-Za-z0-9_-]{1,100}$/, 'letters, digits, "_" and "-" only, at most 100')
              .default('scigen'),
            /**
             * This code's build id; `auto` derives one from the package version and a hash of the
             * worker-side sources (workers/deployment.ts). Absent: unversioned workers.
             */
            buildId: z
              .string()
              .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/, 'letters, digits, ".", "_" and "-", at most 100')
              .optional(),
          })
          .strict()
          .prefault({}),
      })
      .strict()
      .prefault({}),
  })
  .strict();

/** The fields a config file, the command line or the environment can set. */
export type ConfigFields = z.output<typeof configSchema>;

/** The loaded configuration: its fields, plus the secrets only the environment gives (config/load.ts). */
export type Config = ConfigFields & { readonly credentials: Credentials };
export type ConfigInput = z.input<typeof configSchema>;
