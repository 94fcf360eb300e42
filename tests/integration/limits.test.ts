import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import net from 'node:net';
import { once } from 'node:events';
import { type RpcError, Status } from '../../src/index.js';
import { encodeFrame, encodeMeta, FrameType } from '../../src/internal.js';
import { Bench, benchClient, handlers, startBenchServer } from '../helpers/bench-server.js';
import { RawPeer } from '../helpers/raw-socket.js';
import { sleep, until } from '../helpers/tcp.js';

const test = suite('limits');

async function failure(p: Promise<unknown>): Promise<RpcError> {
  return p.then(
    () => assert.unreachable('the call should fail') as never,
    (e: RpcError) => e,
  );
}

test('maxConnections: one connection too many gets GOAWAY RESOURCE_EXHAUSTED; the others keep working', async () => {
  const { server, address, port } = await startBenchServer({ maxConnections: 2 });
  const a = benchClient(address);
  const b = benchClient(address);
  await a.echo({});
  await b.echo({});
  const c = benchClient(address, { retry: false });
  const err = await failure(c.echo({}));
  assert.is(err.code, Status.RESOURCE_EXHAUSTED);
  assert.match(err.message, new RegExp(`@ 127.0.0.1:${port}: server is at its limit of 2 connections`));
  assert.is(server.stats().connections.refused, 1);
  await until(() => c.$stats()[0]!.state === 'backoff', 1000, 'a refused endpoint to be backed off, not hammered');
  // A raw peer sees the GOAWAY itself, with last_request_id 0 (nothing was taken).
  const peer = await RawPeer.connect(port);
  const goaway = await peer.next(FrameType.GOAWAY);
  assert.is(goaway.decodedMeta.status, Status.RESOURCE_EXHAUSTED);
  assert.is(goaway.decodedMeta.lastRequestId, 0);
  await peer.waitClosed();
  await a.echo({});
  await b.echo({});
  await a.$close();
  await until(() => server.stats().connections.open === 1, 2000, 'a to close');
  await c.$close();
  const d = benchClient(address);
  await d.echo({}); // a slot is free again
  await Promise.all([b.$close(), d.$close()]);
  await server.close();
});

test('maxConcurrentRequestsPerConnection: calls beyond it are RESOURCE_EXHAUSTED, marked as not run', async () => {
  const { server, address } = await startBenchServer({ maxConcurrentRequestsPerConnection: 4 });
  const client = benchClient(address, { retry: false });
  const results = await Promise.all(
    Array.from({ length: 10 }, () =>
      client.sleep({ ms: 50 }).then(
        () => undefined,
        (e: RpcError) => e,
      ),
    ),
  );
  const refused = results.filter((e): e is RpcError => e !== undefined);
  assert.is(refused.length, 6);
  for (const e of refused) {
    assert.is(e.code, Status.RESOURCE_EXHAUSTED);
    assert.match(e.message, /too many requests in flight on this connection \(limit 4\)/);
    assert.is(e.metadata['ringrpc-not-run'], '1');
  }
  await client.echo({}); // the connection stays usable
  await client.$close();
  await server.close();
});

test("the client's own per-connection limit fails the extra call at once, before sending it", async () => {
  const { server, address } = await startBenchServer();
  const client = benchClient(address, { maxConcurrentRequestsPerConnection: 2, retry: false });
  const calls = [client.sleep({ ms: 30 }), client.sleep({ ms: 30 })];
  const err = await failure(client.echo({}));
  assert.is(err.code, Status.RESOURCE_EXHAUSTED);
  assert.match(err.message, /too many calls in flight on this connection \(limit 2\)/);
  await Promise.all(calls);
  assert.is(server.stats().methods['bench.v1.Bench/Echo']!.requests, 0, 'never sent');
  await client.$close();
  await server.close();
});

test('frameTimeoutMs: a peer that dribbles a partial frame (slowloris) is closed with GOAWAY; others are served', async () => {
  const { server, address, port } = await startBenchServer({ frameTimeoutMs: 60 });
  const peer = await RawPeer.connect(port);
  const frame = encodeFrame(FrameType.REQUEST, 1, encodeMeta({ service: 'bench.v1.Bench', method: 'Echo' }), Buffer.alloc(100));
  const started = Date.now();
  peer.write(frame.subarray(0, 10));
  await sleep(20);
  peer.write(frame.subarray(10, 20)); // still incomplete: the clock runs from the first byte
  const goaway = await peer.next(FrameType.GOAWAY, 2000);
  assert.is(goaway.decodedMeta.status, Status.DEADLINE_EXCEEDED);
  assert.match(goaway.decodedMeta.message, /frame incomplete after \d+ ms \(20 bytes in; frameTimeoutMs 60\)/);
  await peer.waitClosed();
  assert.ok(Date.now() - started < 1000);
  assert.is(server.stats().connections.slowClosed, 1);
  const client = benchClient(address);
  await client.echo({});
  await client.$close();
  await server.close();
});

test('a frame that completes in time is not cut off, however slowly the connection is used', async () => {
  // Each frame arrives in two writes 10 ms apart, far inside the timeout even when the
  // process is descheduled for a while; the pauses between frames add up to more than it.
  const frameTimeoutMs = 1000;
  const { server, port } = await startBenchServer({ frameTimeoutMs });
  const peer = await RawPeer.connect(port);
  try {
    const started = Date.now();
    for (let id = 1; id <= 4; id++) {
      const frame = encodeFrame(FrameType.REQUEST, id, encodeMeta({ service: 'bench.v1.Bench', method: 'Echo' }), Buffer.alloc(10));
      peer.write(frame.subarray(0, 5));
      await sleep(10);
      peer.write(frame.subarray(5));
      const r = await peer.next(FrameType.RESPONSE);
      assert.is(r.requestId, id);
      await sleep(frameTimeoutMs / 3);
    }
    assert.ok(Date.now() - started > frameTimeoutMs, 'the connection was used for longer than the frame timeout');
    assert.is(server.stats().connections.slowClosed, 0);
  } finally {
    peer.destroy();
    await server.close();
  }
});

/** A raw socket that writes `count` Echo requests and never reads a byte of the answers. */
async function nonReader(port: number, count: number, payloadBytes: number): Promise<net.Socket> {
  const socket = net.connect({ host: '127.0.0.1', port });
  await once(socket, 'connect');
  socket.pause();
  socket.on('error', () => {});
  const meta = encodeMeta({ service: 'bench.v1.Bench', method: 'Echo' });
  const body = Bench.methods.echo.requestType.encode({ payload: Buffer.alloc(payloadBytes) }).finish();
  socket.write(Buffer.concat(Array.from({ length: count }, (_, i) => encodeFrame(FrameType.REQUEST, i + 1, meta, body))));
  return socket;
}

test('maxWriteBufferBytes: responses piling up past the cap close the connection', async () => {
  // Small requests, big answers: one read produces far more output than the cap.
  const big = Buffer.alloc(1 << 20);
  const { server, address, port } = await startBenchServer({ maxWriteBufferBytes: 256 * 1024 }, { ...handlers, echo: () => ({ payload: big }) });
  const socket = await nonReader(port, 64, 1);
  await until(() => server.stats().connections.overflowClosed === 1, 5000, 'the overflow close');
  await until(() => server.stats().connections.open === 0, 2000, 'the connection to go');
  const client = benchClient(address);
  assert.is((await client.echo({})).payload.length, 1 << 20);
  await client.$close();
  socket.destroy();
  await server.close();
});

test('writeTimeoutMs: a peer that stops reading is disconnected, not held forever', async () => {
  const { server, address, port } = await startBenchServer({ writeTimeoutMs: 100 });
  // Enough answers to fill the kernel buffers, so that writes stall and reads pause.
  const socket = await nonReader(port, 400, 64 * 1024);
  await until(() => server.stats().connections.overflowClosed === 1, 5000, 'the stalled connection to close');
  await until(() => server.stats().connections.open === 0, 2000, 'the connection to go');
  const client = benchClient(address);
  await client.echo({});
  await client.$close();
  socket.destroy();
  await server.close();
});

test.run();
