import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as api from '@opentelemetry/api';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { createServer, createTracing, RpcError, Status, type Client, type ClientOptions, type Lane, type Server } from '../../src/index.js';
import { Bench, benchClient, handlers } from '../helpers/bench-server.js';
import { Bench as laneHandlers } from '../fixtures/lane-handlers.js';
import { Bench as actorHandlers } from '../fixtures/actor-handlers.js';

/**
 * OpenTelemetry tracing across services, exported in memory: client → service A (inline)
 * → service B (worker lane), one trace with the right parents and statuses, the worker's
 * queue and run as child spans, retries as attempt spans. The context manager is the
 * process's global one while this file runs (as an SDK's setup makes it), the tracer
 * provider is passed, and no propagator is registered: W3C trace context is the default.
 */
const test = suite('tracing');
const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
const tracing = createTracing(api, { tracerProvider: provider });
const contextManager = new AsyncLocalStorageContextManager();
const ECHO = 'bench.v1.Bench/Echo';
const STATUS = 'rpc.ringrpc.status_code';
const opened: Array<{ $close(): Promise<void> } | Server> = [];

test.before(() => {
  api.context.setGlobalContextManager(contextManager.enable());
});
test.before.each(() => exporter.reset());
test.after.each(async () => {
  for (const o of opened.splice(0).reverse()) await ('$close' in o ? o.$close() : o.close());
});
test.after(async () => {
  api.context.disable();
  await provider.shutdown();
});

/** Service B: Echo on `lane` (the lane-handlers fixture: `x-action` picks a behaviour), traced. */
async function serviceB(lane: Lane = 'worker', module = 'tests/fixtures/lane-handlers.ts'): Promise<string> {
  const impl = module.includes('actor') ? actorHandlers : laneHandlers;
  const server = createServer({ host: '127.0.0.1', port: 0, workers: 1, actorWorkers: 1, interceptors: [tracing.server] }).addService(Bench, impl, {
    lanes: { echo: lane },
    workerModule: module,
  });
  opened.push(server);
  return `127.0.0.1:${(await server.listen()).port}`;
}

/** Service A: an inline Echo that calls B's Echo with A's `x-b-action` as B's `x-action`, and relays B's failure. */
async function serviceA(b: string): Promise<string> {
  const toB = client(b, { retry: false });
  const server = createServer({ host: '127.0.0.1', port: 0, interceptors: [tracing.server] }).addService(Bench, {
    ...handlers,
    async echo(request, ctx) {
      const action = ctx.metadata['x-b-action'];
      return await toB.echo(request, { metadata: action === undefined ? {} : { 'x-action': action } });
    },
  });
  opened.push(server);
  return `127.0.0.1:${(await server.listen()).port}`;
}

function client(address: string, options: ClientOptions = {}): Client<typeof Bench> {
  const c = benchClient(address, { ...options, interceptors: [tracing.client, ...(options.interceptors ?? [])] });
  opened.push(c);
  return c;
}

const failure = (p: Promise<unknown>): Promise<RpcError> =>
  p.then(
    () => {
      throw new Error('expected the call to fail');
    },
    (e: unknown) => e as RpcError,
  );

/** The finished spans, by name and kind; exactly one of each is expected unless `all`. */
function spans(): ReadableSpan[] {
  return exporter.getFinishedSpans();
}
function only(name: string, kind: api.SpanKind, among = spans()): ReadableSpan {
  const found = among.filter((s) => s.name === name && s.kind === kind);
  assert.is(
    found.length,
    1,
    `one ${api.SpanKind[kind]} span ${name}, found ${found.length} among ${among.map((s) => `${s.name}/${api.SpanKind[s.kind]}`).join(', ')}`,
  );
  return found[0]!;
}
const parentOf = (span: ReadableSpan): string | undefined => span.parentSpanContext?.spanId;
const idOf = (span: ReadableSpan): string => span.spanContext().spanId;
const ms = (t: api.HrTime): number => t[0] * 1000 + t[1] / 1e6;

/** Waits for spans that end after the reply has reached the caller (a server span ends as its answer is written). */
async function settled(count: number): Promise<ReadableSpan[]> {
  const deadline = Date.now() + 2000;
  while (spans().length < count && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  return spans();
}

test('client → A (inline) → B (worker lane): one trace, each span the child of the one before, B’s queue and run inside B’s span', async () => {
  const a = await serviceA(await serviceB('worker'));
  await client(a).echo({ payload: Buffer.from('hi') });
  const all = await settled(8);
  const call = only(
    ECHO,
    api.SpanKind.CLIENT,
    all.filter((s) => parentOf(s) === undefined),
  );
  const attempt = only(
    `${ECHO} attempt`,
    api.SpanKind.INTERNAL,
    all.filter((s) => parentOf(s) === idOf(call)),
  );
  const aServer = only(
    ECHO,
    api.SpanKind.SERVER,
    all.filter((s) => s.attributes['ringrpc.lane'] === 'inline'),
  );
  const inner = all.filter((s) => parentOf(s) === idOf(aServer));
  const bCall = only(ECHO, api.SpanKind.CLIENT, inner);
  const bAttempt = only(
    `${ECHO} attempt`,
    api.SpanKind.INTERNAL,
    all.filter((s) => parentOf(s) === idOf(bCall)),
  );
  const bServer = only(
    ECHO,
    api.SpanKind.SERVER,
    all.filter((s) => parentOf(s) === idOf(bAttempt)),
  );
  const queue = only('worker queue', api.SpanKind.INTERNAL);
  const run = only('worker run', api.SpanKind.INTERNAL);
  assert.is(all.length, 8, 'client, attempt, A, A→B client, attempt, B, queue, run: nothing else');

  assert.is(new Set(all.map((s) => s.spanContext().traceId)).size, 1, 'one trace id');
  assert.is(parentOf(attempt), idOf(call));
  assert.is(parentOf(aServer), idOf(attempt), 'A’s span continues its caller’s attempt');
  assert.is(parentOf(bCall), idOf(aServer), 'A’s handler ran in A’s span: its call to B is a child');
  assert.is(parentOf(queue), idOf(bServer));
  assert.is(parentOf(run), idOf(bServer));

  assert.equal(
    [call.attributes['rpc.system'], call.attributes['rpc.service'], call.attributes['rpc.method'], call.attributes['server.address'], call.attributes[STATUS]],
    ['ringrpc', 'bench.v1.Bench', 'Echo', '127.0.0.1', Status.OK],
  );
  assert.is(attempt.attributes['ringrpc.attempt'], 1);
  assert.equal(
    [bServer.attributes['rpc.system'], bServer.attributes['client.address'], bServer.attributes['network.peer.address']],
    ['ringrpc', '127.0.0.1', '127.0.0.1'],
  );
  assert.is(typeof bServer.attributes['network.peer.port'], 'number');
  assert.is(bServer.attributes['ringrpc.lane'], 'worker');
  for (const s of all) assert.is(s.status.code, api.SpanStatusCode.UNSET, `${s.name} succeeded: status left unset`);

  // The thread's times, on the reactor's clock: queue then run, back to back, inside B's span.
  assert.ok(Math.abs(ms(queue.endTime) - ms(run.startTime)) < 0.01, 'the run starts as the queue wait ends');
  assert.ok(ms(queue.startTime) >= ms(bServer.startTime) - 0.5, 'the queue wait starts within B’s span');
  assert.ok(ms(run.endTime) <= ms(bServer.endTime) + 0.5, 'the run ends within B’s span');
  assert.ok(Math.abs(Number(bServer.attributes['ringrpc.run_ms']) - (ms(run.endTime) - ms(run.startTime))) < 0.01, 'the run span is ringrpc.run_ms long');
});

test('statuses: a caller’s error (NOT_FOUND) is an error on client spans only; a server’s (UNKNOWN) on every span, with its message', async () => {
  const a = await serviceA(await serviceB('worker'));
  const c = client(a, { retry: false });
  assert.is((await failure(c.echo({}, { metadata: { 'x-b-action': 'status' } }))).code, Status.NOT_FOUND);
  let all = await settled(8);
  for (const s of all.filter((s) => s.kind !== api.SpanKind.INTERNAL || s.name.endsWith('attempt'))) {
    assert.is(s.attributes[STATUS], Status.NOT_FOUND, `${s.name} (${api.SpanKind[s.kind]}) has the status`);
    const error = s.kind !== api.SpanKind.SERVER;
    assert.is(s.status.code, error ? api.SpanStatusCode.ERROR : api.SpanStatusCode.UNSET, `${s.name} (${api.SpanKind[s.kind]})`);
    if (error) assert.match(s.status.message ?? '', 'nothing here');
  }
  exporter.reset();
  assert.is((await failure(c.echo({}, { metadata: { 'x-b-action': 'throw' } }))).code, Status.UNKNOWN);
  all = await settled(8);
  const servers = all.filter((s) => s.kind === api.SpanKind.SERVER);
  assert.is(servers.length, 2);
  for (const s of servers) {
    assert.is(s.status.code, api.SpanStatusCode.ERROR);
    assert.match(s.status.message ?? '', 'handler failed on purpose', 'B’s message is read from its worker’s answer; A relays it');
  }
});

test('retries: one attempt span per attempt under the call’s span, each with its status; each server span is its attempt’s child', async () => {
  let calls = 0;
  const server = createServer({ host: '127.0.0.1', port: 0, interceptors: [tracing.server] }).addService(Bench, {
    ...handlers,
    echo(request) {
      if (++calls < 3) throw new RpcError(Status.UNAVAILABLE, `busy ${calls}`);
      return { payload: request.payload };
    },
  });
  opened.push(server);
  const address = `127.0.0.1:${(await server.listen()).port}`;
  const c = client(address, {
    retry: { maxAttempts: 3, initialBackoffMs: 1, maxBackoffMs: 1, retryableStatuses: ['UNAVAILABLE'] },
    methods: { Echo: { idempotent: true } },
  });
  await c.echo({});
  const all = await settled(7);
  const call = only(ECHO, api.SpanKind.CLIENT);
  const attempts = all
    .filter((s) => s.name === `${ECHO} attempt`)
    .sort((x, y) => Number(x.attributes['ringrpc.attempt']) - Number(y.attributes['ringrpc.attempt']));
  assert.equal(
    attempts.map((s) => [s.attributes['ringrpc.attempt'], s.attributes[STATUS], s.status.code, s.status.message ?? '', parentOf(s) === idOf(call)]),
    [
      [1, Status.UNAVAILABLE, api.SpanStatusCode.ERROR, 'busy 1', true],
      [2, Status.UNAVAILABLE, api.SpanStatusCode.ERROR, 'busy 2', true],
      [3, Status.OK, api.SpanStatusCode.UNSET, '', true],
    ],
  );
  const servers = all.filter((s) => s.kind === api.SpanKind.SERVER);
  assert.equal(servers.map((s) => attempts.findIndex((a) => idOf(a) === parentOf(s)) + 1).sort(), [1, 2, 3]);
  assert.is(call.attributes[STATUS], Status.OK);
  assert.is(call.status.code, api.SpanStatusCode.UNSET);
});

test('worker lane: the handler’s ctx.metadata.traceparent names the server span, so a handler can pass it on', async () => {
  const b = await serviceB('worker');
  const reply = { metadata: {} as Readonly<Record<string, string>> };
  await client(b).echo({}, { metadata: { 'x-action': 'whoami' }, onMetadata: (m) => (reply.metadata = m) });
  const seen = JSON.parse(reply.metadata['metadata']!) as Record<string, string>;
  const server = only(ECHO, api.SpanKind.SERVER, await settled(5));
  assert.is(seen['traceparent'], `00-${server.spanContext().traceId}-${idOf(server)}-01`);
});

test('a call made outside any span, whose metadata carries a traceparent, continues that trace', async () => {
  const b = await serviceB('inline');
  const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
  await client(b).echo({}, { metadata: { traceparent: `00-${traceId}-00f067aa0ba902b7-01` } });
  const call = only(ECHO, api.SpanKind.CLIENT, await settled(3));
  assert.is(call.spanContext().traceId, traceId);
  assert.is(parentOf(call), '00f067aa0ba902b7');
});

test('actor lane: the message’s wait behind its key and its run are child spans', async () => {
  const b = await serviceB('actor', 'tests/fixtures/actor-handlers.ts');
  const c = client(b);
  await Promise.all([
    c.echo({}, { key: 'k', metadata: { 'x-action': 'block', 'x-ms': '30' } }),
    c.echo({}, { key: 'k', metadata: { 'x-action': 'block', 'x-ms': '30' } }),
  ]);
  const all = await settled(10);
  const runs = all.filter((s) => s.name === 'actor run');
  const queues = all.filter((s) => s.name === 'actor queue');
  assert.is(runs.length, 2);
  assert.is(queues.length, 2);
  for (const run of runs) assert.ok(ms(run.endTime) - ms(run.startTime) >= 29, 'each run took its 30 ms');
  assert.ok(Math.max(...queues.map((q) => ms(q.endTime) - ms(q.startTime))) >= 25, 'one message waited for the other');
});

test('a propagator given as an option carries the context in its own field, and nothing else is sent', async () => {
  const KEY = 'x-trace';
  const propagator: api.TextMapPropagator = {
    inject: (context, carrier, setter) => {
      const sc = api.trace.getSpanContext(context);
      if (sc !== undefined) setter.set(carrier, KEY, `${sc.traceId}.${sc.spanId}`);
    },
    extract: (context, carrier, getter) => {
      const value = getter.get(carrier, KEY);
      if (typeof value !== 'string') return context;
      const [traceId, spanId] = value.split('.');
      return api.trace.setSpanContext(context, { traceId: traceId!, spanId: spanId!, traceFlags: 1, isRemote: true });
    },
    fields: () => [KEY],
  };
  const own = createTracing(api, { tracerProvider: provider, propagator });
  const server = createServer({ host: '127.0.0.1', port: 0, interceptors: [own.server] }).addService(Bench, laneHandlers);
  opened.push(server);
  const c = benchClient(`127.0.0.1:${(await server.listen()).port}`, { interceptors: [own.client] });
  opened.push(c);
  const reply = { metadata: {} as Readonly<Record<string, string>> };
  await c.echo({}, { metadata: { 'x-action': 'whoami' }, onMetadata: (m) => (reply.metadata = m) });
  const seen = JSON.parse(reply.metadata['metadata']!) as Record<string, string>;
  assert.is(seen['traceparent'], undefined);
  const attempt = only(`${ECHO} attempt`, api.SpanKind.INTERNAL, await settled(3));
  assert.is(seen[KEY], `${attempt.spanContext().traceId}.${idOf(attempt)}`);
  assert.is(parentOf(only(ECHO, api.SpanKind.SERVER)), idOf(attempt));
});

test('a propagator registered globally is used instead of W3C trace context', async () => {
  let injected = 0;
  let extracted = 0;
  api.propagation.setGlobalPropagator({
    inject: () => void injected++,
    extract: (context) => {
      extracted++;
      return context;
    },
    fields: () => ['x-none'],
  });
  try {
    const b = await serviceB('inline');
    const reply = { metadata: {} as Readonly<Record<string, string>> };
    await client(b).echo({}, { metadata: { 'x-action': 'whoami' }, onMetadata: (m) => (reply.metadata = m) });
    assert.is((JSON.parse(reply.metadata['metadata']!) as Record<string, string>)['traceparent'], undefined);
    assert.is(injected, 2, 'the call and its attempt');
    assert.is(extracted, 1, 'the server');
  } finally {
    api.propagation.disable();
  }
});

test.run();
