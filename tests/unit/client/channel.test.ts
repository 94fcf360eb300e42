import net from 'node:net';
import { once } from 'node:events';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { RpcError, Status } from '../../../src/index.js';
import { FrameDecoder, FrameType, encodeFrame, encodeMeta } from '../../../src/internal.js';
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

test.run();
