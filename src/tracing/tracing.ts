import { RpcError } from '../errors.js';
import { Status } from '../status.js';
import type { ClientInterceptor, ServerInterceptor } from '../pipeline/interceptor.js';
import { apiProblem, loadOpenTelemetryApi, type OpenTelemetryApi, type OtelPropagator, type OtelTracerProvider } from './otel-api.js';
import { clientTracing } from './client-tracing.js';
import { serverTracing } from './server-tracing.js';
import { traceTools } from './trace-tools.js';

/** The instrumentation scope ringrpc's spans are made under. */
export const TRACER_NAME = 'ringrpc';

/** Options of {@link createTracing} and {@link loadTracing}. */
export interface TracingOptions {
  /**
   * Where spans go. Default: the process's global tracer provider (an SDK's, once it is
   * registered with `trace.setGlobalTracerProvider` or its `register()`; spans made before
   * are no-ops), looked up through the api's proxy, so it may be registered after this.
   */
  readonly tracerProvider?: OtelTracerProvider;
  /**
   * How the trace context travels in call metadata. Default: the global propagator when
   * one is registered (an SDK's `register()` sets W3C trace context and baggage), else
   * W3C trace context (`traceparent`, `tracestate`) without baggage; decided at each call.
   */
  readonly propagator?: OtelPropagator;
}

/** A server interceptor and a client interceptor that trace calls with OpenTelemetry. */
export interface Tracing {
  /**
   * Put it first in `createServer({ interceptors })`, so its span covers the others: a
   * SERVER span per call, continuing the caller's trace; on worker and actor lanes, child
   * spans for the call's queue wait and run.
   */
  readonly server: ServerInterceptor;
  /** Put it first in `createClient(…, { interceptors })`: a CLIENT span per call, and a child span per attempt. */
  readonly client: ClientInterceptor;
}

/**
 * Tracing with the OpenTelemetry api you pass: `createTracing(api)` after
 * `import * as api from '@opentelemetry/api'`. Nothing of OpenTelemetry is loaded by
 * ringrpc itself; see {@link loadTracing} to have it imported. Spans follow the
 * OpenTelemetry RPC semantic conventions (README, "Tracing").
 */
export function createTracing(api: OpenTelemetryApi, options: TracingOptions = {}): Tracing {
  const problem = apiProblem(api);
  if (problem !== undefined) throw new RpcError(Status.INVALID_ARGUMENT, `createTracing needs the @opentelemetry/api module: ${problem}`);
  const { tracerProvider, propagator } = resolveTracingOptions(options);
  const tracer = (tracerProvider ?? api.trace).getTracer(TRACER_NAME);
  const tools = traceTools(api, tracer, propagator);
  return { server: serverTracing(tools), client: clientTracing(tools) };
}

/**
 * Tracing with `@opentelemetry/api`, imported now (an optional peer dependency: install it
 * next to your OpenTelemetry SDK). Without the package it rejects FAILED_PRECONDITION,
 * naming the fix. Tracing costs nothing and loads nothing until this or
 * {@link createTracing} is called.
 */
export async function loadTracing(options: TracingOptions = {}): Promise<Tracing> {
  resolveTracingOptions(options); // a bad option fails before the import is tried
  return createTracing(await loadOpenTelemetryApi(), options);
}

function resolveTracingOptions(options: TracingOptions): TracingOptions {
  if (options === null || typeof options !== 'object') throw new RpcError(Status.INVALID_ARGUMENT, 'tracing options must be an object');
  const { tracerProvider, propagator } = options;
  if (tracerProvider !== undefined && !hasMethods(tracerProvider, ['getTracer'])) {
    throw new RpcError(Status.INVALID_ARGUMENT, 'options.tracerProvider must be an OpenTelemetry TracerProvider (an object with getTracer())');
  }
  if (propagator !== undefined && !hasMethods(propagator, ['inject', 'extract', 'fields'])) {
    throw new RpcError(
      Status.INVALID_ARGUMENT,
      'options.propagator must be an OpenTelemetry TextMapPropagator (an object with inject(), extract() and fields())',
    );
  }
  for (const key of Object.keys(options)) {
    if (key !== 'tracerProvider' && key !== 'propagator') {
      throw new RpcError(Status.INVALID_ARGUMENT, `unknown tracing option ${JSON.stringify(key)} (options: tracerProvider, propagator)`);
    }
  }
  return { tracerProvider, propagator };
}

function hasMethods(value: unknown, names: readonly string[]): boolean {
  return value !== null && typeof value === 'object' && names.every((name) => typeof (value as Record<string, unknown>)[name] === 'function');
}
