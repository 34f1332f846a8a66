import { randomBytes } from 'node:crypto';

/** A batch's life, in the OpenAI Batch API's words (gemini-batches.ts maps them to Gemini's states). */
export type BatchPhase =
  'validating' | 'in_progress' | 'finalizing' | 'completed' | 'failed' | 'expired' | 'cancelling' | 'cancelled';

/** One request of a batch as the service received it. */
export interface BatchedRequest {
  customId: string;
  body: unknown;
  /** Gemini's inlined request metadata, handed back with the response. */
  metadata?: Record<string, unknown>;
}

/** How one request was answered: a status and the body the real-time API would have sent with it. */
export interface BatchAnswer {
  status: number;
  body: unknown;
}

/** Why a batch failed as a whole, as the OpenAI Batch API lists it in `errors.data`. */
export interface BatchValidationError {
  code: string;
  message: string;
  param: string | null;
  /** 1-based line of the input file. */
  line: number | null;
}

export interface BatchJob {
  provider: 'openai' | 'gemini';
  id: string;
  model: string;
  /** The endpoint every request goes to (OpenAI's `endpoint`; Gemini: generateContent). */
  endpoint: string;
  /** OpenAI's metadata / Gemini's display name: what a client finds its batch by. */
  metadata: Record<string, string>;
  displayName: string | null;
  requests: BatchedRequest[];
  createdAt: number;
  durationMs: number;
  /** Non-empty: the batch fails once validated. */
  validationErrors: BatchValidationError[];
  /** Set: the batch expires at its deadline with this many requests answered. */
  expiresWithAnswered?: number;
  cancelledAt?: number;
  /** The answers so far, in request order. */
  answers: BatchAnswer[];
  /** Provider-specific things made once, when the batch ended (OpenAI's output and error files). */
  outputs: Record<string, string>;
  /** The answering in progress; observations wait for it so two never answer the same request. */
  answering: Promise<void>;
}

/** What the whole batch was made of, for tests (`endpoint.batches()`). */
export interface BatchRecord {
  provider: 'openai' | 'gemini';
  id: string;
  model: string;
  endpoint: string;
  lineCount: number;
  status: BatchPhase;
  customIds: string[];
  /** OpenAI's metadata, or Gemini's display name under `displayName`. */
  metadata: Record<string, string>;
  displayName: string | null;
  answered: number;
}

/** Makes the next batches (of one step, when given) expire at their deadline. */
export interface ExpiryPlan {
  /** Only batches whose first custom_id is of this step. */
  step?: string;
  /** How many batches. @default 1 */
  count?: number;
  /** How many requests are answered before the deadline. @default half, rounded down */
  answered?: number;
}

// Shares of a batch's duration: validating until VALIDATED, answering until ANSWERED, then
// finalizing until the end. Cancelling (OpenAI) takes CANCELLING of the duration.
const VALIDATED = 0.1;
const ANSWERED = 0.8;
const CANCELLING = 0.1;

export type AnswerBatchedRequest = (job: BatchJob, request: BatchedRequest) => Promise<BatchAnswer>;

/**
 * The batches of the scripted endpoint: each goes validating -> in_progress -> finalizing ->
 * completed over its duration, measured from its creation and looked at whenever a client asks.
 * Requests are answered while it runs, as far as the time says, through `answer` (the same replies
 * real time gives); an expired or cancelled batch keeps what it had answered.
 */
export class BatchJobs {
  private readonly jobs: BatchJob[] = [];
  private readonly expiryPlans: (ExpiryPlan & { count: number })[] = [];

  constructor(
    private readonly answer: AnswerBatchedRequest,
    public durationMs: number,
  ) {}

  create(fields: Omit<BatchJob, 'id' | 'createdAt' | 'durationMs' | 'answers' | 'outputs' | 'answering'>): BatchJob {
    const id =
      fields.provider === 'openai' ? `batch_${randomBytes(12).toString('hex')}` : randomBytes(8).toString('hex');
    const job: BatchJob = {
      ...fields,
      id,
      createdAt: Date.now(),
      durationMs: this.durationMs,
      answers: [],
      outputs: {},
      answering: Promise.resolve(),
    };
    const step = /^scigen:([a-z-]+):/.exec(fields.requests[0]?.customId ?? '')?.[1];
    const plan = this.expiryPlans.find((candidate) => candidate.step === undefined || candidate.step === step);
    if (plan) {
      job.expiresWithAnswered = Math.min(plan.answered ?? Math.floor(job.requests.length / 2), job.requests.length);
      plan.count -= 1;
      if (plan.count <= 0) this.expiryPlans.splice(this.expiryPlans.indexOf(plan), 1);
    }
    this.jobs.push(job);
    return job;
  }

  find(provider: 'openai' | 'gemini', id: string): BatchJob | undefined {
    return this.jobs.find((job) => job.provider === provider && job.id === id);
  }

  /** The provider's batches, newest first (how both list calls order them). */
  list(provider: 'openai' | 'gemini'): BatchJob[] {
    return this.jobs.filter((job) => job.provider === provider).reverse();
  }

  expireNext(plan: ExpiryPlan): void {
    this.expiryPlans.push({ ...plan, count: plan.count ?? 1 });
  }

  records(): BatchRecord[] {
    return this.jobs.map((job) => ({
      provider: job.provider,
      id: job.id,
      model: job.model,
      endpoint: job.endpoint,
      lineCount: job.requests.length,
      status: this.phase(job, Date.now()),
      customIds: job.requests.map((request) => request.customId),
      metadata: job.metadata,
      displayName: job.displayName,
      answered: job.answers.length,
    }));
  }

  /** Where the batch is now; answers the requests its progress has reached before returning. */
  async observe(job: BatchJob): Promise<BatchPhase> {
    const now = Date.now();
    const target = this.answeredBy(job, now);
    job.answering = job.answering.then(async () => {
      while (job.answers.length < target) {
        const request = job.requests[job.answers.length]!;
        job.answers.push(await this.answer(job, request));
      }
    });
    await job.answering;
    return this.phase(job, now);
  }

  /** Cancels a batch that has not ended; false when it has (the APIs refuse that). */
  cancel(job: BatchJob): boolean {
    const phase = this.phase(job, Date.now());
    if (phase === 'completed' || phase === 'failed' || phase === 'expired' || phase === 'cancelled') return false;
    job.cancelledAt ??= Date.now();
    return true;
  }

  reset(): void {
    this.jobs.length = 0;
    this.expiryPlans.length = 0;
  }

  phase(job: BatchJob, now: number): BatchPhase {
    const elapsed = now - job.createdAt;
    // Gemini's batch states have no cancelling: its batches are cancelled at once.
    const cancellingMs = job.provider === 'openai' ? job.durationMs * CANCELLING : 0;
    if (job.cancelledAt !== undefined) return now - job.cancelledAt < cancellingMs ? 'cancelling' : 'cancelled';
    if (elapsed < job.durationMs * VALIDATED) return 'validating';
    if (job.validationErrors.length > 0) return 'failed';
    if (job.expiresWithAnswered !== undefined) return elapsed < job.durationMs ? 'in_progress' : 'expired';
    if (elapsed < job.durationMs * ANSWERED) return 'in_progress';
    return elapsed < job.durationMs ? 'finalizing' : 'completed';
  }

  /** How many requests are answered by this time. */
  private answeredBy(job: BatchJob, now: number): number {
    if (job.validationErrors.length > 0) return 0;
    const until = job.cancelledAt === undefined ? now : Math.min(now, job.cancelledAt);
    const share = (until - job.createdAt - job.durationMs * VALIDATED) / (job.durationMs * (ANSWERED - VALIDATED));
    const reached = Math.floor(job.requests.length * Math.min(1, Math.max(0, share)));
    return Math.min(reached, job.expiresWithAnswered ?? job.requests.length);
  }
}
