import { appendFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { Resource } from '@opentelemetry/resources';
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  SimpleSpanProcessor,
  type ReadableSpan,
  type SpanExporter,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { OpenTelemetryPlugin } from '@temporalio/interceptors-opentelemetry';
import type { Config } from '../config/schema.ts';

/** The workflow-side interceptors must be inside the workflow bundle when tracing is on. */
export const OPENTELEMETRY_WORKFLOW_INTERCEPTORS = createRequire(import.meta.url).resolve(
  '@temporalio/interceptors-opentelemetry/lib/workflow-interceptors',
);

export interface Tracing {
  plugin: OpenTelemetryPlugin;
  /** Where spans go, for the startup line. */
  description: string;
  /** Flushes spans still buffered. */
  shutdown(): Promise<void>;
}

/**
 * OpenTelemetry tracing through Temporal's interceptors, on when the config's telemetry names an
 * OTLP endpoint (the standard `OTEL_EXPORTER_OTLP_ENDPOINT` / `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`,
 * OTLP over HTTP) or a trace file (`SCIGEN_TRACE_FILE`: one JSON span per line, for a quick look
 * without a collector). Off otherwise.
 */
export function createTracing(telemetry: Config['telemetry'], serviceName: string): Tracing | null {
  const { otlpEndpoint, traceFile } = telemetry;
  let spanProcessor: SpanProcessor;
  let description: string;
  if (traceFile) {
    // Written as each span ends: a file is for reading what happened, even after a crash.
    spanProcessor = new SimpleSpanProcessor(new JsonLinesSpanExporter(traceFile));
    description = `spans to ${traceFile}`;
  } else if (otlpEndpoint) {
    // The exporter reads the OTEL_EXPORTER_OTLP_* variables (endpoint, headers) itself.
    spanProcessor = new BatchSpanProcessor(new OTLPTraceExporter());
    description = `spans over OTLP/HTTP to ${otlpEndpoint}`;
  } else {
    return null;
  }
  const resource = new Resource({ 'service.name': telemetry.serviceName ?? serviceName });
  // Workflow spans leave the sandbox through the plugin's sink; activity and client spans use the
  // global tracer, so a provider with the same processor is registered for them.
  const provider = new BasicTracerProvider({ resource, spanProcessors: [spanProcessor] });
  provider.register({ contextManager: new AsyncLocalStorageContextManager().enable() });
  return {
    plugin: new OpenTelemetryPlugin({ resource, spanProcessor }),
    description,
    shutdown: () => provider.shutdown(),
  };
}

/** One JSON object per finished span: name, ids, timing, status and attributes. */
class JsonLinesSpanExporter implements SpanExporter {
  constructor(private readonly path: string) {}

  export(spans: ReadableSpan[], resultCallback: (result: ExportResult) => void): void {
    try {
      const lines = spans.map((span) =>
        JSON.stringify({
          name: span.name,
          traceId: span.spanContext().traceId,
          spanId: span.spanContext().spanId,
          parentSpanId: span.parentSpanId ?? null,
          service: span.resource.attributes['service.name'] ?? null,
          startTime: hrTimeToIso(span.startTime),
          durationMs: span.duration[0] * 1000 + span.duration[1] / 1e6,
          status: span.status.code,
          attributes: span.attributes,
        }),
      );
      appendFileSync(this.path, lines.map((line) => `${line}\n`).join(''));
      resultCallback({ code: ExportResultCode.SUCCESS });
    } catch (error) {
      resultCallback({ code: ExportResultCode.FAILED, error: error as Error });
    }
  }

  async shutdown(): Promise<void> {}
}

function hrTimeToIso([seconds, nanoseconds]: [number, number]): string {
  return new Date(seconds * 1000 + nanoseconds / 1e6).toISOString();
}
