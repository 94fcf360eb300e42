import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import net from 'node:net';
import { once } from 'node:events';
import { Status, type Server } from '../../src/index.js';
import { encodeFrame, encodeMeta, FrameType, HEADER_BYTES, writeHeader } from '../../src/internal.js';
import { Bench, benchClient, handlers, startBenchServer } from '../helpers/bench-server.js';
import { RawPeer } from '../helpers/raw-socket.js';
import { sleep, until } from '../helpers/tcp.js';

const test = suite('hostile input');

const echoMeta = encodeMeta({ service: 'bench.v1.Bench', method: 'Echo' });

/** A bare 16-byte header declaring `metaLength` and `bodyLength` (what follows is up to the caller). */
function header(type: FrameType, requestId: number, metaLength: number, bodyLength: number): Buffer {
  const head = Buffer.alloc(HEADER_BYTES);
  writeHeader(head, 0, type, requestId, metaLength, bodyLength);
  return head;
}

/** Meta whose field 7 (metadata) repeats `count` empty entries: 2 bytes each. */
function metadataFlood(count: number): Buffer {
  const base = Buffer.from(echoMeta);
  return Buffer.concat([base, Buffer.alloc(count * 2).fill(Buffer.from([0x3a, 0x00]))]);
}

/** Proves that everyone else is still served, promptly. */
async function canary(server: Server): Promise<void> {
  const client = benchClient(`127.0.0.1:${server.address!.port}`, { timeoutMs: 2000 });
  try {
    assert.equal(Buffer.from((await client.echo({ payload: Buffer.from('alive') })).payload).toString(), 'alive');
  } finally {
    await client.$close();
  }
}

test('meta above maxMetaBytes: GOAWAY RESOURCE_EXHAUSTED from the header, before any of it is buffered', async () => {
  const { server, port } = await startBenchServer({ maxMetaBytes: 1024 });
  const peer = await RawPeer.connect(port);
  peer.write(header(FrameType.REQUEST, 1, 1025, 0)); // the meta itself never comes
  const goaway = await peer.next(FrameType.GOAWAY);
  assert.is(goaway.decodedMeta.status, Status.RESOURCE_EXHAUSTED);
  assert.match(goaway.decodedMeta.message, /meta of 1025 bytes exceeds the meta limit of 1024 bytes/);
  assert.is(server.stats().bufferedInBytes, 0, 'nothing was reserved for it');
  await peer.waitClosed();
  assert.is(server.stats().connections.oversizedClosed, 1);
  assert.is(server.stats().connections.faultClosed, 0);
  await canary(server);
  await server.close();
});

test('the default meta limit is 64 KiB: a metadata flood of a million entries is refused at its header', async () => {
  const { server, port } = await startBenchServer();
  assert.is(server.options.maxMetaBytes, 64 * 1024);
  const peer = await RawPeer.connect(port);
  const flood = metadataFlood(1_000_000); // 2 MB of meta: under the 16 MiB frame limit
  peer.write(Buffer.concat([header(FrameType.REQUEST, 1, flood.length, 0), flood]));
  const goaway = await peer.next(FrameType.GOAWAY);
  assert.is(goaway.decodedMeta.status, Status.RESOURCE_EXHAUSTED);
  assert.match(goaway.decodedMeta.message, /exceeds the meta limit of 65536 bytes/, 'refused by the meta limit, from the header');
  await canary(server);
  peer.destroy();
  await server.close();
});

test('more metadata entries than a Meta may carry: GOAWAY RESOURCE_EXHAUSTED, without decoding them all', async () => {
  const { server, port } = await startBenchServer();
  const peer = await RawPeer.connect(port);
  const flood = metadataFlood(20_000); // 40 KB: under the meta limit
  peer.write(Buffer.concat([header(FrameType.REQUEST, 1, flood.length, 0), flood]));
  const goaway = await peer.next(FrameType.GOAWAY);
  assert.is(goaway.decodedMeta.status, Status.RESOURCE_EXHAUSTED);
  assert.match(goaway.decodedMeta.message, /more than 1024 metadata entries/);
  assert.is(server.stats().connections.oversizedClosed, 1);
  await canary(server);
  peer.destroy();
  await server.close();
});

test('slowloris: a frame dribbled slower than frameTimeoutMs is closed, though each byte arrives', async () => {
  const { server, port } = await startBenchServer({ frameTimeoutMs: 300 });
  const peer = await RawPeer.connect(port);
  const ping = encodeFrame(FrameType.PING, 1, new Uint8Array(0), new Uint8Array(0));
  const started = Date.now();
  for (let i = 0; i < ping.length && !peer.closed; i++) {
    peer.write(ping.subarray(i, i + 1));
    await sleep(40); // 16 bytes × 40 ms = 640 ms for the frame
  }
  await peer.waitClosed(3000);
  assert.ok(Date.now() - started < 2000, 'closed within the frame time limit and a sweep');
  assert.is(server.stats().connections.slowClosed, 1);
  await canary(server);
  await server.close();
});

test('firstFrameTimeoutMs: a connection that sends nothing is closed; one that PINGs first stays', async () => {
  const { server, port } = await startBenchServer({ firstFrameTimeoutMs: 200 });
  const silent = await RawPeer.connect(port);
  const polite = await RawPeer.connect(port);
  polite.send(FrameType.PING, 9);
  await polite.next(FrameType.PONG);
  await silent.waitClosed(3000);
  const goaway = silent.frames.find((f) => f.type === FrameType.GOAWAY);
  assert.match(goaway?.decodedMeta.message ?? '', /no REQUEST, ONEWAY or PING within \d+ ms of connecting \(firstFrameTimeoutMs 200\)/);
  await sleep(400);
  assert.not.ok(polite.closed, 'a connection that spoke first is not closed by this rule');
  assert.is(server.stats().connections.slowClosed, 1);
  polite.destroy();
  await server.close();
});

test('maxBufferedInputBytes: half-sent large frames are refused past the server-wide bound, and released when they go', async () => {
  const frame = 300 * 1024;
  const { server, port } = await startBenchServer({ maxBufferedInputBytes: 1024 * 1024 });
  const peers: RawPeer[] = [];
  for (let i = 0; i < 5; i++) {
    const peer = await RawPeer.connect(port);
    // The header, the meta and the first 10 KiB of the body; the rest never comes.
    peer.write(Buffer.concat([header(FrameType.REQUEST, 1, echoMeta.length, frame), echoMeta, Buffer.alloc(10 * 1024)]));
    peers.push(peer);
  }
  await until(() => peers.filter((p) => p.closed).length === 2, 3000, 'the frames past 1 MiB to be refused');
  const refused = peers.filter((p) => p.closed);
  for (const p of refused) {
    const goaway = p.frames.find((f) => f.type === FrameType.GOAWAY)!;
    assert.is(goaway.decodedMeta.status, Status.RESOURCE_EXHAUSTED);
    assert.match(goaway.decodedMeta.message, /maxBufferedInputBytes 1048576/);
  }
  const held = HEADER_BYTES + echoMeta.length + frame;
  assert.is(server.stats().bufferedInBytes, 3 * held, 'the three admitted frames hold their declared size');
  assert.is(server.stats().connections.oversizedClosed, 2);
  await canary(server);
  for (const p of peers) p.destroy();
  await until(() => server.stats().bufferedInBytes === 0, 2000, 'the reservations to be released');
  // With room again, a whole large frame is served.
  const client = benchClient(`127.0.0.1:${port}`);
  assert.is((await client.echo({ payload: Buffer.alloc(frame) })).payload.length, frame);
  await client.$close();
  await server.close();
});

/** A raw socket that writes `count` Echo requests and never reads a byte of the answers. */
async function nonReader(port: number, count: number): Promise<net.Socket> {
  const socket = net.connect({ host: '127.0.0.1', port });
  await once(socket, 'connect');
  socket.pause();
  socket.on('error', () => {});
  const body = Bench.methods.echo.requestType.encode({ payload: Buffer.alloc(1) }).finish();
  socket.write(Buffer.concat(Array.from({ length: count }, (_, i) => encodeFrame(FrameType.REQUEST, i + 1, echoMeta, body))));
  return socket;
}

test('maxBufferedOutputBytes: slow readers together past the bound are closed; a reader is served meanwhile', async () => {
  const big = Buffer.alloc(1 << 20);
  const { server, port } = await startBenchServer(
    { maxBufferedOutputBytes: 8 * 1024 * 1024, maxWriteBufferBytes: 64 * 1024 * 1024, writeTimeoutMs: 60_000 },
    { ...handlers, echo: (request: { payload: Uint8Array }) => (request.payload.length === 1 ? { payload: big } : { payload: request.payload }) },
  );
  // Each asks for 6 MiB it never reads: under its own cap, but two of them pass the server's.
  const sockets = await Promise.all([nonReader(port, 6), nonReader(port, 6), nonReader(port, 6)]);
  await until(() => server.stats().connections.overflowClosed >= 1, 5000, 'a slow reader to be closed');
  assert.ok(server.stats().bufferedOutBytes <= 8 * 1024 * 1024 + (1 << 21), 'what stays buffered is near the bound');
  await canary(server);
  for (const s of sockets) s.destroy();
  await until(() => server.stats().bufferedOutBytes === 0, 2000, 'the stalled connections to go');
  await server.close();
});

test('option checks: maxMetaBytes above maxFrameBytes is refused, naming both', async () => {
  const { createServer } = await import('../../src/index.js');
  assert.throws(() => createServer({ maxFrameBytes: 1024, maxMetaBytes: 2048 }), /options.maxMetaBytes must be at most maxFrameBytes \(1024\)/);
  assert.throws(() => createServer({ maxBufferedInputBytes: 0 }), /options.maxBufferedInputBytes must be a positive integer/);
  assert.throws(() => createServer({ firstFrameTimeoutMs: -1 }), /options.firstFrameTimeoutMs/);
});

test.run();
