import net from 'node:net';
import { once } from 'node:events';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { RpcError, Status } from '../../../src/index.js';
import { FrameDecoder, FrameType, decodeMeta, encodeFrame, encodeMeta } from '../../../src/internal.js';
import { callDeadlines } from '../../../src/util/deadline-lists.js';
import { until } from '../../helpers/tcp.js';
import { Channel } from '../../../src/client/channel.js';
import { resolvePoolOptions } from '../../../src/client/client-options.js';
import { Bench } from '../../helpers/bench-server.js';

const test = suite('channel');

/** A peer that answers every REQUEST with an error RESPONSE carrying `metadata`. */
async function refusingPeer(metadata: Record<string, string>): Promise<{ server: net.Server; port: number }> {
  const server = net.createServer((socket) => {
    const decoder = new FrameDecoder((frame) => {
      if (frame.type !== FrameType.REQUEST) return;
      const meta = encodeMeta({ status: Status.RESOURCE_EXHAUSTED, message: 'busy', metadata });
      socket.write(encodeFrame(FrameType.RESPONSE, frame.requestId, meta, Buffer.alloc(0)));
    });
    socket.on('data', (chunk: Buffer) => decoder.push(chunk));
    socket.on('error', () => {});
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, port: (server.address() as net.AddressInfo).port };
}

async function callOnce(port: number): Promise<RpcError> {
  const channel = new Channel({ host: '127.0.0.1', port }, resolvePoolOptions({ keepalive: false }));
  try {
    await channel.call({ method: Bench.methods.echo, body: new Uint8Array(0), timeoutMs: 0, signal: undefined, metadata: undefined, gzipAboveBytes: Infinity });
    throw new Error('the call succeeded');
  } catch (err) {
    assert.ok(err instanceof RpcError, String(err));
    return err as RpcError;
  } finally {
    channel.destroy();
  }
}

test('a RESPONSE with ringrpc-not-run: 1 becomes an error with notRun "refused"', async () => {
  const { server, port } = await refusingPeer({ 'ringrpc-not-run': '1' });
  try {
    const error = await callOnce(port);
    assert.is(error.code, Status.RESOURCE_EXHAUSTED);
    assert.is(error.notRun, 'refused');
    assert.is(error.metadata['ringrpc-not-run'], '1', 'the metadata stays as the server sent it');
  } finally {
    server.close();
  }
});

test('a RESPONSE without the flag may have run: notRun is undefined', async () => {
  const { server, port } = await refusingPeer({});
  try {
    assert.is((await callOnce(port)).notRun, undefined);
  } finally {
    server.close();
  }
});

test('calls queued on a connection that never opens fail with notRun "unsent"', async () => {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as net.AddressInfo).port;
  server.close();
  await once(server, 'close');
  const error = await callOnce(port);
  assert.is(error.code, Status.UNAVAILABLE);
  assert.is(error.notRun, 'unsent');
});

/** A peer that accepts connections and never says a word (nor completes a TLS handshake). */
async function silentPeer(): Promise<{ server: net.Server; port: number; frames: Array<{ type: number; id: number; meta: Buffer }> }> {
  const frames: Array<{ type: number; id: number; meta: Buffer }> = [];
  const server = net.createServer((socket) => {
    const decoder = new FrameDecoder((f) => frames.push({ type: f.type, id: f.requestId, meta: Buffer.from(f.meta) }));
    socket.on('data', (chunk: Buffer) => {
      try {
        decoder.push(chunk);
      } catch {
        // a TLS ClientHello is not a frame: this peer only listens
      }
    });
    socket.on('error', () => {});
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, port: (server.address() as net.AddressInfo).port, frames };
}

const echo = (timeoutMs: number) => ({
  method: Bench.methods.echo,
  body: new Uint8Array(0),
  timeoutMs,
  signal: undefined,
  metadata: undefined,
  gzipAboveBytes: Infinity,
});

test('a deadline fires on time (not before, little after) and a CANCEL with DEADLINE_EXCEEDED tells the peer', async () => {
  const { server, port, frames } = await silentPeer();
  const channel = new Channel({ host: '127.0.0.1', port }, resolvePoolOptions({ keepalive: false }));
  try {
    const t0 = performance.now();
    const error = await channel.call(echo(50)).then(
      () => undefined,
      (err: RpcError) => err,
    );
    const elapsed = performance.now() - t0;
    assert.is(error?.code, Status.DEADLINE_EXCEEDED);
    assert.ok(elapsed >= 49, `failed after ${elapsed.toFixed(1)} ms, before its 50 ms deadline`);
    // Loose on purpose: the connect is inside the measure, and a loaded CI machine adds a second;
    // a deadline the timer lists lost would wait for the 2 s keepalive-free silence instead.
    assert.ok(elapsed < 1900, `failed after ${elapsed.toFixed(1)} ms`);
    await until(() => frames.some((f) => f.type === FrameType.CANCEL), 2000, 'the CANCEL');
    const cancel = frames.find((f) => f.type === FrameType.CANCEL)!;
    assert.is(cancel.id, frames.find((f) => f.type === FrameType.REQUEST)!.id);
    assert.is(decodeMeta(cancel.meta).status, Status.DEADLINE_EXCEEDED);
    assert.is(channel.pending.size, 0);
  } finally {
    channel.destroy();
    server.close();
  }
});

test('a deadline passes while the call is queued on a connection still connecting: DEADLINE_EXCEEDED', async () => {
  const { server, port } = await silentPeer();
  // TLS to a peer that never answers the handshake: the channel stays `connecting`.
  const channel = new Channel({ host: '127.0.0.1', port }, resolvePoolOptions({ keepalive: false, connectTimeoutMs: 10_000, tls: {} }));
  try {
    const t0 = performance.now();
    const error = await channel.call(echo(60)).then(
      () => undefined,
      (err: RpcError) => err,
    );
    assert.is(channel.state, 'connecting');
    assert.is(error?.code, Status.DEADLINE_EXCEEDED);
    assert.ok(performance.now() - t0 >= 59);
    assert.is(channel.pending.size, 0);
  } finally {
    channel.destroy();
    server.close();
  }
});

test('many calls answered before their deadline leave no deadline armed', async () => {
  const { server, port } = await refusingPeer({});
  const channel = new Channel({ host: '127.0.0.1', port }, resolvePoolOptions({ keepalive: false }));
  try {
    const before = callDeadlines.size;
    const calls = Array.from({ length: 2000 }, () => channel.call(echo(30_000)).catch((err: RpcError) => err));
    assert.is(callDeadlines.size, before + 2000);
    const errors = await Promise.all(calls);
    assert.ok(errors.every((e) => (e as RpcError).code === Status.RESOURCE_EXHAUSTED));
    assert.is(callDeadlines.size, before);
    assert.is(channel.pending.size, 0);
  } finally {
    channel.destroy();
    server.close();
  }
});

test.run();
