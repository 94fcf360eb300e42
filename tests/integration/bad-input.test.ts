import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { gzipSync } from 'node:zlib';
import { RpcError, Status, type Server } from '../../src/index.js';
import { encodeFrame, encodeMeta, FrameType, Compression } from '../../src/internal.js';
import { RawPeer } from '../helpers/raw-socket.js';
import { startBenchServer, benchClient, handlers, Bench } from '../helpers/bench-server.js';

/** One case per row of the spec's "What a server must do with bad input" table. */
const test = suite('bad input (spec table)');

const ran = { echo: 0 };
let server: Server;
let port: number;
let address: string;

test.before(async () => {
  ({ server, port, address } = await startBenchServer(
    { maxFrameBytes: 64 * 1024, heartbeatIntervalMs: 100, heartbeatMissLimit: 1, maxConcurrentRequests: 50 },
    {
      ...handlers,
      echo(request) {
        ran.echo++;
        return { payload: request.payload };
      },
      work(request) {
        if (request.rounds === 13) throw new Error('thirteen is unlucky');
        if (request.rounds === 14) throw new RpcError(Status.NOT_FOUND, 'no such digest');
        if (request.rounds === 15) return Promise.reject(new RpcError(Status.PERMISSION_DENIED, 'not yours'));
        return handlers.work!(request, undefined as never);
      },
    },
  ));
});

test.after(async () => {
  await server.close();
});

// After each row, another client must still be served: bad input stalls no one else. The
// witness is a new client each time: a connection kept from row to row would be closed as
// idle (this server's idle limit is 200 ms) whenever a row runs longer, and on a loaded
// machine its next call could cross that close on the wire.
test.after.each(async () => {
  const witness = benchClient(address);
  try {
    const reply = await witness.echo({ payload: Buffer.from('still here') });
    assert.is(Buffer.from(reply.payload).toString(), 'still here');
  } finally {
    await witness.$close();
  }
});

const echoMeta = (extra = {}) => encodeMeta({ service: 'bench.v1.Bench', method: 'Echo', ...extra });
const echoBody = (text: string) => Bench.methods.echo.requestType.encode({ payload: Buffer.from(text) }).finish();

async function expectGoAway(peer: RawPeer, status: Status, message: RegExp): Promise<void> {
  const goaway = await peer.next(FrameType.GOAWAY);
  assert.is(goaway.requestId, 0);
  assert.is(goaway.decodedMeta.status, status);
  assert.match(goaway.decodedMeta.message, message);
  await peer.waitClosed();
}

test('wrong magic: GOAWAY INTERNAL naming it, then closed', async () => {
  const peer = await RawPeer.connect(port);
  peer.write(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
  await expectGoAway(peer, Status.INTERNAL, /bad magic 0x4745/);
});

// One header byte corrupted: [byte offset, value, what the GOAWAY must name].
for (const [what, offset, value, message] of [
  ['version', 2, 9, /unknown protocol version 9/],
  ['type', 3, 42, /unknown frame type 42/],
] as const) {
  test(`unknown ${what}: GOAWAY INTERNAL, closed`, async () => {
    const peer = await RawPeer.connect(port);
    const frame = encodeFrame(FrameType.PING, 1, Buffer.alloc(0), Buffer.alloc(0));
    frame[offset] = value;
    peer.write(frame);
    await expectGoAway(peer, Status.INTERNAL, message);
  });
}

test('oversized frame: GOAWAY RESOURCE_EXHAUSTED from the header alone, closed', async () => {
  const peer = await RawPeer.connect(port);
  const header = encodeFrame(FrameType.REQUEST, 1, Buffer.alloc(0), Buffer.alloc(0));
  header.writeUInt32BE(10, 8);
  header.writeUInt32BE(1 << 30, 12); // declares 1 GiB; we never send it
  peer.write(header);
  await expectGoAway(peer, Status.RESOURCE_EXHAUSTED, /exceeds the limit of 65536/);
});

for (const [name, meta] of [
  ['truncated field', Buffer.from([0x0a, 0x09, 0x62])],
  ['mismatched wire type', Buffer.from([0x08, 0x01])],
  ['invalid UTF-8', Buffer.from([0x0a, 0x02, 0xc3, 0x28])],
] as const) {
  test(`invalid Meta (${name}): GOAWAY INTERNAL, closed`, async () => {
    const peer = await RawPeer.connect(port);
    peer.send(FrameType.REQUEST, 1, meta, echoBody('x'));
    await expectGoAway(peer, Status.INTERNAL, /invalid Meta/);
  });
}

test('unknown service, unknown method: RESPONSE UNIMPLEMENTED naming it, stays open', async () => {
  const peer = await RawPeer.connect(port);
  peer.send(FrameType.REQUEST, 1, { service: 'nope.v1.Nope', method: 'Echo' });
  peer.send(FrameType.REQUEST, 2, { service: 'bench.v1.Bench', method: 'Ech0' });
  const a = await peer.next(FrameType.RESPONSE);
  const b = await peer.next(FrameType.RESPONSE);
  assert.is(a.requestId, 1);
  assert.is(a.decodedMeta.status, Status.UNIMPLEMENTED);
  assert.match(a.decodedMeta.message, /unknown service "nope.v1.Nope"/);
  assert.is(b.decodedMeta.status, Status.UNIMPLEMENTED);
  assert.match(b.decodedMeta.message, /unknown method "Ech0" of service bench.v1.Bench/);
  peer.send(FrameType.REQUEST, 3, echoMeta(), echoBody('ok'));
  const c = await peer.next(FrameType.RESPONSE);
  assert.is(c.decodedMeta.status, Status.OK);
  assert.not.ok(peer.closed);
  peer.destroy();
});

test('body that does not decode: RESPONSE INVALID_ARGUMENT, stays open', async () => {
  const peer = await RawPeer.connect(port);
  peer.send(FrameType.REQUEST, 7, echoMeta(), Buffer.from([0x0a, 0x05, 0x01]));
  const r = await peer.next(FrameType.RESPONSE);
  assert.is(r.requestId, 7);
  assert.is(r.decodedMeta.status, Status.INVALID_ARGUMENT);
  assert.match(r.decodedMeta.message, /does not decode as bench.v1.EchoRequest/);
  assert.not.ok(peer.closed);
  peer.destroy();
});

test('handler throws or rejects: UNKNOWN with its message, or its own status', async () => {
  const client = benchClient(address);
  const cases: Array<[number, Status, RegExp]> = [
    [13, Status.UNKNOWN, /thirteen is unlucky/],
    [14, Status.NOT_FOUND, /no such digest/],
    [15, Status.PERMISSION_DENIED, /not yours/],
  ];
  for (const [rounds, status, message] of cases) {
    try {
      await client.work({ payload: Buffer.from('x'), rounds });
      assert.unreachable();
    } catch (err) {
      assert.instance(err, RpcError);
      assert.is((err as RpcError).code, status);
      assert.match((err as RpcError).message, message);
      assert.match((err as RpcError).message, /bench.v1.Bench\/Work @ 127.0.0.1:\d+/);
    }
  }
  await client.$close();
});

test('deadline passed before the handler starts: DEADLINE_EXCEEDED, handler not run', async () => {
  const peer = await RawPeer.connect(port);
  const before = ran.echo;
  // One read: a ~100 ms inline Work first, then an Echo whose 20 ms deadline runs out behind it.
  const work = Bench.methods.work.requestType.encode({ payload: Buffer.alloc(32 * 1024), rounds: 5000 }).finish();
  peer.write(
    Buffer.concat([
      encodeFrame(FrameType.REQUEST, 1, encodeMeta({ service: 'bench.v1.Bench', method: 'Work' }), work),
      encodeFrame(FrameType.REQUEST, 2, echoMeta({ timeoutMs: 20 }), echoBody('late')),
    ]),
  );
  const r1 = await peer.next(FrameType.RESPONSE);
  const r2 = await peer.next(FrameType.RESPONSE);
  const late = r1.requestId === 2 ? r1 : r2;
  assert.is(late.decodedMeta.status, Status.DEADLINE_EXCEEDED);
  assert.match(late.decodedMeta.message, /bench.v1.Bench\/Echo not started: its deadline passed while it waited/);
  assert.is(ran.echo, before, 'the Echo handler never ran');
  peer.destroy();
});

test('server overloaded: RESOURCE_EXHAUSTED at once, stays open', async () => {
  const peer = await RawPeer.connect(port);
  try {
    // 50 sleeps fill the server's 50 slots; they are cancelled long before they would end.
    const sleepMs = 10_000;
    const sleep = Bench.methods.sleep.requestType.encode({ ms: sleepMs }).finish();
    for (let id = 1; id <= 50; id++) peer.send(FrameType.REQUEST, id, { service: 'bench.v1.Bench', method: 'Sleep' }, sleep);
    const started = Date.now();
    peer.send(FrameType.REQUEST, 51, { service: 'bench.v1.Bench', method: 'Sleep' }, sleep);
    const r = await peer.next(FrameType.RESPONSE, sleepMs);
    assert.is(r.requestId, 51, 'the first answer is the refusal');
    assert.is(r.decodedMeta.status, Status.RESOURCE_EXHAUSTED);
    assert.match(r.decodedMeta.message, /limit of 50 requests in flight/);
    assert.ok(Date.now() - started < sleepMs, 'answered at once, not after a slot freed');
    for (let id = 1; id <= 50; id++) peer.send(FrameType.CANCEL, id);
    assert.not.ok(peer.closed);
  } finally {
    peer.destroy();
  }
});

test('compressed body that does not decompress: INVALID_ARGUMENT, stays open', async () => {
  const peer = await RawPeer.connect(port);
  peer.send(FrameType.REQUEST, 1, echoMeta({ compression: Compression.GZIP }), Buffer.from('not gzip at all'));
  const r = await peer.next(FrameType.RESPONSE);
  assert.is(r.decodedMeta.status, Status.INVALID_ARGUMENT);
  assert.match(r.decodedMeta.message, /does not decompress/);
  // A gzip bomb whose output passes the frame limit is refused the same way.
  peer.send(FrameType.REQUEST, 2, echoMeta({ compression: Compression.GZIP }), gzipSync(Buffer.alloc(1 << 20)));
  const bomb = await peer.next(FrameType.RESPONSE);
  assert.is(bomb.decodedMeta.status, Status.INVALID_ARGUMENT);
  assert.match(bomb.decodedMeta.message, /exceeds the limit of 65536 bytes/);
  // And a well-formed compressed request works.
  peer.send(FrameType.REQUEST, 3, echoMeta({ compression: Compression.GZIP }), gzipSync(echoBody('zipped')));
  const ok = await peer.next(FrameType.RESPONSE);
  assert.is(ok.decodedMeta.status, Status.OK);
  assert.is(Buffer.from(Bench.methods.echo.responseType.decode(ok.body).toJSON().payload, 'base64').toString(), 'zipped');
  peer.destroy();
});

test('REQUEST with request_id 0: GOAWAY INTERNAL, closed', async () => {
  const peer = await RawPeer.connect(port);
  peer.send(FrameType.REQUEST, 0, echoMeta(), echoBody('x'));
  await expectGoAway(peer, Status.INTERNAL, /request_id 0/);
});

test('REQUEST with a request_id already in flight: GOAWAY INTERNAL with last_request_id, closed', async () => {
  const peer = await RawPeer.connect(port);
  const sleep = Bench.methods.sleep.requestType.encode({ ms: 500 }).finish();
  peer.send(FrameType.REQUEST, 5, { service: 'bench.v1.Bench', method: 'Sleep' }, sleep);
  peer.send(FrameType.REQUEST, 5, { service: 'bench.v1.Bench', method: 'Sleep' }, sleep);
  const goaway = await peer.next(FrameType.GOAWAY);
  assert.is(goaway.decodedMeta.status, Status.INTERNAL);
  assert.match(goaway.decodedMeta.message, /request_id 5, already in flight/);
  assert.is(goaway.decodedMeta.lastRequestId, 5);
  await peer.waitClosed();
});

test('a silent peer is closed after the idle limit; one with a call in flight is not', async () => {
  const idle = await RawPeer.connect(port);
  const busy = await RawPeer.connect(port);
  try {
    // The busy peer's call outlasts the idle peer's close even on a loaded machine, where
    // the close can come well after the 200 ms limit (the sweep is a timer like any other).
    const callMs = 3000;
    busy.send(FrameType.REQUEST, 1, { service: 'bench.v1.Bench', method: 'Sleep' }, Bench.methods.sleep.requestType.encode({ ms: callMs }).finish());
    const before = server.stats().connections.idleClosed;
    const started = Date.now();
    await idle.waitClosed(callMs);
    const took = Date.now() - started;
    assert.ok(took >= 150, `idle close after ${took} ms (limit 200 ms)`);
    // The server's keepalive PINGs (it measures RTT) are all it sent; answering them would not have kept the peer.
    assert.equal(
      idle.frames.filter((f) => f.type !== FrameType.PING).map((f) => f.type),
      [],
      'closed without an answer',
    );
    assert.not.ok(busy.closed, 'a connection with a request in flight stays');
    const r = await busy.next(FrameType.RESPONSE, 2 * callMs);
    assert.is(r.decodedMeta.status, Status.OK);
    assert.ok(server.stats().connections.idleClosed > before);
  } finally {
    idle.destroy();
    busy.destroy();
  }
});

test('PING is answered with PONG, same id and body; ONEWAY runs without a response', async () => {
  const peer = await RawPeer.connect(port);
  const before = ran.echo;
  peer.send(FrameType.ONEWAY, 0, echoMeta(), echoBody('fire and forget'));
  peer.send(FrameType.PING, 77, {}, Buffer.from('ping-body'));
  const pong = await peer.next(FrameType.PONG);
  assert.is(pong.requestId, 77);
  assert.is(pong.body.toString(), 'ping-body');
  await peer.until(() => ran.echo === before + 1, 5000, 'the ONEWAY handler to run');
  await new Promise((r) => setTimeout(r, 50));
  assert.is(peer.frames.filter((f) => f.type === FrameType.RESPONSE).length, 0, 'no RESPONSE for ONEWAY');
  peer.destroy();
});

test('a RESPONSE frame from a client: GOAWAY INTERNAL, closed', async () => {
  const peer = await RawPeer.connect(port);
  peer.send(FrameType.RESPONSE, 1);
  await expectGoAway(peer, Status.INTERNAL, /unexpected RESPONSE/);
});

test.run();
