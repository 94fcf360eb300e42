import type { OpenTelemetryApi, OtelContext, OtelSpanContext } from './otel-api.js';

/**
 * W3C Trace Context (https://www.w3.org/TR/trace-context/) in call metadata: what tracing
 * propagates when neither an option nor the process names a propagator. The api alone has
 * none (its global propagator does nothing until an SDK registers one), and a trace that
 * silently stops at every hop is worse than a default.
 */

/** The metadata keys, lower case as the spec's HTTP headers are sent. */
export const TRACEPARENT = 'traceparent';
export const TRACESTATE = 'tracestate';

const TRACEPARENT_FORMAT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;
const ALL_ZEROS = /^0+$/;

/** A `traceparent` value read: the parent's ids and flags. */
export interface Traceparent {
  readonly traceId: string;
  readonly spanId: string;
  readonly traceFlags: number;
}

/**
 * Reads a `traceparent` value; undefined when it is not one. Version `ff` is invalid;
 * version 00 has exactly four fields; a later version may append fields, which are
 * ignored (spec §3.2.4). All-zero ids are invalid.
 */
export function parseTraceparent(value: string): Traceparent | undefined {
  const match = TRACEPARENT_FORMAT.exec(value.trim());
  if (match === null) return undefined;
  const [, version, traceId, spanId, flags, rest] = match;
  if (version === 'ff' || (version === '00' && rest !== undefined)) return undefined;
  if (ALL_ZEROS.test(traceId!) || ALL_ZEROS.test(spanId!)) return undefined;
  return { traceId: traceId!, spanId: spanId!, traceFlags: Number.parseInt(flags!, 16) };
}

/** The version-00 `traceparent` of a span context. */
export function formatTraceparent(spanContext: Pick<OtelSpanContext, 'traceId' | 'spanId' | 'traceFlags'>): string {
  return `00-${spanContext.traceId}-${spanContext.spanId}-${(spanContext.traceFlags & 0xff).toString(16).padStart(2, '0')}`;
}

/** Writes the span context of `context` into `carrier` as `traceparent` (and `tracestate` when it has entries). */
export function injectTraceContext(api: OpenTelemetryApi, context: OtelContext, carrier: Record<string, string>): void {
  const spanContext = api.trace.getSpanContext(context);
  if (spanContext === undefined || !api.trace.isSpanContextValid(spanContext)) return;
  carrier[TRACEPARENT] = formatTraceparent(spanContext);
  const state = spanContext.traceState?.serialize();
  if (state) carrier[TRACESTATE] = state;
  else delete carrier[TRACESTATE]; // one sent by the caller belongs to another parent
}

/** `context` with the remote span context `carrier` names, or `context` itself when it names none. */
export function extractTraceContext(api: OpenTelemetryApi, context: OtelContext, carrier: Readonly<Record<string, string>>): OtelContext {
  const header = carrier[TRACEPARENT];
  if (header === undefined) return context;
  const parent = parseTraceparent(header);
  if (parent === undefined) return context;
  const state = carrier[TRACESTATE];
  return api.trace.setSpanContext(context, {
    ...parent,
    isRemote: true,
    traceState: state === undefined ? undefined : api.createTraceState(state),
  });
}
