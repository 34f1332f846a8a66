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
 * a `fault` answers with that fault for its first `times` matching requests, then is passed over.
 * No matching reply: HTTP 404 with an OpenAI-style error body naming the problem and step.
 */
export interface ScriptedFault {
  /** HTTP status to answer with (429, 500, 503, 400, 401, ...); ignored for 'reset' and 'hang'. */
  status?: number;
  /** 'reset' destroys the socket without an answer; 'hang' never answers. */
  kind?: 'http' | 'reset' | 'hang';
  /** Sent as the Retry-After header (seconds). */
  retryAfterSeconds?: number;
  /** How many matching requests get this fault before it is passed over. @default 1 */
  times?: number;
  /** Error message in the body. */
  message?: string;
}

export interface ScriptedReply {
  /** Substring of the request text this reply is for; absent = any request. */
  when?: string;
  /** The message text the model answers with. */
  text?: string;
  fault?: ScriptedFault;
}

export type ScriptedStepReplies = string | ScriptedReply | ScriptedReply[];

export interface Script {
  problems: Record<string, Partial<Record<string, ScriptedStepReplies>>>;
}
