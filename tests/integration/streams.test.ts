import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash, randomBytes } from 'node:crypto';
import { RpcError, Status, type HandlerContext, type Server } from '../../src/index.js';
import { FrameType } from '../../src/internal.js';
import { RawPeer } from '../helpers/raw-socket.js';
import { startBenchServer, handlers, Bench } from '../helpers/bench-server.js';
import { streamPayload } from '../../examples/bench/handlers.js';
import { WINDOW, credit, encode, frameBytes, open, replyPayload, runStream, take } from '../helpers/raw-stream.js';

/** The server side of streams over ringrpc's protocol (spec §Streams), driven by a raw client. */
const test = suite('streams: server');

/** What the instrumented handlers saw: yields, closed generators, aborted signals. */
const seen = { yielded: 0, finallyRan: 0, aborted: [] as number[] };
const STALL_PAYLOAD = 1000;

/** A server stream that counts its yields and notes its end; `count` 0 streams until stopped; `payload_bytes` 13 fails after 3. */
async function* counted(request: { count: number; payloadBytes: number }, ctx: HandlerContext) {
  ctx.signal.addEventListener('abort', () => seen.aborted.push((ctx.signal.reason as RpcError).code));
  try {
    for (let n = 0; request.count === 0 || n < request.count; n++) {
      if (request.payloadBytes === 13 && n === 3) throw new RpcError(Status.NOT_FOUND, 'no fourth reply');
      seen.yielded++;
      yield { payload: Buffer.alloc(request.payloadBytes === 13 ? 1 : STALL_PAYLOAD, n & 0xff) };
    }
    ctx.responseMetadata['x-sent'] = String(request.count);
  } finally {
    seen.finallyRan++;
  }
}

let server: Server;
let port: number;

test.before(async () => {
  ({ server, port } = await startBenchServer({}, { ...handlers, stream: counted, echo: handlers.echo }));
});

test.after(async () => {
  await server.close();
});

test.before.each(() => {
  seen.yielded = 0;
  seen.finallyRan = 0;
  seen.aborted.length = 0;
});

async function until(predicate: () => boolean, what: string, ms = 5000): Promise<void> {
  for (const end = Date.now() + ms; !predicate(); ) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

/** A server of the plain Bench handlers, for the kinds' own answers. */
async function withBench<T>(fn: (port: number, server: Server) => Promise<T>): Promise<T> {
  const bench = await startBenchServer();
  try {
    return await fn(bench.port, bench.server);
  } finally {
    await bench.server.close();
  }
}

test('server stream: 10,000 replies in order, then RESPONSE OK with an empty body', async () => {
  await withBench(async (benchPort, bench) => {
    const peer = await RawPeer.connect(benchPort);
    open(peer, 1, 'Stream', encode.stream(10_000, 8));
    const { messages, response } = await runStream(peer, 1);
    assert.is(response.decodedMeta.status, Status.OK, response.decodedMeta.message);
    assert.is(response.body.length, 0);
    assert.is(messages.length, 10_000);
    for (let n = 0; n < messages.length; n++) {
      if (!Buffer.from(replyPayload(messages[n]!)).equals(Buffer.from(streamPayload(n & 0xff, 8)))) assert.unreachable(`reply ${n} out of order`);
    }
    const stats = bench.stats().methods['bench.v1.Bench/Stream']!;
    assert.is(stats.ok, 1, 'one call, however many messages');
    assert.is(stats.requests, 1);
    peer.destroy();
  });
});

test('client stream: Sum answers the sha256 of the payloads in order, across many windows', async () => {
  await withBench(async (benchPort) => {
    const peer = await RawPeer.connect(benchPort);
    const payloads = Array.from({ length: 600 }, (_, i) => randomBytes(i % 700));
    open(peer, 1, 'Sum');
    const { response, credits } = await runStream(peer, 1, { send: payloads.map(encode.echo) });
    assert.is(response.decodedMeta.status, Status.OK, response.decodedMeta.message);
    const reply = Bench.methods.sum.responseType.decode(response.body) as unknown as { messages: bigint; bytes: bigint; digest: Uint8Array };
    assert.is(reply.messages, 600n);
    assert.is(reply.bytes, BigInt(payloads.reduce((n, p) => n + p.length, 0)));
    assert.is(Buffer.from(reply.digest).toString('hex'), createHash('sha256').update(Buffer.concat(payloads)).digest('hex'));
    assert.ok(credits.length > 0, 'the server granted credit as Sum read');
    for (const granted of credits) assert.ok(granted >= WINDOW / 2, `grants come in halves of the window (${granted})`);
    peer.destroy();
  });
});

test('bidi: Chat echoes every message in order, and ends OK after the half-close', async () => {
  await withBench(async (benchPort) => {
    const peer = await RawPeer.connect(benchPort);
    const payloads = Array.from({ length: 3000 }, (_, i) => Buffer.from(`message ${i}`));
    open(peer, 1, 'Chat');
    const { messages, response } = await runStream(peer, 1, { send: payloads.map(encode.echo) });
    assert.is(response.decodedMeta.status, Status.OK, response.decodedMeta.message);
    assert.equal(
      messages.map((m) => Buffer.from(replyPayload(m)).toString()),
      payloads.map((p) => p.toString()),
    );
    peer.destroy();
  });
});

test('a reader that grants nothing stops the generator within the window; a CREDIT resumes it', async () => {
  const peer = await RawPeer.connect(port);
  open(peer, 1, 'Stream', encode.stream(100, 0));
  const firstWindow: number[] = [];
  let bytes = 0;
  // The server may send while its credit is above 0: its last MESSAGE takes it below.
  while (bytes < WINDOW) {
    const frame = await peer.next(FrameType.MESSAGE);
    firstWindow.push(frameBytes(frame));
    bytes += frameBytes(frame);
  }
  // A round trip: whatever the server did after its last MESSAGE, it did before this PONG.
  peer.send(FrameType.PING, 77);
  await peer.next(FrameType.PONG);
  const frameSize = firstWindow[0]!;
  assert.ok(seen.yielded <= Math.floor(WINDOW / frameSize) + 1, `the generator got to ${seen.yielded} yields (window ${WINDOW}, frames of ${frameSize})`);
  assert.is(seen.yielded, firstWindow.length, 'pulled only what it could send');
  assert.is(take(peer, 1).length, 0, 'nothing beyond the window');
  credit(peer, 1, 10 * WINDOW);
  const { messages, response } = await runStream(peer, 1);
  assert.is(firstWindow.length + messages.length, 100);
  assert.is(response.decodedMeta.status, Status.OK);
  assert.equal({ ...response.decodedMeta.metadata }, { 'x-sent': '100' }, 'trailing metadata = ctx.responseMetadata');
  assert.is(seen.finallyRan, 1);
  peer.destroy();
});

test('the window is the REQUEST`s Meta.window when set', async () => {
  const peer = await RawPeer.connect(port);
  open(peer, 1, 'Stream', encode.stream(100, 0), { window: 3000 });
  let bytes = 0;
  let count = 0;
  while (bytes < 3000) {
    bytes += frameBytes(await peer.next(FrameType.MESSAGE));
    count++;
  }
  peer.send(FrameType.PING, 77);
  await peer.next(FrameType.PONG);
  assert.is(count, 3, 'three frames of 1,019 bytes cover 3,000');
  assert.is(seen.yielded, 3);
  peer.send(FrameType.CANCEL, 1);
  await until(() => seen.finallyRan === 1, 'the generator to close');
  peer.destroy();
});

test('CANCEL mid-stream: ctx.signal aborts CANCELLED, the generator`s finally runs, nothing more is written', async () => {
  const peer = await RawPeer.connect(port);
  const before = server.stats().methods['bench.v1.Bench/Stream']!;
  open(peer, 1, 'Stream', encode.stream(0, 0));
  await peer.next(FrameType.MESSAGE);
  peer.send(FrameType.CANCEL, 1);
  await until(() => seen.finallyRan === 1, 'the generator to close');
  assert.equal(seen.aborted, [Status.CANCELLED]);
  credit(peer, 1, WINDOW); // crossed the end: ignored
  peer.send(FrameType.PING, 78);
  await peer.next(FrameType.PONG);
  assert.not.ok(
    peer.frames.some((f) => f.requestId === 1 && f.type === FrameType.RESPONSE),
    'no RESPONSE after a CANCEL',
  );
  const after = server.stats().methods['bench.v1.Bench/Stream']!;
  assert.is((after.errors['CANCELLED'] ?? 0) - (before.errors['CANCELLED'] ?? 0), 1);
  assert.is(after.inflight, 0);
  assert.not.ok(peer.closed);
  peer.destroy();
});

test('deadline mid-stream: RESPONSE 4 DEADLINE_EXCEEDED, the generator closed', async () => {
  const peer = await RawPeer.connect(port);
  open(peer, 1, 'Stream', encode.stream(0, 0), { timeoutMs: 300 });
  const { messages, response } = await runStream(peer, 1, { grant: false });
  assert.ok(messages.length > 0);
  assert.is(response.decodedMeta.status, Status.DEADLINE_EXCEEDED);
  assert.match(response.decodedMeta.message, /Stream exceeded its deadline/);
  await until(() => seen.finallyRan === 1, 'the generator to close');
  assert.equal(seen.aborted, [Status.DEADLINE_EXCEEDED]);
  peer.destroy();
});

test("the server's callTimeoutMs covers a whole stream too", async () => {
  const limited = await startBenchServer({ callTimeoutMs: 300 }, { ...handlers, stream: counted });
  try {
    const peer = await RawPeer.connect(limited.port);
    open(peer, 1, 'Stream', encode.stream(0, 0));
    const { response } = await runStream(peer, 1, { grant: false });
    assert.is(response.decodedMeta.status, Status.DEADLINE_EXCEEDED);
    assert.match(response.decodedMeta.message, /callTimeoutMs of 300 ms/);
    await until(() => seen.finallyRan === 1, 'the generator to close');
    peer.destroy();
  } finally {
    await limited.server.close();
  }
});

test('CANCEL of a bidi stream whose handler awaits its requests: the read rejects CANCELLED, the generator`s finally runs', async () => {
  const ended: string[] = [];
  const bidi = await startBenchServer(
    {},
    {
      ...handlers,
      async *chat(requests) {
        try {
          for await (const request of requests) yield { payload: request.payload };
          ended.push('end of input');
        } catch (err) {
          ended.push(`read failed ${(err as RpcError).code}`);
          throw err;
        } finally {
          ended.push('finally');
        }
      },
    },
  );
  try {
    const peer = await RawPeer.connect(bidi.port);
    open(peer, 1, 'Chat');
    peer.send(FrameType.MESSAGE, 1, {}, encode.echo(Buffer.from('one')));
    await peer.next(FrameType.MESSAGE);
    peer.send(FrameType.CANCEL, 1);
    await until(() => ended.length === 2, 'the handler to end');
    assert.equal(ended, [`read failed ${Status.CANCELLED}`, 'finally']);
    // A client stream never half-closed waits for its deadline, then ends DEADLINE_EXCEEDED.
    open(peer, 2, 'Sum', undefined, { timeoutMs: 200 });
    peer.send(FrameType.MESSAGE, 2, {}, encode.echo(Buffer.from('two')));
    const { response } = await runStream(peer, 2);
    assert.is(response.decodedMeta.status, Status.DEADLINE_EXCEEDED);
    peer.destroy();
  } finally {
    await bidi.server.close();
  }
});

test('a handler that throws mid-stream: RESPONSE with its status after the replies it yielded', async () => {
  const peer = await RawPeer.connect(port);
  open(peer, 1, 'Stream', encode.stream(10, 13));
  const { messages, response } = await runStream(peer, 1);
  assert.is(messages.length, 3);
  assert.is(response.decodedMeta.status, Status.NOT_FOUND);
  assert.is(response.decodedMeta.message, 'no fourth reply');
  peer.destroy();
});

test('client disconnect mid-stream: the generator is closed and its signal aborts', async () => {
  const peer = await RawPeer.connect(port);
  open(peer, 1, 'Stream', encode.stream(0, 0));
  await peer.next(FrameType.MESSAGE);
  peer.destroy();
  await until(() => seen.finallyRan === 1, 'the generator to close');
  assert.equal(seen.aborted, [Status.CANCELLED]);
  await until(() => server.stats().inflight === 0, 'the call to be booked');
});

test('10,000 unary calls interleaved with streams on one connection are all answered, a stalled stream in their midst', async () => {
  await withBench(async (benchPort) => {
    const peer = await RawPeer.connect(benchPort);
    open(peer, 1, 'Stream', encode.stream(1_000_000, 100)); // never granted: stalls after its window
    open(peer, 2, 'Chat');
    let id = 3;
    const echoIds: number[] = [];
    for (let batch = 0; batch < 100; batch++) {
      for (let i = 0; i < 100; i++) {
        echoIds.push(id);
        peer.send(FrameType.REQUEST, id++, { service: 'bench.v1.Bench', method: 'Echo' }, encode.echo(Buffer.from(`e${id}`)));
      }
      peer.send(FrameType.MESSAGE, 2, {}, encode.echo(Buffer.from(`chat ${batch}`)));
      await new Promise((r) => setImmediate(r));
    }
    peer.send(FrameType.HALF_CLOSE, 2);
    const chat = await runStream(peer, 2);
    assert.is(chat.response.decodedMeta.status, Status.OK);
    assert.is(chat.messages.length, 100);
    await peer.until(() => peer.frames.filter((f) => f.type === FrameType.RESPONSE).length >= echoIds.length, 20_000, '10,000 echo answers');
    const answered = new Set(peer.frames.filter((f) => f.type === FrameType.RESPONSE && f.decodedMeta.status === Status.OK).map((f) => f.requestId));
    for (const echo of echoIds) if (!answered.has(echo)) assert.unreachable(`Echo ${echo} unanswered`);
    assert.not.ok(answered.has(1), 'the stalled stream is still open');
    peer.destroy();
  });
});

test('a stream whose window is never spent does not hold the reactor: another connection is answered while it streams', async () => {
  const count = 20_000; // 20 MB of replies, all within the window: only the pump's own turns let anything else run
  const streaming = await RawPeer.connect(port);
  const other = await RawPeer.connect(port);
  open(streaming, 1, 'Stream', encode.stream(count, 1000), { window: 0x7fff_ffff });
  await streaming.until(() => streaming.frames.some((f) => f.type === FrameType.MESSAGE), 5000, 'the first replies');
  other.send(FrameType.REQUEST, 1, { service: 'bench.v1.Bench', method: 'Echo' }, encode.echo(Buffer.from('meanwhile')));
  await other.until(() => other.frames.some((f) => f.type === FrameType.RESPONSE), 10_000, 'the Echo answer');
  assert.ok(seen.yielded < count, `the Echo was answered while the stream ran (after ${seen.yielded} of ${count} replies)`);
  await streaming.until(() => streaming.frames.some((f) => f.type === FrameType.RESPONSE), 20_000, 'the stream to end');
  assert.is(streaming.frames.filter((f) => f.type === FrameType.MESSAGE).length, count);
  streaming.destroy();
  other.destroy();
});

test('a stream is one call in flight: maxConcurrentRequestsPerConnection counts it until it ends', async () => {
  const limited = await startBenchServer({ maxConcurrentRequestsPerConnection: 1 }, { ...handlers, stream: counted });
  try {
    const peer = await RawPeer.connect(limited.port);
    open(peer, 1, 'Stream', encode.stream(0, 0));
    await peer.next(FrameType.MESSAGE);
    assert.is(limited.server.stats().inflight, 1);
    peer.send(FrameType.REQUEST, 2, { service: 'bench.v1.Bench', method: 'Echo' }, encode.echo(Buffer.from('x')));
    const refused = await peer.next(FrameType.RESPONSE);
    assert.is(refused.requestId, 2);
    assert.is(refused.decodedMeta.status, Status.RESOURCE_EXHAUSTED);
    peer.send(FrameType.CANCEL, 1);
    await until(() => limited.server.stats().inflight === 0, 'the stream to end');
    peer.send(FrameType.REQUEST, 3, { service: 'bench.v1.Bench', method: 'Echo' }, encode.echo(Buffer.from('y')));
    assert.is((await peer.next(FrameType.RESPONSE)).decodedMeta.status, Status.OK);
    peer.destroy();
  } finally {
    await limited.server.close();
  }
});

test('graceful shutdown lets a taken stream run to its end', async () => {
  const closing = await startBenchServer({}, { ...handlers, stream: counted });
  const peer = await RawPeer.connect(closing.port);
  open(peer, 1, 'Stream', encode.stream(300, 0));
  await peer.next(FrameType.MESSAGE);
  const shutdown = closing.server.shutdown({ graceMs: 20_000 });
  await peer.next(FrameType.GOAWAY);
  const { messages, response } = await runStream(peer, 1); // grants credit after the GOAWAY
  assert.is(messages.length, 299);
  assert.is(response.decodedMeta.status, Status.OK);
  await shutdown;
  await peer.waitClosed();
});

test('server interceptors run before a stream`s handler: they see its metadata and may refuse it', async () => {
  const outcomes: Array<{ method: string; status: number; user: string | undefined }> = [];
  const guarded = await startBenchServer(
    {
      interceptors: [
        async (call, next) => {
          const user = call.metadata['x-user'];
          if (user === undefined) throw new RpcError(Status.UNAUTHENTICATED, 'who are you?');
          const outcome = await next();
          outcomes.push({ method: call.method, status: outcome.status, user });
          return outcome;
        },
      ],
    },
    { ...handlers, stream: counted },
  );
  try {
    const peer = await RawPeer.connect(guarded.port);
    open(peer, 1, 'Stream', encode.stream(5, 0));
    const refused = await runStream(peer, 1);
    assert.is(refused.response.decodedMeta.status, Status.UNAUTHENTICATED);
    assert.is(seen.yielded, 0, 'the handler never ran');
    open(peer, 2, 'Stream', encode.stream(5, 0), { metadata: { 'x-user': 'ada' } });
    const served = await runStream(peer, 2);
    assert.is(served.messages.length, 5);
    await until(() => outcomes.length === 1, 'the outcome');
    assert.equal(outcomes, [{ method: 'Stream', status: Status.OK, user: 'ada' }]);
    // A client stream's MESSAGEs sent while the interceptor decides are buffered, not lost.
    open(peer, 3, 'Sum', undefined, { metadata: { 'x-user': 'ada' } });
    const sum = await runStream(peer, 3, { send: [encode.echo(Buffer.from('a')), encode.echo(Buffer.from('b'))] });
    assert.is(sum.response.decodedMeta.status, Status.OK);
    assert.is((Bench.methods.sum.responseType.decode(sum.response.body) as unknown as { messages: bigint }).messages, 2n);
    peer.destroy();
  } finally {
    await guarded.server.close();
  }
});

test.run();
