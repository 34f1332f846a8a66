import { parseArgs } from 'node:util';
import { loadScript, type Script } from './script.ts';
import { startScriptedEndpoint } from './server.ts';

const usage = 'usage: npx tsx scripted/main.ts --script FILE [--port 8799] [--host 127.0.0.1] [--latency-ms 0]';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      script: { type: 'string' },
      port: { type: 'string', default: '8799' },
      host: { type: 'string', default: '127.0.0.1' },
      'latency-ms': { type: 'string', default: '0' },
    },
  });
  const port = Number(values.port);
  const latencyMs = Number(values['latency-ms']);
  if (!values.script || !Number.isInteger(port) || port < 0 || !Number.isFinite(latencyMs) || latencyMs < 0) {
    console.error(usage);
    process.exitCode = 2;
    return;
  }

  let script: Script;
  try {
    script = await loadScript(values.script);
  } catch (error) {
    console.error(error instanceof Error ? error.message : String(error));
    process.exitCode = 2;
    return;
  }
  const endpoint = await startScriptedEndpoint({ script, port, host: values.host, latencyMs });
  console.log(`scripted LLM endpoint listening on ${endpoint.url}`);
  console.log(`  OPENAI_BASE_URL=${endpoint.openAiBaseUrl}`);
  console.log(`  SCIGEN_GEMINI_BASE_URL=${endpoint.geminiBaseUrl}`);
  console.log(`  request log: ${endpoint.url}/_scigen/requests`);

  const stop = (): void => {
    endpoint.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : String(error));
  process.exitCode = 1;
});
