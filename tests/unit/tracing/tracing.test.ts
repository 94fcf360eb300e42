import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as api from '@opentelemetry/api';
import { createTracing, loadTracing, RpcError, Status, type OpenTelemetryApi, type TracingOptions } from '../../../src/index.js';
import { loadOpenTelemetryApi } from '../../../src/tracing/otel-api.js';

/** The tracing factories: option checks, the api check, loading the api package. */
const test = suite('tracing');

function thrown(fn: () => unknown): RpcError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof RpcError, String(err));
    return err as RpcError;
  }
  throw new Error('it did not throw');
}

async function rejection(promise: Promise<unknown>): Promise<RpcError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof RpcError, String(err));
    return err as RpcError;
  }
  throw new Error('it resolved');
}

test('every bad option is INVALID_ARGUMENT naming it', () => {
  const cases: Array<[unknown, string]> = [
    [null, 'tracing options must be an object'],
    ['x', 'tracing options must be an object'],
    [{ tracerProvider: {} }, 'options.tracerProvider must be an OpenTelemetry TracerProvider (an object with getTracer())'],
    [{ tracerProvider: api.trace.getTracer('x') }, 'options.tracerProvider must be an OpenTelemetry TracerProvider (an object with getTracer())'],
    [{ propagator: { inject() {} } }, 'options.propagator must be an OpenTelemetry TextMapPropagator (an object with inject(), extract() and fields())'],
    [{ sampler: 1 }, 'unknown tracing option "sampler" (options: tracerProvider, propagator)'],
  ];
  for (const [options, message] of cases) {
    const error = thrown(() => createTracing(api, options as TracingOptions));
    assert.is(error.code, Status.INVALID_ARGUMENT);
    assert.is(error.rawMessage, message, JSON.stringify(options));
  }
});

test('createTracing needs the api module itself', () => {
  for (const [value, why] of [
    [undefined, 'it is not an object'],
    [{}, 'it has no trace.getTracer()'],
    [{ ...api, createTraceState: undefined }, 'it has no createTraceState() (it needs @opentelemetry/api 1.1 or later)'],
  ] as const) {
    const error = thrown(() => createTracing(value as unknown as OpenTelemetryApi));
    assert.is(error.code, Status.INVALID_ARGUMENT);
    assert.is(error.rawMessage, `createTracing needs the @opentelemetry/api module: ${why}`);
  }
});

test('createTracing takes the api module namespace as it is, and gives a server and a client interceptor', () => {
  const tracing = createTracing(api, { tracerProvider: api.trace.getTracerProvider(), propagator: { inject() {}, extract: (c) => c, fields: () => [] } });
  assert.type(tracing.server, 'function');
  assert.type(tracing.client, 'function');
});

test('loadTracing imports @opentelemetry/api when it is installed', async () => {
  const tracing = await loadTracing();
  assert.type(tracing.server, 'function');
  assert.is(await loadOpenTelemetryApi(), await loadOpenTelemetryApi(), 'imported once');
});

test('a missing api package is FAILED_PRECONDITION naming the fix; a bad option fails before any import', async () => {
  const missing = await rejection(loadOpenTelemetryApi('ringrpc-test-no-such-package'));
  assert.is(missing.code, Status.FAILED_PRECONDITION);
  assert.is(missing.rawMessage, 'tracing needs the optional peer dependency "ringrpc-test-no-such-package": npm install ringrpc-test-no-such-package');
  const notApi = await rejection(loadOpenTelemetryApi('uvu'));
  assert.is(notApi.code, Status.FAILED_PRECONDITION);
  assert.match(notApi.rawMessage, 'the package "uvu" is not @opentelemetry/api 1.x: it has no trace.getTracer()');
  const bad = await rejection(loadTracing({ nope: true } as TracingOptions));
  assert.is(bad.code, Status.INVALID_ARGUMENT);
});

test.run();
