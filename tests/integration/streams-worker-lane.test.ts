import { suite } from 'uvu';
import { gunzipSync } from 'node:zlib';
import * as assert from 'uvu/assert';
import { createServer, Status, type Server } from '../../src/index.js';
import { FrameType } from '../../src/internal.js';
import { RawPeer, type ReadFrame } from '../helpers/raw-socket.js';
import { Bench, benchClient } from '../helpers/bench-server.js';
import { Bench as laneHandlers } from '../fixtures/lane-handlers.js';
import { WINDOW, credit, encode, frameBytes, open, replyPayload, runStream, take } from '../helpers/raw-stream.js';

/**
 * Server streams on the worker and actor lanes: the generator runs in a thread, its replies
 * come through the response ring as they are produced, and the client's credit (in shared
 * memory) holds it at its `yield`. The handlers are tests/fixtures/lane-handlers.ts's; one
 * thread, so Echo's `stream-seen` reports what that thread's Stream did.
 */
const test = suite('streams: worker and actor lanes');
const MODULE = 'tests/fixtures/lane-handlers.ts';

let server: Server;
let port: number;
let nextEcho = 1_000_000;

test.before(async () => {
  server = createServer({ host: '127.0.0.1', port: 0, workers: 1 }).addService(Bench, laneHandlers, {
    lanes: { stream: 'worker', echo: 'worker' },
    workerModule: MODULE,
  });
  ({ port } = await server.listen());
});

test.after(async () => {
  await server.close();
});

interface Seen {
  yielded: number;
  finallyRan: number;
  aborted: number[];
}

/** What the worker's Stream did since the last reset (and resets it). */
async function seenInWorker(peer: RawPeer, reset = true): Promise<Seen> {
  const id = nextEcho++;
  peer.send(
    FrameType.REQUEST,
    id,
    { service: 'bench.v1.Bench', method: 'Echo', metadata: { 'x-action': 'stream-seen', 'x-reset': reset ? '1' : '0' } },
    encode.echo(Buffer.alloc(0)),
  );
  await peer.until(() => peer.frames.some((f) => f.requestId === id), 5000, 'the stream-seen answer');
  const answer = take(peer, id)[0]!;
  return JSON.parse(answer.decodedMeta.metadata['seen']!) as Seen;
}

async function eventually(peer: RawPeer, check: (seen: Seen) => boolean, what: string): Promise<Seen> {
  for (const end = Date.now() + 5000; ; ) {
    const seen = await seenInWorker(peer, false);
    if (check(seen)) {
      await seenInWorker(peer, true);
      return seen;
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(seen)}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const numberOf = (frame: ReadFrame): number => Buffer.from(replyPayload(frame)).readUInt32BE(0);

test('10,000 replies of a worker stream come in order, then RESPONSE OK with the trailing metadata from the worker', async () => {
  const peer = await RawPeer.connect(port);
  await seenInWorker(peer);
  open(peer, 1, 'Stream', encode.stream(10_000, 8));
  const { messages, response } = await runStream(peer, 1);
  assert.is(response.decodedMeta.status, Status.OK, response.decodedMeta.message);
  assert.is(messages.length, 10_000);
  for (let n = 0; n < messages.length; n++) if (numberOf(messages[n]!) !== n) assert.unreachable(`reply ${n} out of order`);
  assert.is(response.decodedMeta.metadata['x-sent'], '10000');
  assert.is(response.decodedMeta.metadata['main'], undefined);
  assert.ok(Number(response.decodedMeta.metadata['thread']) > 0, 'ran in a worker thread');
  const stats = server.stats().methods['bench.v1.Bench/Stream']!;
  assert.is(stats.ok, 1);
  await eventually(peer, (s) => s.finallyRan === 1, 'the generator to end');
  peer.destroy();
});

test('a reader that grants nothing stops the worker`s generator within the window; a CREDIT resumes it', async () => {
  const peer = await RawPeer.connect(port);
  await seenInWorker(peer);
  open(peer, 2, 'Stream', encode.stream(100, 1000));
  const firstWindow: number[] = [];
  let bytes = 0;
  while (bytes < WINDOW) {
    const first = await peer.next(FrameType.MESSAGE); // taken out of `frames` by next()
    for (const frame of [first, ...take(peer, 2)]) {
      firstWindow.push(frameBytes(frame));
      bytes += frameBytes(frame);
    }
  }
  await new Promise((r) => setTimeout(r, 100)); // time for a generator that did not stop to run on
  const seen = await seenInWorker(peer, false);
  const frameSize = firstWindow[0]!;
  assert.ok(seen.yielded <= Math.floor(WINDOW / frameSize) + 1, `the generator got to ${seen.yielded} yields (window ${WINDOW}, frames of ${frameSize})`);
  assert.is(seen.yielded, firstWindow.length, 'pulled only what it could send');
  assert.is(take(peer, 2).length, 0, 'nothing beyond the window');
  credit(peer, 2, 10 * WINDOW);
  const { messages, response } = await runStream(peer, 2);
  assert.is(firstWindow.length + messages.length, 100);
  assert.is(response.decodedMeta.status, Status.OK);
  await eventually(peer, (s) => s.finallyRan === 1 && s.yielded === 100, 'the generator to end');
  peer.destroy();
});

test('the library client reads a worker stream with a small window', async () => {
  const client = benchClient(`127.0.0.1:${port}`);
  try {
    let n = 0;
    for await (const reply of client.stream({ count: 2000, payloadBytes: 100 }, { window: 4096 })) {
      if (Buffer.from(reply.payload).readUInt32BE(0) !== n++) assert.unreachable(`reply ${n - 1} out of order`);
    }
    assert.is(n, 2000);
  } finally {
    await client.$close();
  }
});

test('CANCEL mid-stream: the worker`s ctx.signal aborts CANCELLED, its generator`s finally runs, nothing more is written', async () => {
  const peer = await RawPeer.connect(port);
  await seenInWorker(peer);
  const before = server.stats().methods['bench.v1.Bench/Stream']!;
  open(peer, 3, 'Stream', encode.stream(0, 0));
  await peer.next(FrameType.MESSAGE);
  peer.send(FrameType.CANCEL, 3);
  const seen = await eventually(peer, (s) => s.finallyRan === 1, 'the generator to close');
  assert.equal(seen.aborted, [Status.CANCELLED]);
  credit(peer, 3, WINDOW); // crossed the end: ignored
  peer.send(FrameType.PING, 78);
  await peer.next(FrameType.PONG);
  assert.not.ok(
    peer.frames.some((f) => f.requestId === 3 && f.type === FrameType.RESPONSE),
    'no RESPONSE after a CANCEL',
  );
  const after = server.stats().methods['bench.v1.Bench/Stream']!;
  assert.is((after.errors['CANCELLED'] ?? 0) - (before.errors['CANCELLED'] ?? 0), 1);
  assert.is(after.inflight, 0);
  await peer.until(() => server.stats().workerLane!.inflight === 0, 2000, 'the slot to be freed');
  peer.destroy();
});

test('deadline mid-stream: RESPONSE 4 DEADLINE_EXCEEDED, the worker`s generator closed, its signal aborted DEADLINE_EXCEEDED', async () => {
  const peer = await RawPeer.connect(port);
  await seenInWorker(peer);
  open(peer, 4, 'Stream', encode.stream(0, 0), { timeoutMs: 300 });
  const { messages, response } = await runStream(peer, 4, { grant: false });
  assert.ok(messages.length > 0);
  assert.is(response.decodedMeta.status, Status.DEADLINE_EXCEEDED);
  assert.match(response.decodedMeta.message, /Stream exceeded its deadline/);
  const seen = await eventually(peer, (s) => s.finallyRan === 1, 'the generator to close');
  assert.equal(seen.aborted, [Status.DEADLINE_EXCEEDED]);
  peer.destroy();
});

test('a worker handler that throws mid-stream: RESPONSE with its status after the replies it yielded', async () => {
  const peer = await RawPeer.connect(port);
  open(peer, 5, 'Stream', encode.stream(10, 13));
  const { messages, response } = await runStream(peer, 5);
  assert.is(messages.length, 3);
  assert.equal(messages.map(numberOf), [0, 1, 2]);
  assert.is(response.decodedMeta.status, Status.NOT_FOUND);
  assert.is(response.decodedMeta.message, 'no fourth reply');
  await seenInWorker(peer);
  peer.destroy();
});

test('1,000 unary worker calls interleaved with three stalled worker streams are all answered', async () => {
  const peer = await RawPeer.connect(port);
  // More stalled streams than the lane's batches in flight (workers × 2): none may hold one.
  for (const id of [10, 11, 12]) open(peer, id, 'Stream', encode.stream(0, 100));
  const echoIds: number[] = [];
  for (let id = 100; id < 1100; id++) {
    echoIds.push(id);
    peer.send(FrameType.REQUEST, id, { service: 'bench.v1.Bench', method: 'Echo' }, encode.echo(Buffer.from(`e${id}`)));
    if (id % 100 === 0) await new Promise((r) => setImmediate(r));
  }
  await peer.until(() => peer.frames.filter((f) => f.type === FrameType.RESPONSE).length >= echoIds.length, 20_000, '1,000 echo answers');
  const answered = new Set(peer.frames.filter((f) => f.type === FrameType.RESPONSE && f.decodedMeta.status === Status.OK).map((f) => f.requestId));
  for (const echo of echoIds) if (!answered.has(echo)) assert.unreachable(`Echo ${echo} unanswered`);
  for (const id of [10, 11, 12]) assert.not.ok(answered.has(id), `stream ${id} is still open`);
  for (const id of [10, 11, 12]) peer.send(FrameType.CANCEL, id);
  await eventually(peer, (s) => s.finallyRan === 3, 'the three generators to close');
  peer.destroy();
});

test('a flowing worker stream with credit to spare lets its thread take the next batch: Echo is answered mid-stream', async () => {
  const peer = await RawPeer.connect(port);
  // 2 MiB of credit: about 80,000 replies of 8 bytes before the generator would wait for more.
  const window = 2 * 1024 * 1024;
  open(peer, 20, 'Stream', encode.stream(0, 8), { window });
  await peer.next(FrameType.MESSAGE); // the generator runs
  peer.send(FrameType.REQUEST, 21, { service: 'bench.v1.Bench', method: 'Echo' }, encode.echo(Buffer.from('mid-stream')));
  await peer.until(() => peer.frames.some((f) => f.requestId === 21), 20_000, 'the Echo answer');
  const at = peer.frames.findIndex((f) => f.requestId === 21);
  const before = peer.frames.slice(0, at).filter((f) => f.requestId === 20).length;
  const perReply = frameBytes(peer.frames.find((f) => f.requestId === 20)!);
  // The thread lets its tasks in every 16 KiB of replies (some 600 here); a pump that never
  // turned would have held the Echo until the window was spent. Half the window leaves a
  // loaded machine's reactor room to be late.
  assert.ok(before < window / perReply / 2, `${before} replies came before the Echo answer (the window holds ${Math.floor(window / perReply)})`);
  assert.is(peer.frames[at]!.decodedMeta.status, Status.OK);
  peer.send(FrameType.CANCEL, 20);
  await eventually(peer, (s) => s.finallyRan === 1, 'the generator to close');
  peer.destroy();
});

test('a worker thread that dies mid-stream ends the stream UNAVAILABLE; the lane goes on', async () => {
  const crashy = createServer({ host: '127.0.0.1', port: 0, workers: 1 }).addService(Bench, laneHandlers, {
    lanes: { stream: 'worker', echo: 'worker' },
    workerModule: MODULE,
  });
  const { port: crashPort } = await crashy.listen();
  try {
    const peer = await RawPeer.connect(crashPort);
    open(peer, 1, 'Stream', encode.stream(0, 0));
    await peer.next(FrameType.MESSAGE);
    peer.send(FrameType.REQUEST, 2, { service: 'bench.v1.Bench', method: 'Echo', metadata: { 'x-action': 'exit' } }, encode.echo(Buffer.alloc(0)));
    const { response } = await runStream(peer, 1, { grant: false });
    assert.is(response.decodedMeta.status, Status.UNAVAILABLE);
    assert.match(response.decodedMeta.message, /died mid-stream/);
    open(peer, 3, 'Stream', encode.stream(5, 8));
    const again = await runStream(peer, 3);
    assert.is(again.response.decodedMeta.status, Status.OK);
    assert.is(again.messages.length, 5);
    assert.is(crashy.stats().workerLane!.inflight, 0);
    peer.destroy();
  } finally {
    await crashy.close();
  }
});

test('replies larger than a quarter of the ring come in pieces, whole and in order; gzipped ones too', async () => {
  const small = createServer({
    host: '127.0.0.1',
    port: 0,
    workers: 1,
    ringBytes: 16 * 1024,
    compression: 'gzip',
    compressionThresholdBytes: 100_000,
  }).addService(Bench, laneHandlers, {
    lanes: { stream: 'worker' },
    workerModule: MODULE,
  });
  const { port: smallPort } = await small.listen();
  try {
    const peer = await RawPeer.connect(smallPort);
    for (const [id, bytes] of [
      [1, 10_000],
      [2, 60_000],
      [3, 150_000],
    ] as const) {
      open(peer, id, 'Stream', encode.stream(20, bytes));
      const { messages, response } = await runStream(peer, id);
      assert.is(response.decodedMeta.status, Status.OK, response.decodedMeta.message);
      const replies = messages.map((m) => {
        const body = m.decodedMeta.compression === 1 ? gunzipSync(m.body) : m.body;
        return (Bench.methods.stream.responseType.decode(body) as unknown as { payload: Uint8Array }).payload;
      });
      assert.equal(
        replies.map((p) => Buffer.from(p).readUInt32BE(0)),
        Array.from({ length: 20 }, (_, n) => n),
      );
      assert.ok(replies.every((p) => p.length === bytes));
      assert.is(messages[0]!.decodedMeta.compression, bytes > 100_000 ? 1 : 0);
    }
    peer.destroy();
  } finally {
    await small.close();
  }
});

test('two streams on one thread filling a small ring: every reply intact and in order (a reply waiting for room is a copy)', async () => {
  const small = createServer({ host: '127.0.0.1', port: 0, workers: 1, ringBytes: 16 * 1024 }).addService(Bench, laneHandlers, {
    lanes: { stream: 'worker' },
    workerModule: MODULE,
  });
  const { port: smallPort } = await small.listen();
  try {
    const peer = await RawPeer.connect(smallPort);
    // Records of ~1 KiB in a 16 KiB ring: the ring fills, replies queue for room, and the
    // other stream's next encode reuses the thread's writer meanwhile.
    for (const id of [1, 2]) open(peer, id, 'Stream', encode.stream(300, 1000), { window: 4 * 1024 * 1024 });
    const [a, b] = await Promise.all([runStream(peer, 1), runStream(peer, 2)]);
    for (const { messages, response } of [a, b]) {
      assert.is(response.decodedMeta.status, Status.OK, response.decodedMeta.message);
      const numbers = messages.map(numberOf);
      assert.equal(
        numbers,
        Array.from({ length: 300 }, (_, n) => n),
      );
      assert.ok(
        messages.every(
          (m) =>
            replyPayload(m).length === 1000 &&
            Buffer.from(replyPayload(m))
              .subarray(4)
              .every((byte) => byte === 0),
        ),
        'each payload as its handler made it',
      );
    }
    peer.destroy();
  } finally {
    await small.close();
  }
});

test('workerAtomics "sync" refuses a worker-lane server stream at addService', () => {
  assert.throws(
    () => createServer({ workerAtomics: 'sync' }).addService(Bench, laneHandlers, { lanes: { stream: 'worker' }, workerModule: MODULE }),
    (err: Error) => /Stream cannot run on the worker lane with workerAtomics "sync"/.test(err.message),
  );
});

test('actor lane: a stream holds its key`s turn until it ends; other keys go on', async () => {
  const actors = createServer({ host: '127.0.0.1', port: 0, actorWorkers: 1 }).addService(Bench, laneHandlers, {
    lanes: { stream: 'actor' },
    workerModule: MODULE,
  });
  const { port: actorPort } = await actors.listen();
  try {
    const peer = await RawPeer.connect(actorPort);
    open(peer, 1, 'Stream', encode.stream(0, 1000), { key: 'a' }); // stalls after its window
    await peer.next(FrameType.MESSAGE);
    open(peer, 2, 'Stream', encode.stream(3, 8), { key: 'a' }); // behind it
    open(peer, 3, 'Stream', encode.stream(1000, 8), { key: 'b' });
    const other = await runStream(peer, 3);
    assert.is(other.response.decodedMeta.status, Status.OK);
    assert.equal(
      other.messages.map(numberOf),
      Array.from({ length: 1000 }, (_, n) => n),
    );
    assert.is(take(peer, 2).length, 0, 'the second stream of key a waits its turn');
    peer.send(FrameType.CANCEL, 1);
    const second = await runStream(peer, 2);
    assert.is(second.response.decodedMeta.status, Status.OK);
    assert.equal(second.messages.map(numberOf), [0, 1, 2]);
    peer.destroy();
  } finally {
    await actors.close();
  }
});

test.run();
