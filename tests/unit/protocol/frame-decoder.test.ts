import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { FrameDecoder, FrameError, encodeFrame, FrameType, HEADER_BYTES, Status, type Frame } from '../../../src/internal.js';

const test = suite('frame-decoder');

function collect(max?: number): { decoder: FrameDecoder; frames: Frame[] } {
  const frames: Frame[] = [];
  const decoder = new FrameDecoder((f) => frames.push({ ...f, meta: Buffer.from(f.meta), body: Buffer.from(f.body) }), max);
  return { decoder, frames };
}

const sample = (i: number): Buffer => encodeFrame(FrameType.REQUEST, i + 1, Buffer.from(`meta-${i}`), Buffer.alloc(i % 50, i & 0xff));

test('header layout is the spec one', () => {
  const f = encodeFrame(FrameType.PING, 0x01020304, Buffer.from('m'), Buffer.from('bb'));
  assert.equal([...f.subarray(0, HEADER_BYTES)], [0x52, 0x52, 1, 3, 1, 2, 3, 4, 0, 0, 0, 1, 0, 0, 0, 2]);
  assert.is(f.length, 19);
});

test('round trip of every type, empty and non-empty parts', () => {
  const { decoder, frames } = collect();
  const types = [1, 2, 3, 4, 5, 6, 7] as const;
  for (const t of types) decoder.push(encodeFrame(t, t * 7, t % 2 ? Buffer.alloc(0) : Buffer.from('meta'), t % 3 ? Buffer.from('body') : Buffer.alloc(0)));
  assert.is(frames.length, 7);
  frames.forEach((f, i) => {
    const t = types[i]!;
    assert.is(f.type, t);
    assert.is(f.requestId, t * 7);
    assert.is(Buffer.from(f.meta).toString(), t % 2 ? '' : 'meta');
    assert.is(f.body.toString(), t % 3 ? 'body' : '');
  });
});

test('a frame fed one byte at a time', () => {
  const { decoder, frames } = collect();
  const bytes = Buffer.concat([sample(7), sample(42)]);
  for (const b of bytes) decoder.push(Buffer.from([b]));
  assert.is(frames.length, 2);
  assert.is(Buffer.from(frames[0]!.meta).toString(), 'meta-7');
  assert.equal([...frames[1]!.body], new Array(42).fill(42));
  assert.is(decoder.bufferedBytes, 0);
});

test('1000 frames in one chunk, as zero-copy views of it', () => {
  const views: Frame[] = [];
  const decoder = new FrameDecoder((f) => views.push(f));
  const chunk = Buffer.concat(Array.from({ length: 1000 }, (_, i) => sample(i)));
  decoder.push(chunk);
  assert.is(views.length, 1000);
  views.forEach((f, i) => {
    assert.is(f.requestId, i + 1);
    assert.is(Buffer.from(f.meta).toString(), `meta-${i}`);
    if (f.body.length > 0) assert.is(f.body.buffer, chunk.buffer, 'body is a view, not a copy');
  });
});

test('only a frame that straddles reads is copied, into an exact-size buffer', () => {
  const frames: Frame[] = [];
  const decoder = new FrameDecoder((f) => frames.push(f));
  const a = sample(10);
  const b = sample(30);
  const c = sample(20);
  const all = Buffer.concat([a, b, c]);
  const cut = a.length + 5; // b straddles the two reads
  const first = all.subarray(0, cut);
  const second = Buffer.from(all.subarray(cut));
  decoder.push(first);
  decoder.push(second);
  assert.is(frames.length, 3);
  assert.is(frames[0]!.body.buffer, first.buffer);
  assert.is.not(frames[1]!.body.buffer, first.buffer);
  assert.is(frames[1]!.body.buffer.byteLength, b.length, 'the copy is exact-size');
  assert.is(frames[2]!.body.buffer, second.buffer);
});

test('frames split at every possible point', () => {
  const bytes = Buffer.concat([sample(3), sample(17), sample(49)]);
  for (let cut = 1; cut < bytes.length; cut++) {
    const { decoder, frames } = collect();
    decoder.push(bytes.subarray(0, cut));
    decoder.push(bytes.subarray(cut));
    assert.is(frames.length, 3, `cut at ${cut}`);
    assert.is(frames[2]!.requestId, 50);
  }
});

test('a large frame is copied into its buffer read by read: no read is kept past the next one', () => {
  const frames: Frame[] = [];
  const decoder = new FrameDecoder((f) => frames.push(f));
  const body = Buffer.alloc(300_000);
  for (let i = 0; i < body.length; i++) body[i] = (i * 7) & 0xff;
  const big = encodeFrame(FrameType.REQUEST, 9, Buffer.from('meta'), body);
  const after = sample(12);
  const stream = Buffer.concat([big, after]);
  // After each read but the first, every earlier read is overwritten: a decoder that still
  // referred to one instead of having copied it would assemble garbage.
  const reads: Buffer[] = [];
  for (let at = 0; at < stream.length; at += 64 * 1024) {
    const read = Buffer.from(stream.subarray(at, at + 64 * 1024));
    decoder.push(read);
    if (reads.length > 0) for (const r of reads) r.fill(0xee);
    reads.push(read);
    if (frames.length === 0) assert.ok(decoder.bufferedBytes <= at + read.length, 'holds no more than was read');
  }
  assert.is(frames.length, 2);
  assert.is(frames[0]!.requestId, 9);
  assert.is(Buffer.from(frames[0]!.meta).toString(), 'meta');
  assert.ok(frames[0]!.body.equals(body), 'the body survives the reuse of every read');
  assert.is(frames[0]!.body.buffer.byteLength, big.length, 'one exact-size buffer');
  assert.is(frames[1]!.requestId, 13, 'the frame behind it in the last read is decoded too');
  assert.is(decoder.bufferedBytes, 0);
});

test('stop() while a large frame is being filled drops it; later reads are ignored', () => {
  const { decoder, frames } = collect();
  const big = encodeFrame(FrameType.REQUEST, 1, Buffer.alloc(0), Buffer.alloc(200_000, 1));
  decoder.push(big.subarray(0, 1000));
  decoder.push(big.subarray(1000, 5000));
  assert.is(decoder.bufferedBytes, 5000);
  assert.is(decoder.pendingFrameBytes, big.length);
  decoder.stop();
  assert.is(decoder.bufferedBytes, 0);
  decoder.push(big.subarray(5000));
  assert.is(frames.length, 0);
});

const faults: Array<[string, Buffer, number, RegExp]> = [
  ['bad magic', Buffer.from('GET / HTTP/1.1\r\n\r\n'), Status.INTERNAL, /bad magic/],
  ['unknown version', Buffer.from([0x52, 0x52, 2, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]), Status.INTERNAL, /version 2/],
  ['unknown type 0', Buffer.from([0x52, 0x52, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]), Status.INTERNAL, /type 0/],
  ['unknown type 11', Buffer.from([0x52, 0x52, 1, 11, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]), Status.INTERNAL, /type 11/],
];
for (const [name, bytes, status, message] of faults) {
  test(`rejects ${name}`, () => {
    const { decoder, frames } = collect();
    assert.throws(
      () => decoder.push(bytes),
      (e: unknown) => e instanceof FrameError && e.status === status && message.test(e.message),
    );
    decoder.push(sample(1));
    assert.is(frames.length, 0, 'a failed decoder ignores further input');
  });
}

test('an oversized frame is refused from its header, before its body is buffered', () => {
  const { decoder } = collect(1024);
  const header = encodeFrame(FrameType.REQUEST, 1, Buffer.alloc(0), Buffer.alloc(0));
  header.writeUInt32BE(600, 8);
  header.writeUInt32BE(600, 12);
  assert.throws(
    () => decoder.push(header),
    (e: unknown) => e instanceof FrameError && e.status === Status.RESOURCE_EXHAUSTED && /1200 bytes exceeds the limit of 1024/.test(e.message),
  );
  assert.is(decoder.bufferedBytes, 0);
});

test('a frame exactly at the limit is accepted', () => {
  const { decoder, frames } = collect(100);
  decoder.push(encodeFrame(FrameType.REQUEST, 1, Buffer.alloc(40), Buffer.alloc(60)));
  assert.is(frames.length, 1);
});

test('stop() from inside onFrame halts decoding of the rest of the chunk', () => {
  let seen = 0;
  const decoder: FrameDecoder = new FrameDecoder(() => {
    seen++;
    decoder.stop();
  });
  decoder.push(Buffer.concat([sample(1), sample(2), sample(3)]));
  assert.is(seen, 1);
  assert.is(decoder.bufferedBytes, 0);
});

test.run();
