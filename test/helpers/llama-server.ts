import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, openSync, closeSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { execa } from 'execa';
import { findFreePort } from '../../infra/dev-server.ts';
import { repositoryRoot } from '../../infra/tools.ts';

/**
 * Real OpenAI-compatible model servers for tests: llama-cpp-python's server and llama.cpp's own
 * llama-server, both built from source by `scripts/setup.sh --test-tools` into .tools/llama-venv,
 * serving tiny GGUF models that test/helpers/write-tiny-model.py writes at test time.
 */

/** Set to 1 to skip the real-server tests (setup then skips the build too); unset, missing servers fail the tests. */
export const LLAMA_SERVER_TESTS_OPT_OUT = 'SCIGEN_SKIP_LLAMA_SERVER_TESTS';
export const llamaServerTestsOptedOut = process.env[LLAMA_SERVER_TESTS_OPT_OUT] === '1';

const llamaVirtualEnvironment = path.join(repositoryRoot, '.tools', 'llama-venv');
const llamaPython = path.join(llamaVirtualEnvironment, 'bin', 'python');
const llamaServerBinary = path.join(llamaVirtualEnvironment, 'bin', 'llama-server');
const buildLog = path.join(repositoryRoot, '.tools', 'llama-build.log');
const tinyModelWriter = path.join(repositoryRoot, 'test', 'helpers', 'write-tiny-model.py');

const host = '127.0.0.1';
/** Context of every served model: the longest prompt scigen sends (judge, with the question) is about 2,000 tokens. */
const contextTokens = 4096;
const startTimeoutMilliseconds = 90_000;
const stopGraceMilliseconds = 5_000;

/** The free-text reply a tiny model gives unless told another (write-tiny-model.py's default). */
export const TINY_MODEL_REPLY = 'Tiny model says hello.';

/**
 * A judge answer with full marks on every dimension, prose before the JSON: what the image-dropping
 * server below answers to everything, figure or not. Words are unique, as a tiny model's reply must be.
 */
export const BLIND_JUDGE_REPLY =
  'The figure is correct. {"Correctness_Fidelity":2, "Layout_Precision":2, "Readability_Occlusion":2, ' +
  '"Scientific_Plausibility":2, "Expressiveness_Richness":2}';

/**
 * How a tiny model's chat template treats a message whose content is a list of parts:
 * - `plain` writes the content as it is, so a list is written as the list itself (base64 image included);
 * - `list-aware` keeps the text parts and drops image parts without a word.
 */
export type ChatTemplateKind = 'plain' | 'list-aware';

export interface TinyModel {
  path: string;
  template: ChatTemplateKind;
  /** What the model answers to any free-text request. */
  reply: string;
}

export interface ModelServer {
  /** The OpenAI-compatible base URL, `http://127.0.0.1:<port>/v1`. */
  baseUrl: string;
  /** The name the server answers to. */
  model: string;
  /** The server's stdout and stderr. */
  logPath: string;
  stop(): Promise<void>;
}

/** Fails with what to do when setup did not build the servers (or built them only partly). */
function requireBuilt(executable: string): void {
  if (existsSync(executable)) return;
  let tail = '';
  if (existsSync(buildLog)) {
    const lines = readFileSync(buildLog, 'utf8').trimEnd().split('\n');
    tail = `\nlast lines of ${buildLog}:\n${lines.slice(-15).join('\n')}`;
  }
  throw new Error(
    `${executable} is missing: llama.cpp's servers are not built. \`npm test\` builds them ` +
      `(scripts/setup.sh --test-tools, log in ${buildLog}); set ${LLAMA_SERVER_TESTS_OPT_OUT}=1 to skip ` +
      `the real-server tests instead.${tail}`,
  );
}

/**
 * Writes a tiny GGUF model (a few hundred KB) into `directory`. `exact`: the reply keeps every
 * character (newlines, repeated words; ASCII, at most 720 characters), for a step's whole answer
 * such as a JSON object or a fenced script; otherwise it is its words joined by single spaces.
 */
export async function writeTinyModel(
  directory: string,
  options: { template: ChatTemplateKind; reply?: string; exact?: boolean },
): Promise<TinyModel> {
  requireBuilt(llamaPython);
  const reply = options.reply ?? TINY_MODEL_REPLY;
  const exact = options.exact ?? false;
  const replyDigest = createHash('sha256')
    .update(`${exact ? 'exact' : 'words'}\n${reply}`)
    .digest('hex')
    .slice(0, 8);
  const modelPath = path.join(directory, `tiny-${options.template}-${replyDigest}.gguf`);
  await execa(llamaPython, [
    tinyModelWriter,
    modelPath,
    ...['--template', options.template, '--reply', reply],
    ...(exact ? ['--exact'] : []),
  ]);
  return { path: modelPath, template: options.template, reply };
}

/**
 * llama-cpp-python's server (`python -m llama_cpp.server`) serving each model under its alias; the
 * first is the default, and the server answers any name it does not know with it. Each model
 * renders prompts with the chat template in its GGUF file.
 */
export async function startLlamaCppPythonServer(options: {
  directory: string;
  models: { alias: string; model: TinyModel }[];
}): Promise<ModelServer> {
  requireBuilt(llamaPython);
  const [first] = options.models;
  if (!first) throw new Error('startLlamaCppPythonServer needs at least one model');
  const port = await findFreePort(host);
  const configPath = path.join(options.directory, `llama-cpp-python-${port}.json`);
  const models = options.models.map(({ alias, model }) => ({
    model: model.path,
    model_alias: alias,
    n_ctx: contextTokens,
    n_threads: 1,
    n_threads_batch: 1,
    verbose: false,
  }));
  await writeFile(configPath, JSON.stringify({ host, port, models }, null, 2));
  return startServer({
    name: 'llama-cpp-python',
    executable: llamaPython,
    arguments: ['-m', 'llama_cpp.server', '--config_file', configPath],
    port,
    model: first.alias,
    logPath: path.join(options.directory, `llama-cpp-python-${port}.log`),
  });
}

/** llama.cpp's own llama-server serving one model under `alias`, its chat template run by its Jinja engine. */
export async function startLlamaServer(options: {
  directory: string;
  alias: string;
  model: TinyModel;
}): Promise<ModelServer> {
  requireBuilt(llamaServerBinary);
  const port = await findFreePort(host);
  return startServer({
    name: 'llama-server',
    executable: llamaServerBinary,
    arguments: [
      ...['--model', options.model.path, '--alias', options.alias],
      ...['--host', host, '--port', String(port)],
      ...['--ctx-size', String(contextTokens), '--threads', '1', '--parallel', '1'],
      '--jinja',
      '--no-webui',
    ],
    port,
    model: options.alias,
    logPath: path.join(options.directory, `llama-server-${port}.log`),
  });
}

/**
 * A text-only model that answers image requests with 200 and never looks at the image:
 * llama-cpp-python serving a tiny model whose list-aware chat template drops image parts, the way
 * such servers serve a model without a vision projector. This is the blind-judging hazard of issue
 * 15: it gives every figure full marks (BLIND_JUDGE_REPLY) without having seen it. A vision canary
 * (scigen doctor) must refuse this model for image steps; its tests can start one with this.
 */
export async function startImageDroppingModelServer(directory: string): Promise<ModelServer> {
  const model = await writeTinyModel(directory, { template: 'list-aware', reply: BLIND_JUDGE_REPLY });
  return startLlamaCppPythonServer({ directory, models: [{ alias: 'tiny-text-only', model }] });
}

interface ServerStart {
  name: string;
  executable: string;
  arguments: string[];
  port: number;
  model: string;
  logPath: string;
}

/**
 * Starts a server in a process group of its own, with its output in a log file (a pipe to this
 * process would kill it with SIGPIPE once the test process is gone), and waits until it lists its
 * models. Stopping ends the whole group.
 */
async function startServer(start: ServerStart): Promise<ModelServer> {
  const logDescriptor = openSync(start.logPath, 'a');
  let child: ChildProcess;
  try {
    child = spawn(start.executable, start.arguments, {
      detached: true,
      stdio: ['ignore', logDescriptor, logDescriptor],
      env: { ...process.env, PYTHONUNBUFFERED: '1' },
    });
  } finally {
    closeSync(logDescriptor);
  }
  let exitDescription: string | undefined;
  const exited = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exitDescription = `exit ${code ?? signal ?? 'unknown'}`;
      resolve();
    });
    child.once('error', (error) => {
      exitDescription = `a failed start (${error.message})`;
      resolve();
    });
  });
  const killGroup = (signal: NodeJS.Signals): void => {
    if (child.pid === undefined || exitDescription !== undefined) return;
    try {
      process.kill(-child.pid, signal);
    } catch {
      // The group is gone already.
    }
  };
  const killOnExit = (): void => killGroup('SIGKILL');
  process.on('exit', killOnExit);

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      process.off('exit', killOnExit);
      killGroup('SIGTERM');
      const timeout = delay(stopGraceMilliseconds, 'timeout' as const, { ref: false });
      if ((await Promise.race([exited, timeout])) === 'timeout') {
        killGroup('SIGKILL');
        await exited;
      }
    })();
    return stopping;
  };

  const baseUrl = `http://${host}:${start.port}/v1`;
  const deadline = Date.now() + startTimeoutMilliseconds;
  for (;;) {
    if (exitDescription !== undefined) {
      throw new Error(`${start.name} ended with ${exitDescription} before serving:\n${logTail(start.logPath)}`);
    }
    if (await listsModels(baseUrl)) break;
    if (Date.now() >= deadline) {
      await stop();
      throw new Error(`${start.name} did not serve ${baseUrl}/models in time:\n${logTail(start.logPath)}`);
    }
    await Promise.race([delay(250), exited]);
  }
  return { baseUrl, model: start.model, logPath: start.logPath, stop };
}

async function listsModels(baseUrl: string): Promise<boolean> {
  try {
    const response = await fetch(`${baseUrl}/models`, { signal: AbortSignal.timeout(2_000) });
    return response.ok;
  } catch {
    return false;
  }
}

function logTail(logPath: string): string {
  try {
    return readFileSync(logPath, 'utf8').trimEnd().split('\n').slice(-20).join('\n');
  } catch {
    return '(no log)';
  }
}
