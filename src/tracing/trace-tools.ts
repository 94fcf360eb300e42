import type { OpenTelemetryApi, OtelContext, OtelPropagator, OtelTracer } from './otel-api.js';
import { extractTraceContext, injectTraceContext } from './trace-context.js';

/** What the client and server interceptors trace with: the api, the tracer, and how context travels in metadata. */
export interface TraceTools {
  readonly api: OpenTelemetryApi;
  readonly tracer: OtelTracer;
  /** Writes the span context of `context` into call metadata. */
  inject(context: OtelContext, metadata: Record<string, string>): void;
  /** `context` with the remote span context the metadata names, if any. */
  extract(context: OtelContext, metadata: Readonly<Record<string, string>>): OtelContext;
}

/**
 * The tools for `api`: spans from `tracer`, context through `propagator`, or else, at each
 * call, the process's global propagator when one is registered (its `fields()` are not
 * empty: the api's own no-op has none) and W3C trace context when none is.
 */
export function traceTools(api: OpenTelemetryApi, tracer: OtelTracer, propagator: OtelPropagator | undefined): TraceTools {
  if (propagator !== undefined) {
    return {
      api,
      tracer,
      inject: (context, metadata) => propagator.inject(context, metadata, api.defaultTextMapSetter),
      extract: (context, metadata) => propagator.extract(context, metadata as Record<string, string>, api.defaultTextMapGetter),
    };
  }
  // Asked at each call, not once: an SDK may register its propagator after the server or client was made.
  const global = (): boolean => api.propagation.fields().length > 0;
  return {
    api,
    tracer,
    inject: (context, metadata) => (global() ? api.propagation.inject(context, metadata) : injectTraceContext(api, context, metadata)),
    extract: (context, metadata) =>
      global() ? api.propagation.extract(context, metadata as Record<string, string>) : extractTraceContext(api, context, metadata),
  };
}
