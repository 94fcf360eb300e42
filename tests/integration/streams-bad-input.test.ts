import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { gzipSync } from 'node:zlib';
import { Status, type Server } from '../../src/index.js';
import { FrameType, Compression } from '../../src/internal.js';
import { RawPeer, type ReadFrame } from '../helpers/raw-socket.js';
import { startBenchServer, handlers, Bench } from '../helpers/bench-server.js';
import { WINDOW, credit, encode, halfClose, message, open, runStream } from '../helpers/raw-stream.js';

/** One case per row of the §Streams bad-input table (docs/protocol.md). */
const test = suite('streams: bad input (spec table)');

let server: Server;
let port: number;
/** Calls of the Sum that never reads, whose signal aborted: it was told its stream ended. */
let stalledAborts = 0;

test.before(async () => {
  ({ server, port } = await startBenchServer(
    {},
    {
      ...handlers,
      // Reads its requests only when its first metadata says so: else it holds the stream open, unread.
      async sum(requests, ctx) {
        if (ctx.metadata['x-read'] === '1') return handlers.sum!(requests, ctx);
        await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve));
        stalledAborts++;
        throw ctx.signal.reason;
      },
    },
  ));
});

test.after(async () => {
  await server.close();
});

// After each row the server still serves a stream on a new connection: bad input stalls no one else.
test.after.each(async () => {
  const witness = await RawPeer.connect(port);
  open(witness, 1, 'Stream', encode.stream(3, 4));
  const { messages, response } = await runStream(witness, 1);
  assert.is(response.decodedMeta.status, Status.OK);
  assert.is(messages.length, 3);
  witness.destroy();
});

async function expectGoAway(peer: RawPeer, message: RegExp): Promise<void> {
  const goaway = await peer.next(FrameType.GOAWAY);
  assert.is(goaway.decodedMeta.status, Status.INTERNAL);
  assert.match(goaway.decodedMeta.message, message);
  await peer.waitClosed();
}

/** The RESPONSE of call `id`, with the connection still open after it (a PING answered). */
async function expectResponse(peer: RawPeer, id: number, status: Status, text: RegExp): Promise<ReadFrame> {
  const response = await peer.next(FrameType.RESPONSE);
  assert.is(response.requestId, id);
  assert.is(response.decodedMeta.status, status, response.decodedMeta.message);
  assert.match(response.decodedMeta.message, text);
  peer.send(FrameType.PING, 99);
  await peer.next(FrameType.PONG);
  assert.not.ok(peer.closed);
  return response;
}

for (const type of [FrameType.MESSAGE, FrameType.HALF_CLOSE, FrameType.CREDIT]) {
  test(`frame type ${type} for a request_id no REQUEST opened (above the highest): GOAWAY 13, closed`, async () => {
    const peer = await RawPeer.connect(port);
    open(peer, 5, 'Stream', encode.stream(1));
    await runStream(peer, 5);
    peer.send(type, 6, {}, type === FrameType.CREDIT ? Buffer.from([0, 0, 1, 0]) : Buffer.alloc(0));
    await expectGoAway(peer, /request_id 6, which no REQUEST opened \(highest taken: 5\)/);
  });
}

test('MESSAGE, HALF_CLOSE and CREDIT for a stream that ended: ignored, the connection open', async () => {
  const peer = await RawPeer.connect(port);
  open(peer, 1, 'Chat');
  await runStream(peer, 1, { send: [encode.echo(Buffer.from('x'))] });
  open(peer, 2, 'Stream', encode.stream(1));
  await runStream(peer, 2);
  message(peer, 1, encode.echo(Buffer.from('late')));
  halfClose(peer, 1);
  credit(peer, 1, 100);
  credit(peer, 2, 100);
  // An id refused at its REQUEST (unknown method) was taken too: its late frames are ignored as well.
  peer.send(FrameType.REQUEST, 3, { service: 'bench.v1.Bench', method: 'Nope' });
  assert.is((await peer.next(FrameType.RESPONSE)).decodedMeta.status, Status.UNIMPLEMENTED);
  message(peer, 3, encode.echo(Buffer.from('late')));
  peer.send(FrameType.PING, 99);
  await peer.next(FrameType.PONG);
  assert.not.ok(peer.closed);
  assert.is(peer.frames.filter((f) => f.type !== FrameType.PING).length, 0, 'nothing answers them');
  peer.destroy();
});

test('MESSAGE for a unary call: RESPONSE 13 ends that call, the connection open', async () => {
  const peer = await RawPeer.connect(port);
  peer.send(FrameType.REQUEST, 1, { service: 'bench.v1.Bench', method: 'Sleep' }, Bench.methods.sleep.requestType.encode({ ms: 60_000 }).finish());
  message(peer, 1, encode.echo(Buffer.from('x')));
  await expectResponse(peer, 1, Status.INTERNAL, /MESSAGE for bench.v1.Bench\/Sleep, a unary call/);
  peer.destroy();
});

test('HALF_CLOSE for a server stream: RESPONSE 13 ends it', async () => {
  const peer = await RawPeer.connect(port);
  open(peer, 1, 'Stream', encode.stream(1_000_000, 100));
  halfClose(peer, 1);
  const response = await runStream(peer, 1, { grant: false });
  assert.is(response.response.decodedMeta.status, Status.INTERNAL);
  assert.match(response.response.decodedMeta.message, /HALF_CLOSE for bench.v1.Bench\/Stream, a server_stream call/);
  peer.destroy();
});

test('MESSAGE with no credit left: RESPONSE 8 naming the window', async () => {
  const peer = await RawPeer.connect(port);
  open(peer, 1, 'Sum');
  const body = encode.echo(Buffer.alloc(1000));
  for (let sent = 0; sent < WINDOW; sent += 16 + body.length) message(peer, 1, body);
  message(peer, 1, body); // the credit is spent: one too many
  await expectResponse(peer, 1, Status.RESOURCE_EXHAUSTED, /window of 65536 bytes/);
  peer.destroy();
});

test('MESSAGE after the HALF_CLOSE, or a second HALF_CLOSE: RESPONSE 13', async () => {
  const peer = await RawPeer.connect(port);
  open(peer, 1, 'Sum');
  halfClose(peer, 1);
  message(peer, 1, encode.echo(Buffer.from('x')));
  await expectResponse(peer, 1, Status.INTERNAL, /message after the half-close/);
  open(peer, 2, 'Chat');
  halfClose(peer, 2);
  halfClose(peer, 2);
  await expectResponse(peer, 2, Status.INTERNAL, /second half-close/);
  peer.destroy();
});

test('a MESSAGE that does not decode, or does not decompress: RESPONSE 3 ends the stream', async () => {
  const peer = await RawPeer.connect(port);
  const before = stalledAborts;
  open(peer, 1, 'Sum');
  message(peer, 1, Buffer.from([0x0a, 0xff, 0x01])); // payload of 255 bytes, 1 present
  await expectResponse(peer, 1, Status.INVALID_ARGUMENT, /does not decode as bench.v1.EchoRequest/);
  open(peer, 2, 'Chat');
  message(peer, 2, Buffer.from('not gzip'), { compression: Compression.GZIP });
  await expectResponse(peer, 2, Status.INVALID_ARGUMENT, /does not decompress/);
  // A gzipped one that is fine is read as any other, in order.
  open(peer, 3, 'Sum', undefined, { metadata: { 'x-read': '1' } });
  message(peer, 3, gzipSync(encode.echo(Buffer.from('ab'))), { compression: Compression.GZIP });
  message(peer, 3, encode.echo(Buffer.from('c')));
  halfClose(peer, 3);
  const { response } = await runStream(peer, 3);
  const reply = Bench.methods.sum.responseType.decode(response.body) as unknown as { messages: bigint; bytes: bigint };
  assert.is(reply.messages, 2n);
  assert.is(reply.bytes, 3n);
  assert.is(stalledAborts - before, 1, 'the handler of the stream ended by bad input was told through its signal');
  peer.destroy();
});

test('a REQUEST with a body for a client or bidirectional stream: RESPONSE 3', async () => {
  const peer = await RawPeer.connect(port);
  open(peer, 1, 'Sum', encode.echo(Buffer.from('x')));
  await expectResponse(peer, 1, Status.INVALID_ARGUMENT, /streams its requests/);
  open(peer, 2, 'Chat', encode.echo(Buffer.from('x')));
  await expectResponse(peer, 2, Status.INVALID_ARGUMENT, /streams its requests/);
  peer.destroy();
});

for (const [what, body, text] of [
  ['3 bytes', Buffer.from([0, 0, 1]), /has a body of 3 bytes, not 4/],
  ['5 bytes', Buffer.from([0, 0, 0, 1, 0]), /has a body of 5 bytes, not 4/],
  ['a grant of 0', Buffer.from([0, 0, 0, 0]), /grants 0 bytes/],
] as const) {
  test(`CREDIT of ${what}: GOAWAY 13, closed`, async () => {
    const peer = await RawPeer.connect(port);
    open(peer, 1, 'Stream', encode.stream(1_000_000, 100));
    peer.send(FrameType.CREDIT, 1, {}, body);
    await expectGoAway(peer, text);
  });
}

test('CREDIT that takes the credit above 2^31 − 1: RESPONSE 13 ends the stream', async () => {
  const peer = await RawPeer.connect(port);
  open(peer, 1, 'Stream', encode.stream(1_000_000, 100), { window: 100 });
  credit(peer, 1, 0x7fff_ffff); // over at once, or (if the first MESSAGE went out before it was read) with the next
  credit(peer, 1, 0x7fff_ffff);
  const { response } = await runStream(peer, 1, { grant: false });
  assert.is(response.decodedMeta.status, Status.INTERNAL);
  assert.match(response.decodedMeta.message, /over 2147483647/);
  peer.send(FrameType.PING, 99);
  await peer.next(FrameType.PONG);
  peer.destroy();
});

test('a ONEWAY of a stream method is neither run nor answered', async () => {
  const peer = await RawPeer.connect(port);
  const before = server.stats().methods['bench.v1.Bench/Stream']!.requests;
  peer.send(FrameType.ONEWAY, 0, { service: 'bench.v1.Bench', method: 'Stream' }, encode.stream(1));
  peer.send(FrameType.PING, 99);
  await peer.next(FrameType.PONG);
  assert.is(peer.frames.length, 0);
  assert.is(server.stats().methods['bench.v1.Bench/Stream']!.requests, before);
  peer.destroy();
});

test.run();
