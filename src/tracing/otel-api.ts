import { RpcError } from '../errors.js';
import { Status } from '../status.js';

/**
 * The part of `@opentelemetry/api` that ringrpc's tracing uses, written out here instead of
 * imported: the package is an optional peer dependency, and ringrpc's own type
 * declarations must check in a project that does not have it (under `skipLibCheck: false`
 * too). The api's module namespace (`import * as api from '@opentelemetry/api'`) is
 * assignable to {@link OpenTelemetryApi}, and its objects to these types.
 */

/** An OpenTelemetry `Context`. */
export interface OtelContext {
  getValue(key: symbol): unknown;
  setValue(key: symbol, value: unknown): OtelContext;
  deleteValue(key: symbol): OtelContext;
}

/** An OpenTelemetry `TraceState` (the W3C `tracestate` entries of a span context). */
export interface OtelTraceState {
  get(key: string): string | undefined;
  serialize(): string;
}

/** An OpenTelemetry `SpanContext`. */
export interface OtelSpanContext {
  traceId: string;
  spanId: string;
  isRemote?: boolean;
  traceFlags: number;
  traceState?: OtelTraceState;
}

/** The attribute values ringrpc sets. */
export type OtelAttributes = Record<string, string | number | boolean | undefined>;

/** An OpenTelemetry `Span`, as far as ringrpc writes to it. */
export interface OtelSpan {
  spanContext(): OtelSpanContext;
  setAttribute(key: string, value: string | number | boolean): unknown;
  setAttributes(attributes: OtelAttributes): unknown;
  setStatus(status: { code: number; message?: string }): unknown;
  /** `endTime` in ms since the epoch. */
  end(endTime?: number): void;
  isRecording(): boolean;
}

/** An OpenTelemetry `Tracer`. */
export interface OtelTracer {
  startSpan(name: string, options?: { kind?: number; attributes?: OtelAttributes; startTime?: number }, context?: OtelContext): OtelSpan;
}

/** An OpenTelemetry `TracerProvider` (the SDK's `BasicTracerProvider`, `NodeTracerProvider`, …). */
export interface OtelTracerProvider {
  getTracer(name: string, version?: string): OtelTracer;
}

/** An OpenTelemetry `TextMapPropagator` over string maps (`W3CTraceContextPropagator`, `CompositePropagator`, …). */
export interface OtelPropagator {
  inject(context: OtelContext, carrier: Record<string, string>, setter: OtelTextMapSetter): void;
  extract(context: OtelContext, carrier: Record<string, string>, getter: OtelTextMapGetter): OtelContext;
  fields(): string[];
}

/** An OpenTelemetry `TextMapSetter`. */
export interface OtelTextMapSetter {
  set(carrier: Record<string, string>, key: string, value: string): void;
}

/** An OpenTelemetry `TextMapGetter`. */
export interface OtelTextMapGetter {
  keys(carrier: Record<string, string>): string[];
  get(carrier: Record<string, string>, key: string): undefined | string | string[];
}

/** The `@opentelemetry/api` module, as far as ringrpc uses it (pass the module namespace itself). */
export interface OpenTelemetryApi {
  readonly trace: {
    getTracer(name: string, version?: string): OtelTracer;
    setSpan(context: OtelContext, span: OtelSpan): OtelContext;
    getSpanContext(context: OtelContext): OtelSpanContext | undefined;
    setSpanContext(context: OtelContext, spanContext: OtelSpanContext): OtelContext;
    isSpanContextValid(spanContext: OtelSpanContext): boolean;
  };
  readonly context: {
    active(): OtelContext;
    with<F extends () => ReturnType<F>>(context: OtelContext, fn: F): ReturnType<F>;
  };
  readonly propagation: {
    inject(context: OtelContext, carrier: Record<string, string>): void;
    extract(context: OtelContext, carrier: Record<string, string>): OtelContext;
    fields(): string[];
  };
  readonly createTraceState: (raw?: string) => OtelTraceState;
  readonly ROOT_CONTEXT: OtelContext;
  readonly defaultTextMapGetter: OtelTextMapGetter;
  readonly defaultTextMapSetter: OtelTextMapSetter;
}

/** The api's package name: loaded only by {@link loadOpenTelemetryApi}, never imported statically. */
export const OPENTELEMETRY_API_PACKAGE = '@opentelemetry/api';

let loaded: Promise<OpenTelemetryApi> | undefined;

/**
 * Imports `@opentelemetry/api` (once per process). Missing, or not the api, it is
 * FAILED_PRECONDITION naming the fix. `name` is the module to load: tests point it
 * elsewhere.
 */
export function loadOpenTelemetryApi(name: string = OPENTELEMETRY_API_PACKAGE): Promise<OpenTelemetryApi> {
  if (name !== OPENTELEMETRY_API_PACKAGE) return importApi(name);
  loaded ??= importApi(name);
  // A failed load is not kept: the package may be installed while the process runs.
  loaded.catch(() => (loaded = undefined));
  return loaded;
}

async function importApi(name: string): Promise<OpenTelemetryApi> {
  let module: Record<string, unknown>;
  try {
    module = (await import(name)) as Record<string, unknown>;
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const missing = (e.code === 'ERR_MODULE_NOT_FOUND' || e.code === 'MODULE_NOT_FOUND') && String(e.message).includes(`'${name}'`);
    const message = missing
      ? `tracing needs the optional peer dependency "${name}": npm install ${name}`
      : `tracing needs the optional peer dependency "${name}", which is installed but does not load (${String(e.message).split('\n')[0]})`;
    throw new RpcError(Status.FAILED_PRECONDITION, message, { cause: err });
  }
  const problem = apiProblem(module);
  if (problem !== undefined) throw new RpcError(Status.FAILED_PRECONDITION, `the package "${name}" is not @opentelemetry/api 1.x: ${problem}`);
  return module as unknown as OpenTelemetryApi;
}

/** What makes `value` unusable as the api, or undefined when it is usable. */
export function apiProblem(value: unknown): string | undefined {
  if (value === null || typeof value !== 'object') return 'it is not an object';
  const api = value as Record<string, Record<string, unknown> | undefined>;
  const needed: Array<[string, string]> = [
    ['trace', 'getTracer'],
    ['trace', 'setSpan'],
    ['trace', 'getSpanContext'],
    ['trace', 'setSpanContext'],
    ['trace', 'isSpanContextValid'],
    ['context', 'active'],
    ['context', 'with'],
    ['propagation', 'inject'],
    ['propagation', 'extract'],
    ['propagation', 'fields'],
  ];
  for (const [part, fn] of needed) {
    if (typeof api[part]?.[fn] !== 'function') return `it has no ${part}.${fn}()`;
  }
  if (typeof api['createTraceState'] !== 'function') return 'it has no createTraceState() (it needs @opentelemetry/api 1.1 or later)';
  if (api['ROOT_CONTEXT'] === undefined) return 'it has no ROOT_CONTEXT';
  if (api['defaultTextMapGetter'] === undefined || api['defaultTextMapSetter'] === undefined) return 'it has no defaultTextMapGetter/defaultTextMapSetter';
  return undefined;
}
