/**
 * The format of a script for the scripted endpoint (samples/scripted-responses.json):
 * hand-written model answers keyed by the `x-scigen-problem` and `x-scigen-step` headers.
 *
 * {
 *   "problems": {
 *     "<problem id>": {
 *       "<step>": "<answer text>" | ScriptedReply | ScriptedReply[]
 *     },
 *     "*": { ... }            // fallback for any problem
 *   }
 * }
 *
 * For a request, the replies of (problem, step) are tried in order; the first whose `when`
 * (if any) occurs in the request's text (system + user text, concatenated), and whose `whenImage`
 * (if any) is the pixel size of the request's first image as decoded, is used. A reply with
 * a `fault` answers with that fault for its first `times` matching requests, then is passed over;
 * so does a text reply that has `times`.
 * No matching reply: HTTP 404 with an error body naming the problem and step.
 *
 * The zod schema below is the one definition of the format: the types are inferred from it, and a
 * script file is checked against it strictly, so a misspelt field is an error, not a silent default.
 */
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { z } from 'zod';
import { STEPS } from '../domain/types.ts';

/**
 * What a fault does, in the wire shape of the protocol the request used (OpenAI chat completions
 * or Gemini generateContent):
 * - `http`: an error status with the provider's error body (`status`, `retryAfterSeconds`, `retryAfterMs`, `message`);
 * - `reset`: the socket is destroyed without an answer;
 * - `hang`: no answer ever (the client's timeout has to end it);
 * - `cut-body`: a 200 whose JSON body stops half-way (the connection drops mid-answer);
 * - `stall-body`: a 200 whose JSON body stops half-way and never goes on (the connection stays open);
 * - `truncated`: a well-formed answer cut off at the output token limit (finish reason
 *   `length` / `MAX_TOKENS`), its text the first half of the reply that would have come (or `text`);
 * - `empty`: no answer at all (OpenAI: `choices: []`, images `data: []`; Gemini: no `candidates`);
 * - `safety`: blocked by the safety system (OpenAI: finish reason `content_filter`, images a 400
 *   `moderation_blocked`; Gemini: finish reason `SAFETY` with ratings, `IMAGE_SAFETY` for an image request);
 * - `refusal`: the model declines (OpenAI: `message.refusal`, `message` its text, images a 400
 *   `moderation_blocked`; Gemini: `promptFeedback.blockReason` PROHIBITED_CONTENT).
 */
const faultKindSchema = z.enum([
  'http',
  'reset',
  'hang',
  'cut-body',
  'stall-body',
  'truncated',
  'empty',
  'safety',
  'refusal',
]);

const faultSchema = z.strictObject({
  /** @default 'http' */
  kind: faultKindSchema.optional(),
  /** HTTP status of an `http` fault (429, 500, 503, 400, 401, ...). @default 500 */
  status: z.number().int().min(400).max(599).optional(),
  /** Sent as the Retry-After header (seconds) and, for Gemini, as a RetryInfo detail. */
  retryAfterSeconds: z.number().nonnegative().optional(),
  /** Sent as OpenAI's `retry-after-ms` header. */
  retryAfterMs: z.number().nonnegative().optional(),
  /** How many matching requests get this fault before it is passed over. @default 1 */
  times: z.number().int().positive().optional(),
  /** The error message of an `http` fault, or the refusal text of a `refusal`. */
  message: z.string().optional(),
  /** The cut-off answer of a `truncated` fault. */
  text: z.string().optional(),
});

/**
 * The picture an image request (step `image`) is answered with: a PNG or JPEG file, or a
 * placeholder diagram drawn on the fly (a framed triangle with a circle on white).
 */
const imageSchema = z
  .strictObject({
    /** A PNG or JPEG file; a relative path is read from the script file's directory (from the working directory for scripts set in code). */
    file: z.string().min(1).optional(),
    /** Size of the drawn placeholder. @default the size the request asked for (1024 x 1024 for `auto` / 1:1) */
    width: z.int().min(1).max(8192).optional(),
    height: z.int().min(1).max(8192).optional(),
  })
  .refine((image) => image.file === undefined || (image.width === undefined && image.height === undefined), {
    message: 'an image is a "file" or a drawn placeholder ("width"/"height"), not both',
  });

const replySchema = z
  .strictObject({
    /** Substring of the request text this reply is for; absent = any request. */
    when: z.string().min(1).optional(),
    /**
     * The pixel size of the first image the request carries, read by decoding it: the reply is for
     * a model that has seen that image (a request without one, or with another, does not get it).
     */
    whenImage: z.strictObject({ width: z.int().min(1), height: z.int().min(1) }).optional(),
    /**
     * The message text the model answers with. For an image request it is the text sent along
     * with the picture; a reply with text and no `image` is an image model answering in words only.
     */
    text: z.string().optional(),
    /** For image requests: the picture. */
    image: imageSchema.optional(),
    /**
     * A reply without a fault answers only its first `times` matching requests, then is passed over
     * (e.g. a judge's first verdict, then another for the refined image). Absent: every request.
     */
    times: z.number().int().positive().optional(),
    fault: faultSchema.optional(),
  })
  .refine((reply) => reply.text !== undefined || reply.image !== undefined || reply.fault !== undefined, {
    message: 'a reply needs "text", "image" or "fault"',
  })
  .refine((reply) => reply.times === undefined || reply.fault === undefined, {
    message: 'a fault counts its uses in "fault.times"; "times" is for replies without a fault',
  });

const stepRepliesSchema = z.union([z.string(), replySchema, z.array(replySchema)]);

const scriptSchema = z.strictObject({
  problems: z.record(z.string(), z.partialRecord(z.enum(STEPS), stepRepliesSchema)),
});

export type ScriptedFault = z.infer<typeof faultSchema>;
export type ScriptedImage = z.infer<typeof imageSchema>;
export type ScriptedReply = z.infer<typeof replySchema>;
export type ScriptedStepReplies = z.infer<typeof stepRepliesSchema>;
export type Script = z.infer<typeof scriptSchema>;

/** Reads and checks a script file; errors name the file and the offending field. */
export async function loadScript(path: string): Promise<Script> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? (error instanceof Error ? error.message : String(error));
    throw new Error(`${path}: cannot read the script (${code})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new Error(`${path}: not valid JSON (${error instanceof Error ? error.message : String(error)})`);
  }
  const result = scriptSchema.safeParse(json);
  if (!result.success) {
    const issue = mostSpecificIssue(result.error.issues[0]);
    const field = formatPath(issue?.path ?? []);
    throw new Error(`${path}: ${field || '(top level)'}: ${issue?.message ?? 'invalid script'}`);
  }
  return withImageFilesFrom(dirname(resolve(path)), result.data);
}

/** The script with every image file path made absolute from the script file's directory. */
function withImageFilesFrom(directory: string, script: Script): Script {
  const locate = (reply: ScriptedReply): ScriptedReply =>
    reply.image?.file ? { ...reply, image: { ...reply.image, file: resolve(directory, reply.image.file) } } : reply;
  const problems: Script['problems'] = {};
  for (const [problem, steps] of Object.entries(script.problems)) {
    problems[problem] = Object.fromEntries(
      Object.entries(steps).map(([step, replies]) => [
        step,
        replies === undefined || typeof replies === 'string'
          ? replies
          : Array.isArray(replies)
            ? replies.map(locate)
            : locate(replies),
      ]),
    );
  }
  return { problems };
}

type Issue = z.core.$ZodIssue;

/** Within a union, the branch that got furthest into the value explains the mistake best. */
function mostSpecificIssue(issue: Issue | undefined): Issue | undefined {
  if (!issue || issue.code !== 'invalid_union') return issue;
  let best: Issue | undefined;
  for (const branch of issue.errors) {
    const candidate = mostSpecificIssue(branch[0]);
    if (candidate && (!best || candidate.path.length > best.path.length)) best = candidate;
  }
  return best ? { ...best, path: [...issue.path, ...best.path] } : issue;
}

function formatPath(path: readonly PropertyKey[]): string {
  let formatted = '';
  for (const key of path) {
    if (typeof key === 'number') formatted += `[${key}]`;
    else if (typeof key === 'string' && /^[A-Za-z_$][\w$]*$/.test(key)) formatted += formatted ? `.${key}` : key;
    else formatted += `[${JSON.stringify(String(key))}]`;
  }
  return formatted;
}
