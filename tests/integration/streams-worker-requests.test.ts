import { suite } from 'uvu';
import { createHash } from 'node:crypto';
import * as assert from 'uvu/assert';
import { createClient, createServer, Status, type RpcError, type Server } from '../../src/index.js';
import { FrameType } from '../../src/internal.js';
import { Bench as BenchService } from '../../examples/bench/generated.js';
import { RawPeer, type ReadFrame } from '../helpers/raw-socket.js';
import { Bench as laneHandlers } from '../fixtures/lane-handlers.js';
import { WINDOW, encode, message, open, runStream, take } from '../helpers/raw-stream.js';

/**
 * Client-streaming (Sum) and bidirectional (Chat) streams on the inline and worker lanes:
 * on the worker lane the requests are relayed to the thread within the window and credit
 * goes back as its handler consumes them. The handlers are tests/fixtures/lane-handlers.ts's;
 * one thread, and Echo on the same lane, so Echo's `stream-seen` reports what Sum and Chat
 * did there (signal aborts, `finally` runs).
 */
const test = suite('streams: client and bidirectional streams on the worker lane');
const MODULE = 'tests/fixtures/lane-handlers.ts';

interface Seen {
  yielded: number;
  finallyRan: number;
  aborted: number[];
}

const sumReply = (frame: ReadFrame): { messages: bigint; bytes: bigint; digest: Uint8Array } =>
  BenchService.methods.sum.responseType.decode(frame.body) as unknown as { messages: bigint; bytes: bigint; digest: Uint8Array };
const payloadOf = (frame: ReadFrame): Buffer =>
  Buffer.from((BenchService.methods.chat.responseType.decode(frame.body) as unknown as { payload: Uint8Array }).payload);
/** `count` payloads of `bytes` bytes, each starting with its number. */
const payloads = (count: number, bytes: number): Uint8Array[] =>
  Array.from({ length: count }, (_, n) => {
    const payload = Buffer.alloc(bytes, n & 0xff);
    payload.writeUInt32BE(n);
    return encode.echo(payload);
  });

for (const lane of ['inline', 'worker'] as const) {
  const name = (what: string): string => `${lane} lane: ${what}`;
  let server: Server;
  let port: number;
  let nextEcho = 1_000_000;

  /** What Sum and Chat did since the last reset, on this lane (resets it). */
  async function seenOnLane(peer: RawPeer, reset: boolean): Promise<Seen> {
    const id = nextEcho++;
    const metadata = { 'x-action': 'stream-seen', 'x-reset': reset ? '1' : '0' };
    peer.send(FrameType.REQUEST, id, { service: 'bench.v1.Bench', method: 'Echo', metadata }, encode.echo(Buffer.alloc(0)));
    await peer.until(() => peer.frames.some((f) => f.requestId === id), 5000, 'the stream-seen answer');
    return JSON.parse(take(peer, id)[0]!.decodedMeta.metadata['seen']!) as Seen;
  }

  async function eventually(peer: RawPeer, check: (seen: Seen) => boolean, what: string): Promise<Seen> {
    for (const end = Date.now() + 5000; ; await new Promise((r) => setTimeout(r, 10))) {
      const seen = await seenOnLane(peer, false);
      if (check(seen)) {
        await seenOnLane(peer, true);
        return seen;
      }
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(seen)}`);
    }
  }

  test.before(async () => {
    const lanes: Record<string, 'worker'> = lane === 'inline' ? {} : { echo: lane, sum: lane, chat: lane };
    server = createServer({ host: '127.0.0.1', port: 0, workers: 1 }).addService(BenchService, laneHandlers, { lanes, workerModule: MODULE });
    ({ port } = await server.listen());
  });

  test.after(async () => {
    await server.close();
  });

  test(name('Sum over many windows: the digest is that of the payloads in order'), async () => {
    const peer = await RawPeer.connect(port);
    await seenOnLane(peer, true);
    const send = payloads(2000, 1000); // about 30 windows
    open(peer, 1, 'Sum');
    const { response, credits } = await runStream(peer, 1, { send });
    assert.is(response.decodedMeta.status, Status.OK, response.decodedMeta.message);
    const hash = createHash('sha256');
    for (const body of send) hash.update((BenchService.methods.sum.requestType.decode(body) as unknown as { payload: Uint8Array }).payload);
    const reply = sumReply(response);
    assert.is(reply.messages, 2000n);
    assert.is(reply.bytes, 2_000_000n);
    assert.equal(Buffer.from(reply.digest), hash.digest());
    assert.ok(credits.length >= 25, `credit came back as the handler read (${credits.length} CREDITs)`);
    if (lane === 'worker') assert.ok(Number(response.decodedMeta.metadata['thread']) > 0, 'ran in a worker thread');
    peer.destroy();
  });

  test(name('Chat echoes 3,000 messages in order'), async () => {
    const peer = await RawPeer.connect(port);
    const send = payloads(3000, 64);
    open(peer, 2, 'Chat');
    const { messages, response } = await runStream(peer, 2, { send });
    assert.is(response.decodedMeta.status, Status.OK, response.decodedMeta.message);
    assert.is(messages.length, 3000);
    for (let n = 0; n < messages.length; n++) if (payloadOf(messages[n]!).readUInt32BE(0) !== n) assert.unreachable(`reply ${n} out of order`);
    if (lane === 'worker') assert.ok(Number(response.decodedMeta.metadata['thread']) > 0, 'ran in a worker thread');
    peer.destroy();
  });

  test(name('a slow Sum makes a client that sends as fast as credit allows stop at the window'), async () => {
    const peer = await RawPeer.connect(port);
    const body = payloads(1, 1000)[0]!;
    const frame = 16 + body.length;
    await seenOnLane(peer, true);
    open(peer, 3, 'Sum', undefined, { metadata: { 'x-slow-ms': '5' } });
    let sent = 0;
    let granted = 0;
    for (const end = Date.now() + 400; Date.now() < end; ) {
      for (const f of take(peer, 3)) {
        assert.is(f.type, FrameType.CREDIT, `no RESPONSE mid-stream (${f.decodedMeta.message})`);
        granted += f.body.readUInt32BE(0);
      }
      while (WINDOW + granted - sent > 0) {
        message(peer, 3, body);
        sent += frame;
      }
      await new Promise((r) => setTimeout(r, 5));
    }
    // About 80 messages consumed in 400 ms: the client got some credit back, but was held to it.
    assert.ok(granted > 0, 'credit came back as the handler read');
    assert.ok(sent <= WINDOW + granted + frame, `sent ${sent} bytes on a window of ${WINDOW} plus ${granted} granted`);
    assert.ok(sent < 300 * frame, `sent ${sent} bytes: the client waited`);
    peer.send(FrameType.CANCEL, 3);
    const seen = await eventually(peer, (s) => s.finallyRan === 1, 'Sum to end');
    assert.equal(seen.aborted, [Status.CANCELLED]);
    peer.destroy();
  });

  test(name('CANCEL mid-Chat: the handler`s signal aborts CANCELLED, its finally runs, nothing more is written'), async () => {
    const peer = await RawPeer.connect(port);
    await seenOnLane(peer, true);
    open(peer, 4, 'Chat');
    for (const body of payloads(5, 8)) message(peer, 4, body);
    await peer.until(() => peer.frames.filter((f) => f.requestId === 4).length >= 5, 5000, 'five replies');
    peer.send(FrameType.CANCEL, 4);
    const seen = await eventually(peer, (s) => s.finallyRan === 1, 'the generator to close');
    assert.equal(seen.aborted, [Status.CANCELLED]);
    await new Promise((r) => setTimeout(r, 50));
    assert.ok(!take(peer, 4).some((f) => f.type === FrameType.RESPONSE), 'no RESPONSE after a CANCEL');
    peer.destroy();
  });

  test(name('deadline mid-Sum: RESPONSE DEADLINE_EXCEEDED, the handler`s signal aborted, its finally ran'), async () => {
    const peer = await RawPeer.connect(port);
    await seenOnLane(peer, true);
    open(peer, 5, 'Sum', undefined, { timeoutMs: 300 });
    for (const body of payloads(5, 8)) message(peer, 5, body);
    const { response } = await runStream(peer, 5, { ms: 5000 });
    assert.is(response.decodedMeta.status, Status.DEADLINE_EXCEEDED, response.decodedMeta.message);
    const seen = await eventually(peer, (s) => s.finallyRan === 1, 'Sum to end');
    assert.equal(seen.aborted, [Status.DEADLINE_EXCEEDED]);
    peer.destroy();
  });

  test(name('a Sum handler that throws mid-stream ends it with its status'), async () => {
    const peer = await RawPeer.connect(port);
    open(peer, 6, 'Sum', undefined, { metadata: { 'x-fail-at': '5' } });
    const { response } = await runStream(peer, 6, { send: payloads(20, 8) });
    assert.is(response.decodedMeta.status, Status.NOT_FOUND);
    assert.is(response.decodedMeta.message, 'no message 5');
    peer.destroy();
  });

  test(name('an undecodable MESSAGE ends the stream INVALID_ARGUMENT'), async () => {
    const peer = await RawPeer.connect(port);
    open(peer, 7, 'Chat');
    const { response } = await runStream(peer, 7, { send: [encode.echo(Buffer.from('ok')), Buffer.from([0xff, 0xff, 0xff])] });
    assert.is(response.decodedMeta.status, Status.INVALID_ARGUMENT);
    assert.match(response.decodedMeta.message, /does not decode as bench.v1.EchoRequest/);
    peer.destroy();
  });

  test(name('the library client: Sum and Chat'), async () => {
    const client = createClient(BenchService, `127.0.0.1:${port}`);
    try {
      async function* requests(): AsyncGenerator<{ payload: Buffer }> {
        for (let n = 0; n < 500; n++) yield { payload: Buffer.alloc(300, n & 0xff) };
      }
      const reply = await client.sum(requests());
      assert.is(reply.messages, 500n);
      let n = 0;
      for await (const r of client.chat(requests())) if (Buffer.from(r.payload)[0] !== (n++ & 0xff)) assert.unreachable(`reply ${n} out of order`);
      assert.is(n, 500);
    } finally {
      await client.$close();
    }
  });
}

test('worker lane: a thread that dies mid Sum and mid Chat ends both UNAVAILABLE for a client that never retries; the request sources are closed; the lane serves on', async () => {
  const crashy = createServer({ host: '127.0.0.1', port: 0, workers: 1 }).addService(BenchService, laneHandlers, {
    lanes: { sum: 'worker', chat: 'worker', echo: 'worker' },
    workerModule: MODULE,
  });
  const { port } = await crashy.listen();
  const client = createClient(BenchService, `127.0.0.1:${port}`, { retry: { maxAttempts: 1 } });
  try {
    const closed: string[] = [];
    let release!: () => void;
    const stalled = new Promise<void>((resolve) => (release = resolve));
    /** Three requests, then waits (the stream is open in the thread) until the test lets it go on. */
    async function* source(name: string): AsyncGenerator<{ payload: Buffer }> {
      try {
        for (let n = 0; n < 3; n++) yield { payload: Buffer.alloc(10, n) };
        await stalled;
        yield { payload: Buffer.alloc(10, 9) };
      } finally {
        closed.push(name);
      }
    }
    const failureOf = (p: Promise<unknown>, what: string): Promise<RpcError> =>
      p.then(
        () => {
          throw new Error(`${what} ended OK after its thread died`);
        },
        (e: unknown) => e as RpcError,
      );
    // A deadline, so that a stream the thread's death left hanging fails the test (DEADLINE_EXCEEDED) instead of stalling it.
    const sum = failureOf(client.sum(source('sum'), { timeoutMs: 20_000 }), 'Sum');
    const chatReplies: number[] = [];
    const chat = failureOf(
      (async () => {
        for await (const r of client.chat(source('chat'), { timeoutMs: 20_000 })) chatReplies.push(Buffer.from(r.payload)[0]!);
      })(),
      'Chat',
    );
    // Both streams are running in the thread once Chat has echoed its three requests.
    const until = Date.now() + 10_000;
    while (chatReplies.length < 3 && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
    assert.equal(chatReplies, [0, 1, 2]);
    await client.echo({ payload: Buffer.alloc(0) }, { metadata: { 'x-action': 'exit' } }).catch(() => undefined);
    for (const [what, failed] of [
      ['Sum', await sum],
      ['Chat', await chat],
    ] as const) {
      assert.is(failed.code, Status.UNAVAILABLE, `${what}: ${failed.message}`);
      assert.match(failed.message, /bench\.v1\.Bench\/(Sum|Chat)/);
    }
    release();
    const until2 = Date.now() + 5000;
    while (closed.length < 2 && Date.now() < until2) await new Promise((r) => setTimeout(r, 10));
    assert.equal([...closed].sort(), ['chat', 'sum'], 'both request sources closed');
    // A new thread serves the next ones.
    const reply = await client.sum([{ payload: Buffer.from('abc') }]);
    assert.is(reply.messages, 1n);
    assert.is(crashy.stats().workerLane!.inflight, 0);
  } finally {
    await client.$close();
    await crashy.close();
  }
});

test('actor lane: a Sum holds its key`s turn until it ends, a Chat of that key waits (its requests held within the window); other keys go on', async () => {
  const actors = createServer({ host: '127.0.0.1', port: 0, actorWorkers: 1 }).addService(BenchService, laneHandlers, {
    lanes: { sum: 'actor', chat: 'actor' },
    workerModule: MODULE,
  });
  const { port } = await actors.listen();
  const peer = await RawPeer.connect(port);
  try {
    open(peer, 1, 'Sum', undefined, { key: 'a' });
    for (const body of payloads(3, 8)) message(peer, 1, body);
    open(peer, 2, 'Chat', undefined, { key: 'a' }); // behind it
    for (const body of payloads(2, 8)) message(peer, 2, body);
    peer.send(FrameType.HALF_CLOSE, 2);
    open(peer, 3, 'Sum', undefined, { key: 'b' });
    const other = await runStream(peer, 3, { send: payloads(500, 100) });
    assert.is(other.response.decodedMeta.status, Status.OK, other.response.decodedMeta.message);
    assert.is(sumReply(other.response).messages, 500n);
    assert.is(take(peer, 2).length, 0, 'the Chat of key a waits its turn');
    peer.send(FrameType.HALF_CLOSE, 1);
    const first = await runStream(peer, 1);
    assert.is(first.response.decodedMeta.status, Status.OK, first.response.decodedMeta.message);
    assert.is(sumReply(first.response).messages, 3n);
    const second = await runStream(peer, 2);
    assert.is(second.response.decodedMeta.status, Status.OK, second.response.decodedMeta.message);
    assert.equal(
      second.messages.map((f) => payloadOf(f).readUInt32BE(0)),
      [0, 1],
    );
  } finally {
    peer.destroy();
    await actors.close();
  }
});

test.run();
