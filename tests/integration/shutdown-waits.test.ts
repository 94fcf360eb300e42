import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Status } from '../../src/index.js';
import { FrameType } from '../../src/internal.js';
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

test('gRPC: a peer that never closes its side: shutdown ends once the session has written its last bytes', async () => {
  const { server, port } = await startBenchServer();
  const peer = await RawH2Peer.connect(port, { ackPings: true });
  peer.call(1, SLEEP, sleepRequest(100));
  await until(() => server.stats().inflight === 1, 2000, 'the call to be taken');
  const started = Date.now();
  await server.shutdown({ graceMs: 3000 });
  const took = Date.now() - started;
  assert.ok(took < 600, `shutdown took ${took} ms`);
  assert.is(server.stats().methods['bench.v1.Bench/Sleep']!.ok, 1, 'the call in flight was answered');
  await until(() => peer.ended, 2000, 'the server to end its side');
  assert.ok(peer.streamEnded(1), 'its trailers reached the client');
  peer.destroy();
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
  const took = Date.now() - started;
  assert.ok(took < 600, `shutdown took ${took} ms`);
  assert.is(server.stats().methods['bench.v1.Bench/Sleep']!.ok, 1, 'the call in flight was answered');
  await until(() => peer.ended, 2000, 'the server to end its side');
  assert.ok(peer.streamEnded(1), 'its trailers reached the client');
  peer.destroy();
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
