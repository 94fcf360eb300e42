import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as api from '@opentelemetry/api';
import { extractTraceContext, formatTraceparent, injectTraceContext, parseTraceparent } from '../../../src/tracing/trace-context.js';

/** W3C Trace Context in metadata, the default when no propagator is registered (spec §3.2 for the cases). */
const test = suite('trace-context');

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN = '00f067aa0ba902b7';

test('parseTraceparent: what the spec accepts, and what it rejects', () => {
  const cases: Array<[string, ReturnType<typeof parseTraceparent>]> = [
    [`00-${TRACE}-${SPAN}-01`, { traceId: TRACE, spanId: SPAN, traceFlags: 1 }],
    [`00-${TRACE}-${SPAN}-00`, { traceId: TRACE, spanId: SPAN, traceFlags: 0 }],
    [` 00-${TRACE}-${SPAN}-01 `, { traceId: TRACE, spanId: SPAN, traceFlags: 1 }],
    // A later version may append fields; a reader of version 00 takes the first four.
    [`cc-${TRACE}-${SPAN}-09-what-the-future-holds`, { traceId: TRACE, spanId: SPAN, traceFlags: 9 }],
    [`cc-${TRACE}-${SPAN}-01`, { traceId: TRACE, spanId: SPAN, traceFlags: 1 }],
    [`00-${TRACE}-${SPAN}-01-extra`, undefined], // version 00 has exactly four fields
    [`ff-${TRACE}-${SPAN}-01`, undefined], // version ff is invalid
    [`00-${'0'.repeat(32)}-${SPAN}-01`, undefined], // all-zero trace id
    [`00-${TRACE}-${'0'.repeat(16)}-01`, undefined], // all-zero parent id
    [`00-${TRACE.toUpperCase()}-${SPAN}-01`, undefined], // lower-case hex only
    [`00-${TRACE.slice(1)}-${SPAN}-01`, undefined],
    [`00-${TRACE}-${SPAN}-1`, undefined],
    ['', undefined],
    ['garbage', undefined],
  ];
  for (const [value, expected] of cases) assert.equal(parseTraceparent(value), expected, JSON.stringify(value));
});

test('formatTraceparent: version 00, flags as two hex digits', () => {
  assert.is(formatTraceparent({ traceId: TRACE, spanId: SPAN, traceFlags: 1 }), `00-${TRACE}-${SPAN}-01`);
  assert.is(formatTraceparent({ traceId: TRACE, spanId: SPAN, traceFlags: 0 }), `00-${TRACE}-${SPAN}-00`);
  assert.is(formatTraceparent({ traceId: TRACE, spanId: SPAN, traceFlags: 0x1ff }), `00-${TRACE}-${SPAN}-ff`);
});

test('extract then inject gives back the traceparent and the tracestate', () => {
  const carrier = { traceparent: `00-${TRACE}-${SPAN}-01`, tracestate: 'rojo=00f067aa0ba902b7,congo=t61rcWkgMzE', other: 'x' };
  const context = extractTraceContext(api, api.ROOT_CONTEXT, carrier);
  const spanContext = api.trace.getSpanContext(context);
  assert.equal(
    { ...spanContext, traceState: spanContext?.traceState?.serialize() },
    {
      traceId: TRACE,
      spanId: SPAN,
      traceFlags: 1,
      isRemote: true,
      traceState: 'rojo=00f067aa0ba902b7,congo=t61rcWkgMzE',
    },
  );
  const out: Record<string, string> = {};
  injectTraceContext(api, context, out);
  assert.equal(out, { traceparent: carrier.traceparent, tracestate: carrier.tracestate });
});

test('extract: no traceparent, or an invalid one, leaves the context as it was', () => {
  assert.is(extractTraceContext(api, api.ROOT_CONTEXT, {}), api.ROOT_CONTEXT);
  assert.is(extractTraceContext(api, api.ROOT_CONTEXT, { traceparent: 'ff-nope', tracestate: 'a=b' }), api.ROOT_CONTEXT);
});

test('inject: nothing without a valid span context; a stale tracestate of the caller is dropped', () => {
  const out: Record<string, string> = { tracestate: 'old=1' };
  injectTraceContext(api, api.ROOT_CONTEXT, out);
  assert.equal(out, { tracestate: 'old=1' }, 'no span: the metadata is left alone');
  const context = api.trace.setSpanContext(api.ROOT_CONTEXT, { traceId: TRACE, spanId: SPAN, traceFlags: 0 });
  injectTraceContext(api, context, out);
  assert.equal(out, { traceparent: `00-${TRACE}-${SPAN}-00` });
});

test.run();
