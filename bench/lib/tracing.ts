// Tracing as a bench turns it on: ringrpc's interceptors over a real OpenTelemetry SDK
// (spans made, sampled, processed in batches), whose exporter drops them, so that a run
// measures what tracing costs the process and not what shipping spans costs.
//
//   const tracing = await benchTracing();
//   createServer({ interceptors: [tracing.server] });     // first, so its span covers the others
//   createClient(Bench, address, { interceptors: [tracing.client] });
//   …
//   await tracing.shutdown();
import * as api from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider, BatchSpanProcessor, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import { createTracing, type Tracing } from '../../src/index.js';

/** Tracing on, spans dropped at export; `spansExported` counts them (a run that made none measured nothing). */
export interface BenchTracing extends Tracing {
  readonly spansExported: () => number;
  /** Flushes the pending batch and unregisters the context manager. */
  shutdown(): Promise<void>;
}

/**
 * Registers, for this process, what an OpenTelemetry Node setup registers (a global tracer
 * provider with a batch span processor, AsyncLocalStorage context), with an exporter that
 * drops every span, and returns ringrpc's interceptors over it.
 */
export async function benchTracing(): Promise<BenchTracing> {
  let exported = 0;
  const exporter: SpanExporter = {
    export: (spans, done) => {
      exported += spans.length;
      done({ code: 0 });
    },
    shutdown: async () => {},
  };
  // Large enough for tens of thousands of calls a second: the defaults (a queue of 2,048
  // spans, flushed every 5 s) would drop most spans unprocessed, and measure less than a
  // deployment pays.
  const processor = new BatchSpanProcessor(exporter, { maxQueueSize: 1 << 17, maxExportBatchSize: 4096, scheduledDelayMillis: 200 });
  const provider = new BasicTracerProvider({ spanProcessors: [processor] });
  api.context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  api.trace.setGlobalTracerProvider(provider);
  return {
    ...createTracing(api),
    spansExported: () => exported,
    shutdown: async () => {
      await provider.shutdown();
      api.trace.disable();
      api.context.disable();
    },
  };
}
