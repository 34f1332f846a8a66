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
 * (if any) occurs in the request's text (system + user text, concatenated) is used. A reply with
 * a `fault` answers with that fault for its first `times` matching requests, then is passed over;
 * so does a text reply that has `times`.
 * No matching reply: HTTP 404 with an error body naming the problem and step.
 */

/**
 * What a fault does, in the wire shape of the protocol the request used (OpenAI chat completions
 * or Gemini generateContent):
 * - `http`: an error status with the provider's error body (`status`, `retryAfterSeconds`, `retryAfterMs`, `message`);
 * - `reset`: the socket is destroyed without an answer;
 * - `hang`: no answer ever (the client's timeout has to end it);
 * - `cut-body`: a 200 whose JSON body stops half-way (the connection drops mid-answer);
 * - `truncated`: a well-formed answer cut off at the output token limit (finish reason
 *   `length` / `MAX_TOKENS`), its text the first half of the reply that would have come (or `text`);
 * - `empty`: no answer at all (OpenAI: `choices: []`, images `data: []`; Gemini: no `candidates`);
 * - `safety`: blocked by the safety system (OpenAI: finish reason `content_filter`, images a 400
 *   `moderation_blocked`; Gemini: finish reason `SAFETY` with ratings, `IMAGE_SAFETY` for an image request);
 * - `refusal`: the model declines (OpenAI: `message.refusal`, `message` its text, images a 400
 *   `moderation_blocked`; Gemini: `promptFeedback.blockReason` PROHIBITED_CONTENT).
 */
export type ScriptedFaultKind = 'http' | 'reset' | 'hang' | 'cut-body' | 'truncated' | 'empty' | 'safety' | 'refusal';

export interface ScriptedFault {
  /** @default 'http' */
  kind?: ScriptedFaultKind;
  /** HTTP status of an `http` fault (429, 500, 503, 400, 401, ...). @default 500 */
  status?: number;
  /** Sent as the Retry-After header (seconds) and, for Gemini, as a RetryInfo detail. */
  retryAfterSeconds?: number;
  /** Sent as OpenAI's `retry-after-ms` header. */
  retryAfterMs?: number;
  /** How many matching requests get this fault before it is passed over. @default 1 */
  times?: number;
  /** The error message of an `http` fault, or the refusal text of a `refusal`. */
  message?: string;
  /** The cut-off answer of a `truncated` fault. */
  text?: string;
}

/**
 * The picture an image request (step `image`) is answered with: a PNG or JPEG file, or a
 * placeholder diagram drawn on the fly (a framed triangle with a circle on white).
 */
export interface ScriptedImage {
  /** A PNG or JPEG file; a relative path is read from the script file's directory (from the working directory for scripts set in code). */
  file?: string;
  /** Size of the drawn placeholder. @default the size the request asked for (1024 x 1024 for `auto` / 1:1) */
  width?: number;
  height?: number;
}

export interface ScriptedReply {
  /** Substring of the request text this reply is for; absent = any request. */
  when?: string;
  /**
   * The message text the model answers with. For an image request it is the text sent along
   * with the picture; a reply with text and no `image` is an image model answering in words only.
   */
  text?: string;
  /** For image requests: the picture. */
  image?: ScriptedImage;
  /**
   * A reply without a fault answers only its first `times` matching requests, then is passed over
   * (e.g. a judge's first verdict, then another for the refined image). Absent: every request.
   */
  times?: number;
  fault?: ScriptedFault;
}

export type ScriptedStepReplies = string | ScriptedReply | ScriptedReply[];

export interface Script {
  problems: Record<string, Partial<Record<string, ScriptedStepReplies>>>;
}
