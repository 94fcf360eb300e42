import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import net from 'node:net';
import { once } from 'node:events';
import { FrameDecoder, FrameType, FrameWriter, encodeFrame, type Frame } from '../../../src/internal.js';
import { until } from '../../helpers/tcp.js';

const test = suite('frame-writer');

/** A connected pair of sockets on 127.0.0.1, and everything the far end decodes. */
async function pair(): Promise<{ near: net.Socket; frames: Frame[]; close: () => Promise<void> }> {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const near = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
  const [far] = (await once(server, 'connection')) as [net.Socket];
  await once(near, 'connect');
  const frames: Frame[] = [];
  const decoder = new FrameDecoder((f) => frames.push({ ...f, meta: Buffer.from(f.meta), body: Buffer.from(f.body) }));
  far.on('data', (chunk: Buffer) => decoder.push(chunk));
  return {
    near,
    frames,
    close: async () => {
      near.destroy();
      far.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** Records every buffer handed to `socket.write`. */
function spyWrites(socket: net.Socket): Buffer[] {
  const written: Buffer[] = [];
  const write = socket.write.bind(socket) as (chunk: Buffer) => boolean;
  socket.write = ((chunk: Buffer) => {
    written.push(chunk);
    return write(chunk);
  }) as typeof socket.write;
  return written;
}

test('a body in pieces arrives as one frame; its large piece reaches the socket as it is', async () => {
  const { near, frames, close } = await pair();
  try {
    const written = spyWrites(near);
    const writer = new FrameWriter(near);
    const large = Buffer.alloc(200_000, 7);
    const pieces = [Buffer.from('lead'), Buffer.from([1, 2]), large, Buffer.from('tail'), Buffer.alloc(0)];
    writer.frame(FrameType.RESPONSE, 5, Buffer.from('meta'), pieces);
    await until(() => frames.length === 1, 5000, 'the frame');
    const expected = encodeFrame(FrameType.RESPONSE, 5, Buffer.from('meta'), Buffer.concat(pieces));
    assert.is(frames[0]!.requestId, 5);
    assert.is(frames[0]!.meta.toString(), 'meta');
    assert.ok(frames[0]!.body.equals(expected.subarray(16 + 4)), 'the body is the pieces in order');
    assert.ok(written.includes(large), 'the large piece is written itself, not a copy of it');
    assert.is(
      written.reduce((n, b) => n + b.length, 0),
      expected.length,
      'nothing more is written (the empty piece is left out)',
    );
  } finally {
    await close();
  }
});

test('frames in pieces and whole ones queued in one tick keep their order', async () => {
  const { near, frames, close } = await pair();
  try {
    const writer = new FrameWriter(near);
    writer.frame(FrameType.RESPONSE, 1, Buffer.alloc(0), Buffer.from('one'));
    writer.frame(FrameType.RESPONSE, 2, Buffer.alloc(0), [Buffer.from('t'), Buffer.alloc(100_000, 2)]);
    writer.frame(FrameType.RESPONSE, 3, Buffer.alloc(0), [Buffer.from('small'), Buffer.from('pieces')]);
    await until(() => frames.length === 3, 5000, 'three frames');
    assert.equal(
      frames.map((f) => f.requestId),
      [1, 2, 3],
    );
    assert.is(frames[1]!.body.length, 100_001);
    assert.is(frames[2]!.body.toString(), 'smallpieces');
  } finally {
    await close();
  }
});

test('slab, flushed per turn: frames of several ticks leave in one write, in order, around a large body', async () => {
  const { near, frames, close } = await pair();
  try {
    const written = spyWrites(near);
    const writer = new FrameWriter(near, { flushOn: 'turn', slabBytes: 1024 });
    const meta = Buffer.from('meta-and-spare-room');
    writer.frame(FrameType.REQUEST, 1, meta, Buffer.from('one'), 4); // only 'meta' is sent
    meta.fill(0); // the writer copied it already
    await Promise.resolve();
    process.nextTick(() => writer.frame(FrameType.REQUEST, 2, Buffer.alloc(0), Buffer.alloc(900, 2))); // past the slab's room
    await new Promise((r) => process.nextTick(r));
    writer.frame(FrameType.REQUEST, 3, Buffer.alloc(0), Buffer.alloc(20_000, 3));
    writer.frame(FrameType.REQUEST, 4, Buffer.alloc(0), Buffer.from('four'));
    assert.is(written.length, 0, 'nothing is written within the turn');
    await until(() => frames.length === 4, 5000, 'four frames');
    assert.equal(
      frames.map((f) => f.requestId),
      [1, 2, 3, 4],
    );
    assert.is(frames[0]!.meta.toString(), 'meta');
    assert.is(frames[0]!.body.toString(), 'one');
    assert.is(frames[1]!.body.length, 900);
    assert.is(frames[2]!.body.length, 20_000);
    assert.is(frames[3]!.body.toString(), 'four');
    assert.is(written.length, 1, 'one write for the turn');
  } finally {
    await close();
  }
});

test('without a slab of its own: a slab while flushes are large, none once they are small, frames intact throughout', async () => {
  const { near, frames, close } = await pair();
  try {
    const written = spyWrites(near);
    const writer = new FrameWriter(near); // as a server's connection: flushed per tick, no slab given
    let id = 0;
    const batch = async (n: number): Promise<void> => {
      for (let i = 0; i < n; i++) {
        id++;
        writer.frame(FrameType.RESPONSE, id, Buffer.from([id & 0xff]), Buffer.alloc(60, id & 0xff));
      }
      await new Promise((r) => process.nextTick(r));
    };
    // The slab: an ArrayBuffer of its own, the size of the slab, which a batch is a view of.
    const inSlab = (b: Buffer): boolean => b.buffer.byteLength === 16 * 1024;
    await batch(20); // large: written as before (a buffer per frame, concatenated), then a slab is taken
    await batch(20); // encoded into the slab
    for (let i = 0; i < 4; i++) {
      await batch(1); // one quiet flush between bursts keeps the slab
      await batch(20);
    }
    for (let i = 0; i < 8; i++) await batch(1); // eight quiet flushes in a row: dropped after the eighth
    await batch(20); // a buffer per frame again (concatenated); large, so a slab is taken again
    await batch(5);
    assert.equal(written.map(inSlab), [false, true, ...Array(8).fill(true), ...Array(8).fill(true), false, true]);
    await until(() => frames.length === id, 5000, `${id} frames`);
    frames.forEach((f, i) => {
      assert.is(f.requestId, i + 1);
      assert.equal([...f.meta], [(i + 1) & 0xff]);
      assert.ok(f.body.length === 60 && f.body.every((b) => b === ((i + 1) & 0xff)), `frame ${i + 1}'s body`);
    });
  } finally {
    await close();
  }
});

test('end() writes what is queued before the FIN', async () => {
  const { near, frames, close } = await pair();
  try {
    const writer = new FrameWriter(near, { flushOn: 'turn', slabBytes: 4096 });
    writer.frame(FrameType.CANCEL, 7, Buffer.alloc(0), Buffer.alloc(0));
    writer.end();
    await until(() => frames.length === 1, 5000, 'the CANCEL');
    assert.is(frames[0]!.type, FrameType.CANCEL);
  } finally {
    await close();
  }
});

test.run();
