import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Status } from '../../src/index.js';
import net from 'node:net';
import { once } from 'node:events';
import { FrameDecoder, FrameType, encodeFrame, encodeMeta } from '../../src/internal.js';
import { Bench, startBenchServer } from '../helpers/bench-server.js';
import { RawH2Peer } from '../helpers/raw-h2.js';
import { grpcCall, grpcClient } from '../helpers/grpc-client.js';
import { RawPeer } from '../helpers/raw-socket.js';
import { sleep, until } from '../helpers/tcp.js';

/**
 * What shutdown must not wait for: sockets the server has ended and written out (their
 * linger is for a server that keeps running), and, on gRPC, a PING answer that cannot come.
 * Bounds are generous: each wait removed here cost at least a second.
 */
const test = suite('shutdown waits');

const SLEEP = '/bench.v1.Bench/Sleep';
const sleepRequest = (ms: number) => Bench.methods.sleep.requestType.encode({ ms }).finish();

/** A ringrpc peer that is a connection (it sent a PING, got its PONG) and never closes its side. */
async function halfOpenPeer(port: number): Promise<RawPeer> {
  const peer = await RawPeer.connect(port, { halfOpen: true });
  peer.send(FrameType.PING, 1);
  await peer.next(FrameType.PONG);
  return peer;
}

test('a peer that never closes its side: shutdown ends with the final GOAWAY written, not a linger later', async () => {
  const { server, port } = await startBenchServer();
  const peer = await halfOpenPeer(port);
  const started = Date.now();
  const closing = server.shutdown({ graceMs: 5000 });
  assert.is((await peer.next(FrameType.GOAWAY)).decodedMeta.lastRequestId, 0xffff_ffff);
  peer.send(FrameType.PONG, (await peer.next(FrameType.PING)).requestId);
  assert.is((await peer.next(FrameType.GOAWAY)).decodedMeta.lastRequestId, 0, 'the final GOAWAY');
  await peer.waitEnded();
  await closing;
  const took = Date.now() - started;
  assert.ok(took < 600, `shutdown took ${took} ms`);
  peer.destroy();
});

test('sockets the server ended before (a fault, one connection too many) do not hold shutdown for their linger', async () => {
  const { server, port } = await startBenchServer({ maxConnections: 1 });
  const faulty = await halfOpenPeer(port);
  faulty.write(Buffer.alloc(16, 0x47)); // bad magic
  assert.is((await faulty.next(FrameType.GOAWAY)).decodedMeta.status, Status.INTERNAL);
  await faulty.waitEnded();
  const refused = await RawPeer.connect(port, { halfOpen: true }); // the faulty one still counts: one too many
  assert.is((await refused.next(FrameType.GOAWAY)).decodedMeta.status, Status.RESOURCE_EXHAUSTED);
  await refused.waitEnded();
  const started = Date.now();
  await server.shutdown({ graceMs: 5000 });
  const took = Date.now() - started;
  assert.ok(took < 600, `shutdown took ${took} ms`);
  faulty.destroy();
  refused.destroy();
});

test('a slow reader that keeps sending (CANCELs, PINGs) while the server drains gets every answer and both GOAWAYs', async () => {
  // Destroying a drained socket once its last bytes were written reset it when the peer
  // sent more: the answers still unread were lost, though the server counted them OK.
  const { server, port } = await startBenchServer();
  const socket = net.connect({ host: '127.0.0.1', port });
  await once(socket, 'connect');
  let error: string | undefined;
  socket.on('error', (e: NodeJS.ErrnoException) => (error = e.code));
  const send = (type: FrameType, id: number, meta: Uint8Array = new Uint8Array(0), body: Uint8Array = new Uint8Array(0)): void => {
    if (!socket.destroyed && socket.writable) socket.write(encodeFrame(type, id, meta, body));
  };
  const answered: number[] = [];
  let goAways = 0;
  const decoder = new FrameDecoder(
    (f) => {
      if (f.type === FrameType.RESPONSE) answered.push(f.requestId);
      if (f.type === FrameType.GOAWAY) goAways++;
      if (f.type === FrameType.PING) send(FrameType.PONG, f.requestId);
    },
    64 * 1024 * 1024,
  );
  send(FrameType.PING, 1);
  const body = Bench.methods.echo.requestType.encode({ payload: Buffer.alloc(1024 * 1024, 7) }).finish();
  for (let id = 1; id <= 6; id++) send(FrameType.REQUEST, id, encodeMeta({ service: 'bench.v1.Bench', method: 'Echo' }), body);
  socket.pause();
  await sleep(300);
  const closing = server.shutdown({ graceMs: 10_000 });
  let n = 0;
  socket.on('data', (chunk: Buffer) => {
    decoder.push(chunk);
    socket.pause();
    setTimeout(() => {
      if (n++ % 2 === 0)
        send(FrameType.CANCEL, 1); // a call already answered: nothing to cancel
      else send(FrameType.PING, 2);
      socket.resume();
    }, 5);
  });
  socket.resume();
  await closing;
  await until(() => socket.destroyed || socket.readableEnded, 5000, 'the server to close');
  assert.equal(answered, [1, 2, 3, 4, 5, 6]);
  assert.is(goAways, 2);
  assert.is(error, undefined);
  socket.destroy();
});

test('while the server runs, a socket it ended still lingers for its peer to read the GOAWAY, then goes', async () => {
  const { server, port } = await startBenchServer();
  const peer = await halfOpenPeer(port);
  peer.write(Buffer.alloc(16, 0x47));
  await peer.next(FrameType.GOAWAY);
  await peer.waitEnded();
  await sleep(300);
  assert.is(server.stats().connections.open, 1, 'not destroyed at once');
  await until(() => server.stats().connections.open === 0, 3000, 'the linger to end');
  await server.close();
  peer.destroy();
});

/** A shutdown that began at `started` was prompt, and the peer's Sleep call (stream 1) was answered to its trailers. */
async function promptAndAnswered(server: Awaited<ReturnType<typeof startBenchServer>>['server'], peer: RawH2Peer, started: number): Promise<void> {
  const took = Date.now() - started;
  assert.ok(took < 600, `shutdown took ${took} ms`);
  assert.is(server.stats().methods['bench.v1.Bench/Sleep']!.ok, 1, 'the call in flight was answered');
  await until(() => peer.ended, 2000, 'the server to end its side');
  assert.ok(peer.streamEnded(1), 'its trailers reached the client');
  peer.destroy();
}

test('gRPC: a peer that never closes its side: shutdown ends once the session has written its last bytes', async () => {
  const { server, port } = await startBenchServer();
  const peer = await RawH2Peer.connect(port, { ackPings: true });
  peer.call(1, SLEEP, sleepRequest(100));
  await until(() => server.stats().inflight === 1, 2000, 'the call to be taken');
  const started = Date.now();
  await server.shutdown({ graceMs: 3000 });
  await promptAndAnswered(server, peer, started);
});

test('gRPC: shutdown while a grpc-js client is closing does not wait for an answer to its PING', async () => {
  const { server, port } = await startBenchServer();
  const client = grpcClient(`127.0.0.1:${port}`);
  assert.is((await grpcCall(client, 'Echo', {})).error, undefined);
  client.close();
  const started = Date.now();
  await server.shutdown({ graceMs: 5000 });
  const took = Date.now() - started;
  assert.ok(took < 600, `shutdown took ${took} ms`);
});

test('gRPC: shutdown with an idle grpc-js channel open does not wait for an answer to its PING', async () => {
  const { server, port } = await startBenchServer();
  const client = grpcClient(`127.0.0.1:${port}`);
  assert.is((await grpcCall(client, 'Echo', {})).error, undefined);
  const started = Date.now();
  await server.shutdown({ graceMs: 5000 });
  const took = Date.now() - started;
  assert.ok(took < 600, `shutdown took ${took} ms`);
  client.close();
});

test('gRPC: a client that says GOAWAY itself during the handshake (and never answers its PING) ends it at once; its call is answered', async () => {
  const { server, port } = await startBenchServer();
  const peer = await RawH2Peer.connect(port, { ackPings: false });
  peer.call(1, SLEEP, sleepRequest(100));
  await until(() => server.stats().inflight === 1, 2000, 'the call to be taken');
  const started = Date.now();
  const closing = server.shutdown({ graceMs: 5000 });
  await until(() => peer.goaways().length === 1, 2000, "the server's first GOAWAY");
  assert.is(peer.goaways()[0]!.lastStreamId, 2 ** 31 - 1);
  peer.goaway();
  await until(() => peer.goaways().length === 2, 2000, "the server's final GOAWAY");
  assert.is(peer.goaways()[1]!.lastStreamId, 1, 'the final GOAWAY names the call taken');
  await closing;
  await promptAndAnswered(server, peer, started);
});

test('gRPC: while the server runs, a client that says GOAWAY and never closes its side lingers, then goes', async () => {
  const { server, port } = await startBenchServer();
  const peer = await RawH2Peer.connect(port, { ackPings: true });
  await until(() => server.stats().connections.open === 1, 2000, 'the session');
  peer.goaway();
  await until(() => peer.ended, 2000, 'the server to end its side');
  await until(() => server.stats().connections.open === 0, 4000, 'the linger to end');
  await server.close();
  peer.destroy();
});

test.run();
