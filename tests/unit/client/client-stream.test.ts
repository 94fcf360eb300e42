import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { RpcError, Status, createClient, type ClientOptions } from '../../../src/index.js';
import { Bench } from '../../helpers/bench-server.js';
import { ScriptedPeer, type PeerCall } from '../../helpers/stream-peer.js';
import { FrameType, encodeFrame, encodeMeta } from '../../../src/internal.js';

const test = suite('client-stream');

const ReplyType = Bench.methods.stream.responseType;
const RequestType = Bench.methods.sum.requestType;
const StreamRequestType = Bench.methods.stream.requestType;
const SumReplyType = Bench.methods.sum.responseType;

/** An EchoReply whose payload is `n` as text (and `pad` bytes more). */
function reply(n: number, pad = 0): Uint8Array {
  return ReplyType.encode({ payload: Buffer.concat([Buffer.from(String(n)), Buffer.alloc(pad)]) }).finish();
}

function numberOf(r: unknown): number {
  return Number((r as { payload: Buffer }).payload.toString().replace(/\0+$/, ''));
}

/** Answers a unary Echo with its payload, and leaves streams to `streams`. */
function script(streams: (call: PeerCall) => void): (call: PeerCall) => void {
  return (call) => {
    if (call.meta.method === 'Echo') call.respond({}, call.body);
    else streams(call);
  };
}

async function withPeer(
  onStream: (call: PeerCall) => void,
  run: (peer: ScriptedPeer, client: ReturnType<typeof benchClientOf>) => Promise<void>,
  options?: ClientOptions,
): Promise<void> {
  const peer = await ScriptedPeer.start(script(onStream));
  const client = benchClientOf(peer.address, options);
  try {
    await run(peer, client);
  } finally {
    await client.$close();
    await peer.close();
  }
}

function benchClientOf(address: string, options?: ClientOptions) {
  return createClient(Bench, address, { retry: false, ...options });
}

async function expectError(p: Promise<unknown>): Promise<RpcError> {
  try {
    await p;
  } catch (err) {
    assert.instance(err, RpcError);
    return err as RpcError;
  }
  throw new Error('expected a rejection');
}

/** Reads every reply of a stream, then its end: the replies and the error, if any. */
async function drain(stream: AsyncIterable<unknown>): Promise<{ replies: number[]; error: RpcError | undefined }> {
  const replies: number[] = [];
  try {
    for await (const r of stream) replies.push(numberOf(r));
  } catch (err) {
    assert.instance(err, RpcError);
    return { replies, error: err as RpcError };
  }
  return { replies, error: undefined };
}

test('server stream: the REQUEST carries the request and the window; replies come in order; trailing metadata on OK, after the last reply', async () => {
  await withPeer(
    (call) => {
      for (let i = 0; i < 50; i++) call.message(reply(i));
      call.respond({ metadata: { trailer: 'yes' } });
    },
    async (peer, client) => {
      let trailer: Record<string, string> | undefined;
      let repliesReadWhenTold = -1;
      const replies: number[] = [];
      const stream = client.stream(
        { count: 7 },
        {
          window: 4096,
          onMetadata: (m) => {
            trailer = { ...m };
            repliesReadWhenTold = replies.length;
          },
        },
      );
      for await (const r of stream) {
        replies.push(numberOf(r));
        if (replies.length === 1) await new Promise((resolve) => setTimeout(resolve, 50)); // the RESPONSE is in by now
      }
      assert.equal(
        replies,
        Array.from({ length: 50 }, (_, i) => i),
      );
      assert.equal(trailer, { trailer: 'yes' });
      assert.is(repliesReadWhenTold, 50, 'the trailing metadata is told after the last reply was read');
      const call = peer.calls[0]!;
      assert.is(call.meta.method, 'Stream');
      assert.is(call.meta.window, 4096);
      assert.is((StreamRequestType.decode(call.body) as unknown as { count: number }).count, 7);
    },
  );
});

test('server stream: credit is granted only as the consumer reads, half a window at a time', async () => {
  const window = 1000;
  let call: PeerCall | undefined;
  await withPeer(
    (c) => {
      call = c;
      // Obeys flow control: sends while it holds credit.
      while (c.sendable > 0) c.message(reply(c.messages.length, 80));
    },
    async (peer, client) => {
      const stream = client.stream({ count: 1 }, { window });
      await peer.until(() => call !== undefined, 'the REQUEST');
      const c = call!;
      // The consumer reads nothing: after a round trip the client has read everything sent, and granted nothing.
      await peer.roundTrip(c.socket);
      assert.is(c.credited, 0, 'no CREDIT while nothing is read');
      assert.ok(c.sendable <= 0, 'the peer spent its window');
      const it = stream[Symbol.asyncIterator]();
      let readBytes = 0;
      const frameBytes = 16 + reply(0, 80).length;
      // Read one reply short of half the window: still no CREDIT.
      while ((readBytes + frameBytes) * 2 < window) {
        const r = await it.next();
        assert.is(r.done, false);
        readBytes += frameBytes;
      }
      await peer.roundTrip(c.socket);
      assert.is(c.credited, 0, 'no CREDIT before half the window was read');
      await it.next();
      readBytes += frameBytes;
      await peer.until(() => c.credits === 1, 'the first CREDIT');
      assert.is(c.credited, readBytes, 'the CREDIT grants the bytes read');
      c.respond();
      await it.return!();
    },
  );
});

test('client stream: the producer waits while the peer grants no credit, and resumes on CREDIT', async () => {
  let call: PeerCall | undefined;
  let pulled = 0;
  const total = 200;
  function* requests() {
    for (let i = 0; i < total; i++) {
      pulled++;
      yield { payload: Buffer.alloc(1000, i) };
    }
  }
  await withPeer(
    (c) => {
      call = c;
    },
    async (peer, client) => {
      const result = client.sum(requests());
      const frameBytes = 16 + RequestType.encode({ payload: Buffer.alloc(1000) }).finish().length;
      const fits = Math.ceil(65_536 / frameBytes);
      await peer.until(() => (call?.messages.length ?? 0) >= fits, 'the first window of MESSAGEs');
      const c = call!;
      await peer.roundTrip(c.socket);
      assert.is(c.messages.length, fits, 'exactly the window was sent');
      assert.is(pulled, fits, 'the source was not pulled beyond the credit');
      assert.is(c.meta.window, 65_536);
      assert.is(c.body.length, 0, "a client stream's REQUEST body is empty");
      // A CREDIT of 5,000 bytes: the overdraft first, then a few more messages.
      const credit = 65_536 - fits * frameBytes + 5000;
      c.credit(5000);
      const more = Math.ceil(credit / frameBytes);
      await peer.until(() => c.messages.length >= fits + more, 'MESSAGEs after the CREDIT');
      await peer.roundTrip(c.socket);
      assert.is(c.messages.length, fits + more);
      assert.is(pulled, fits + more);
      assert.is(c.halfClosed, false);
      c.credit(1_000_000);
      await peer.until(() => c.halfClosed, 'HALF_CLOSE');
      assert.is(c.messages.length, total);
      assert.is(RequestType.decode(c.messages[total - 1]!).toJSON().payload, Buffer.alloc(1000, total - 1).toString('base64'));
      c.respond({}, SumReplyType.encode({ messages: total }).finish());
      const reply = (await result) as { messages: bigint };
      assert.is(reply.messages, BigInt(total));
    },
  );
});

test('breaking out of for await sends CANCEL', async () => {
  let call: PeerCall | undefined;
  await withPeer(
    (c) => {
      call = c;
      for (let i = 0; i < 5; i++) c.message(reply(i));
    },
    async (peer, client) => {
      for await (const r of client.stream({})) {
        assert.is(numberOf(r), 0);
        break;
      }
      await peer.until(() => call?.cancel !== undefined, 'the CANCEL');
      assert.is(call!.cancel!.status, 0, 'a CANCEL by the caller carries no status');
      // The connection is still good.
      const echoed = await client.echo({ payload: Buffer.from('ok') });
      assert.is(echoed.payload.toString(), 'ok');
    },
  );
});

test('cancel() ends an iteration under way CANCELLED and sends CANCEL', async () => {
  let call: PeerCall | undefined;
  await withPeer(
    (c) => (call = c),
    async (peer, client) => {
      const stream = client.chat([{ payload: Buffer.from('a') }]);
      const it = stream[Symbol.asyncIterator]();
      const next = it.next();
      await peer.until(() => call?.halfClosed === true, 'HALF_CLOSE');
      stream.cancel();
      const error = await expectError(next);
      assert.is(error.code, Status.CANCELLED);
      await peer.until(() => call?.cancel !== undefined, 'the CANCEL');
    },
  );
});

test('signal: CANCEL to the server, and the stream ends CANCELLED', async () => {
  let call: PeerCall | undefined;
  await withPeer(
    (c) => {
      call ??= c;
      if (c.meta.method === 'Stream') c.message(reply(1));
    },
    async (peer, client) => {
      const controller = new AbortController();
      const replies: number[] = [];
      const done = (async () => {
        for await (const r of client.stream({}, { signal: controller.signal })) {
          replies.push(numberOf(r));
          controller.abort();
        }
      })();
      const error = await expectError(done);
      assert.is(error.code, Status.CANCELLED);
      assert.equal(replies, [1]);
      await peer.until(() => call?.cancel !== undefined, 'the CANCEL');
      // A client stream aborted while it waits for credit ends the same way.
      const aborting = new AbortController();
      let pulled = 0;
      const sum = client.sum(
        (function* () {
          for (;;) {
            pulled++;
            yield { payload: Buffer.alloc(70_000) };
          }
        })(),
        { signal: aborting.signal },
      );
      await peer.until(() => peer.calls[1]?.messages.length === 1, 'the first MESSAGE');
      aborting.abort();
      assert.is((await expectError(sum)).code, Status.CANCELLED);
      await peer.until(() => peer.calls[1]?.cancel !== undefined, 'the CANCEL of the client stream');
      assert.is(pulled, 1, 'one request of 70,000 bytes spends the credit');
    },
  );
});

test('deadline: DEADLINE_EXCEEDED, and a CANCEL whose meta says so', async () => {
  let call: PeerCall | undefined;
  await withPeer(
    (c) => {
      call = c;
      c.message(reply(1));
    },
    async (peer, client) => {
      const { replies, error } = await drain(client.stream({}, { timeoutMs: 200 }));
      assert.equal(replies, [1], 'the reply before the deadline was delivered');
      assert.is(error?.code, Status.DEADLINE_EXCEEDED);
      await peer.until(() => call?.cancel !== undefined, 'the CANCEL');
      assert.is(call!.cancel!.status, Status.DEADLINE_EXCEEDED);
      assert.ok(call!.meta.timeoutMs > 0 && call!.meta.timeoutMs <= 200, 'the REQUEST carries the deadline');
    },
  );
});

test('an error RESPONSE mid-stream rejects with its status, message and metadata after the replies before it', async () => {
  await withPeer(
    (c) => {
      for (let i = 0; i < 3; i++) c.message(reply(i));
      c.respond({ status: Status.FAILED_PRECONDITION, message: 'nope', metadata: { why: 'because' } });
    },
    async (peer, client) => {
      const { replies, error } = await drain(client.stream({}));
      assert.equal(replies, [0, 1, 2]);
      assert.is(error?.code, Status.FAILED_PRECONDITION);
      assert.is(error?.rawMessage, 'nope');
      assert.is(error?.metadata.why, 'because');
      assert.is(error?.service, 'bench.v1.Bench');
      assert.is(error?.method, 'Stream');
      assert.is(error?.address, peer.address);
    },
  );
});

test('the peer dying mid-stream: UNAVAILABLE after the replies before it', async () => {
  let peerRef: ScriptedPeer | undefined;
  await withPeer(
    (c) => {
      if (c.meta.method === 'Stream') {
        c.message(reply(0));
        c.message(reply(1));
      }
      setImmediate(() => peerRef!.kill());
    },
    async (peer, client) => {
      peerRef = peer;
      const { replies, error } = await drain(client.stream({}));
      assert.equal(replies, [0, 1]);
      assert.is(error?.code, Status.UNAVAILABLE);
      // A client stream too.
      const sum = client.sum([{ payload: Buffer.from('x') }]);
      assert.is((await expectError(sum)).code, Status.UNAVAILABLE);
    },
  );
});

/** Sends GOAWAY on `call`'s connection saying nothing above `lastRequestId` ran (a server shutting down, spec §GOAWAY). */
function goAway(call: PeerCall, lastRequestId: number): void {
  call.socket.write(encodeFrame(FrameType.GOAWAY, 0, encodeMeta({ status: Status.UNAVAILABLE, message: 'restarting', lastRequestId }), Buffer.alloc(0)));
}

test('a server stream a GOAWAY says never ran is sent again to another instance, transparently; its attempts are told', async () => {
  const going = await ScriptedPeer.start(script((c) => goAway(c, c.id - 1)));
  const serving = await ScriptedPeer.start(
    script((c) => {
      for (let n = 0; n < 3; n++) c.message(reply(n));
      c.respond();
    }),
  );
  const attempts: string[] = [];
  const client = createClient(Bench, [going.address, serving.address], {
    retry: false,
    loadBalancer: 'round_robin',
    interceptors: [
      (call, next) => {
        call.onAttempt = (a) => {
          attempts.push(`${a.attempt}@${a.port}`);
          return undefined;
        };
        return next();
      },
    ],
  });
  try {
    for (let i = 0; i < 4; i++) {
      const { replies, error } = await drain(client.stream({}));
      assert.is(error, undefined, `stream ${i}: ${error?.message}`);
      assert.equal(replies, [0, 1, 2]);
    }
    assert.ok(going.calls.length >= 1, 'a stream went to the instance that went away first');
    assert.is(serving.calls.length, 4);
    assert.ok(attempts.includes(`1@${going.port}`) && attempts.includes(`2@${serving.port}`), attempts.join(' '));
  } finally {
    await client.$close();
    await going.close();
    await serving.close();
  }
});

test('a stream that already had a reply is not sent again, whatever a GOAWAY then claims: UNAVAILABLE after that reply', async () => {
  await withPeer(
    (c) => {
      c.message(reply(7));
      setImmediate(() => goAway(c, c.id - 1));
    },
    async (_peer, client) => {
      const { replies, error } = await drain(client.stream({}));
      assert.equal(replies, [7]);
      assert.is(error?.code, Status.UNAVAILABLE);
      assert.is(error?.notRun, 'goaway');
    },
  );
});

test('a client stream the server granted credit is not sent again after a GOAWAY: UNAVAILABLE, the source closed', async () => {
  let closed = false;
  await withPeer(
    (c) => {
      c.credit(1000); // it runs the stream
      c.onMessage = () => goAway(c, c.id - 1); // and then lies that it never did
    },
    async (peer, client) => {
      async function* source() {
        try {
          for (let n = 0; n < 100; n++) {
            yield { payload: Buffer.from(String(n)) };
            await new Promise((r) => setTimeout(r, 5));
          }
        } finally {
          closed = true;
        }
      }
      const error = await expectError(client.sum(source()));
      assert.is(error.code, Status.UNAVAILABLE);
      await peer.until(() => closed, 'the request source to close');
      assert.is(peer.calls.length, 1, 'sent once');
    },
  );
});

test('a client stream a GOAWAY says never ran goes to another instance with every request it had sent, in order', async () => {
  const going = await ScriptedPeer.start(
    script((c) => {
      c.onMessage = () => {
        if (c.messages.length === 2) goAway(c, c.id - 1);
      };
    }),
  );
  const serving = await ScriptedPeer.start(
    script((c) => {
      c.onHalfClose = () =>
        c.respond(
          {},
          SumReplyType.encode({
            messages: c.messages.length,
            bytes: 0,
            digest: Buffer.concat(c.messages.map((m) => RequestType.decode(m).payload as Buffer)),
          }).finish(),
        );
    }),
  );
  const client = createClient(Bench, [going.address, serving.address], { retry: false, loadBalancer: 'round_robin' });
  try {
    for (let i = 0; i < 4; i++) {
      async function* source() {
        for (const p of ['a', 'b', 'c', 'd']) {
          yield { payload: Buffer.from(p) };
          await new Promise((r) => setTimeout(r, 2));
        }
      }
      const got = await client.sum(source());
      assert.is(Number(got.messages), 4, `sum ${i}`);
      assert.is(Buffer.from(got.digest).toString(), 'abcd', `sum ${i}: every request, in order`);
    }
    assert.ok(going.calls.length >= 1, 'a stream went to the instance that went away first');
    assert.is(serving.calls.length, 4);
  } finally {
    await client.$close();
    await going.close();
    await serving.close();
  }
});

test('a stream this side ends (a request too large to send) is never sent again, though its error says "unsent": RESOURCE_EXHAUSTED, one instance', async () => {
  const a = await ScriptedPeer.start(script(() => {}));
  const b = await ScriptedPeer.start(script(() => {}));
  const client = createClient(Bench, [a.address, b.address], { retry: false, loadBalancer: 'round_robin', maxFrameBytes: 4096 });
  try {
    async function* source() {
      yield { payload: Buffer.alloc(10) };
      yield { payload: Buffer.alloc(10_000) }; // over maxFrameBytes: refused before it is sent
    }
    const error = await expectError(client.sum(source(), { timeoutMs: 5000 }));
    assert.is(error.code, Status.RESOURCE_EXHAUSTED, error.message);
    await a.until(() => a.calls.length + b.calls.length >= 1, 'the stream to arrive');
    await new Promise((r) => setTimeout(r, 100)); // time for a resend to arrive, were there one
    assert.is(a.calls.length + b.calls.length, 1, 'sent to one instance only');
  } finally {
    await client.$close();
    await a.close();
    await b.close();
  }
});

test('a client stream whose first instance refuses connections goes to the next, with the requests it had sent', async () => {
  const dead = await ScriptedPeer.start(() => {});
  const deadAddress = dead.address;
  await dead.close(); // nothing listens there now: connect is refused
  const serving = await ScriptedPeer.start(
    script((c) => {
      c.onHalfClose = () => c.respond({}, SumReplyType.encode({ messages: c.messages.length, bytes: 0, digest: Buffer.alloc(0) }).finish());
    }),
  );
  const client = createClient(Bench, [deadAddress, serving.address], { retry: false, loadBalancer: 'round_robin' });
  try {
    for (let i = 0; i < 4; i++) {
      const got = (await client.sum([{ payload: Buffer.from('x') }, { payload: Buffer.from('y') }])) as { messages: bigint };
      assert.is(Number(got.messages), 2, `sum ${i}`);
    }
    assert.is(serving.calls.length, 4);
  } finally {
    await client.$close();
    await serving.close();
  }
});

test('a peer that sends beyond the window fails that stream INTERNAL (with a CANCEL); the connection and its other calls are fine', async () => {
  const liar: PeerCall[] = [];
  await withPeer(
    (c) => {
      liar.push(c);
      for (let i = 0; i < 10; i++) c.message(reply(i, 200)); // a window of 500 bytes holds 3 of them
    },
    async (peer, client) => {
      const other = client.echo({ payload: Buffer.from('before') });
      const { error } = await drain(client.stream({}, { window: 500 }));
      assert.is(error?.code, Status.INTERNAL);
      assert.match(error!.message, /no credit left/);
      await peer.until(() => liar[0]?.cancel !== undefined, 'the CANCEL');
      assert.is((await other).payload.toString(), 'before');
      assert.is((await client.echo({ payload: Buffer.from('after') })).payload.toString(), 'after');
      assert.is(peer.sockets.size, 1, 'one connection, still open');
    },
  );
});

test('MESSAGE and CREDIT for a stream the client does not have are ignored', async () => {
  await withPeer(
    () => {},
    async (peer, client) => {
      assert.is((await client.echo({ payload: Buffer.from('1') })).payload.toString(), '1');
      const socket = [...peer.sockets][0]!;
      const echo = peer.calls[0]!;
      echo.message(reply(1)); // the Echo call is answered: its id is no longer in flight
      echo.credit(10);
      await peer.roundTrip(socket);
      assert.is((await client.echo({ payload: Buffer.from('2') })).payload.toString(), '2');
      assert.is(peer.sockets.size, 1);
    },
  );
});

test('an undecodable MESSAGE fails the stream INTERNAL and cancels it', async () => {
  let call: PeerCall | undefined;
  await withPeer(
    (c) => {
      call = c;
      c.message(reply(0));
      c.message(Buffer.from([0x0a, 0xff])); // a length-delimited field cut short
    },
    async (peer, client) => {
      const { replies, error } = await drain(client.stream({}));
      assert.equal(replies, [0]);
      assert.is(error?.code, Status.INTERNAL);
      assert.match(error!.message, /does not decode as bench\.v1\.EchoReply/);
      await peer.until(() => call?.cancel !== undefined, 'the CANCEL');
    },
  );
});

test('a source that throws cancels the stream and rejects with its error', async () => {
  let call: PeerCall | undefined;
  await withPeer(
    (c) => (call = c),
    async (peer, client) => {
      const error = await expectError(
        client.sum(
          (function* () {
            yield { payload: Buffer.from('a') };
            throw new Error('source broke');
          })(),
        ),
      );
      assert.is(error.code, Status.CANCELLED);
      assert.match(error.message, /source broke/);
      await peer.until(() => call?.cancel !== undefined, 'the CANCEL');
      assert.is(call!.halfClosed, false);
    },
  );
});

test('a request that is not a request message: INVALID_ARGUMENT naming the method, and CANCEL', async () => {
  let call: PeerCall | undefined;
  await withPeer(
    (c) => (call = c),
    async (peer, client) => {
      const error = await expectError(client.sum([{ payload: Buffer.from('a') }, { payload: 42 } as never]));
      assert.is(error.code, Status.INVALID_ARGUMENT);
      assert.match(error.message, /bench\.v1\.Bench\/Sum/);
      await peer.until(() => call?.cancel !== undefined, 'the CANCEL');
      const bad = await drain(client.stream({ count: 'x' } as never));
      assert.is(bad.error?.code, Status.INVALID_ARGUMENT);
      assert.is(peer.calls.length, 1, 'a bad server-stream request is not sent');
      assert.is((await expectError(client.sum(42 as never))).code, Status.INVALID_ARGUMENT);
    },
  );
});

test('bidi: requests out as MESSAGEs, replies in, HALF_CLOSE after the last', async () => {
  await withPeer(
    (c) => {
      c.onMessage = (body) => c.message(ReplyType.encode({ payload: (RequestType.decode(body) as unknown as { payload: Buffer }).payload }).finish());
      c.onHalfClose = () => c.respond();
    },
    async (peer, client) => {
      const { replies, error } = await drain(client.chat([{ payload: Buffer.from('7') }, { payload: Buffer.from('8') }, { payload: Buffer.from('9') }]));
      assert.is(error, undefined);
      assert.equal(replies, [7, 8, 9]);
      assert.is(peer.calls[0]!.body.length, 0);
    },
  );
});

test('1,000 unary calls interleaved with a stream on one connection', async () => {
  let streamCall: PeerCall | undefined;
  await withPeer(
    (c) => {
      streamCall = c;
    },
    async (peer, client) => {
      const stream = client.stream({});
      await peer.until(() => streamCall !== undefined, 'the stream');
      const c = streamCall!;
      const replies: number[] = [];
      const reading = (async () => {
        for await (const r of stream) replies.push(numberOf(r));
      })();
      const unary: Array<Promise<{ payload: Uint8Array }>> = [];
      for (let i = 0; i < 1000; i++) {
        unary.push(client.echo({ payload: Buffer.from(String(i)) }));
        if (i % 2 === 0) c.message(reply(i / 2));
      }
      c.respond();
      const answers = await Promise.all(unary);
      for (const [i, a] of answers.entries()) assert.is(Buffer.from(a.payload).toString(), String(i));
      await reading;
      assert.equal(
        replies,
        Array.from({ length: 500 }, (_, i) => i),
      );
      assert.is(peer.sockets.size, 1);
      assert.is(new Set(peer.calls.map((call) => call.socket)).size, 1, 'one connection carried them all');
    },
  );
});

test('interceptors: metadata set for a stream reaches its REQUEST; a refusal fails it before anything is sent', async () => {
  await withPeer(
    (c) => c.respond({}, SumReplyType.encode({ messages: 0 }).finish()),
    async (peer) => {
      const client = benchClientOf(peer.address, {
        interceptors: [
          async (call, next) => {
            if (call.metadata.refuse) throw new RpcError(Status.PERMISSION_DENIED, 'refused');
            call.metadata.seen = call.method;
            return next();
          },
        ],
      });
      try {
        const { error } = await drain(client.stream({}, { metadata: { refuse: '1' } }));
        assert.is(error?.code, Status.PERMISSION_DENIED);
        assert.is(peer.calls.length, 0);
        await drain(client.stream({}));
        assert.is(peer.calls[0]!.meta.metadata.seen, 'Stream');
        await client.sum([]);
        assert.is(peer.calls[1]!.meta.metadata.seen, 'Sum');
      } finally {
        await client.$close();
      }
    },
  );
});

test("a registry's first list: a client stream waits for it, then sends its requests", async () => {
  let call: PeerCall | undefined;
  await withPeer(
    (c) => {
      call = c;
      c.onHalfClose = () => c.respond({}, SumReplyType.encode({ messages: c.messages.length }).finish());
    },
    async (peer) => {
      let deliver: ((list: Array<{ service: string; host: string; port: number; weight: number; metadata: Record<string, string> }>) => void) | undefined;
      const registry = {
        uri: 'scripted://registry',
        register: async () => {},
        deregister: async () => {},
        watch: (_service: string, listener: typeof deliver) => {
          deliver = listener;
          return () => {};
        },
        close: async () => {},
      };
      const client = createClient(Bench, registry as never, { retry: false });
      try {
        const sum = client.sum([{ payload: Buffer.from('a') }, { payload: Buffer.from('b') }]);
        await new Promise((resolve) => setImmediate(resolve));
        assert.is(peer.calls.length, 0, 'nothing sent before the list');
        deliver!([{ service: 'bench.v1.Bench', host: '127.0.0.1', port: peer.port, weight: 1, metadata: {} }]);
        const reply = (await sum) as { messages: bigint };
        assert.is(reply.messages, 2n);
        assert.is(call!.messages.length, 2);
      } finally {
        await client.$close();
      }
    },
  );
});

test('options: streamWindowBytes and window are validated; the default window is 65,536', async () => {
  assert.throws(() => benchClientOf('127.0.0.1:1', { streamWindowBytes: 0 }), /options\.streamWindowBytes must be an integer from 1 to 2147483647/);
  assert.throws(() => benchClientOf('127.0.0.1:1', { streamWindowBytes: 2 ** 31 }), /streamWindowBytes/);
  await withPeer(
    (c) => c.respond(),
    async (peer, client) => {
      assert.is((await drain(client.stream({}, { window: -1 }))).error?.code, Status.INVALID_ARGUMENT);
      await drain(client.stream({}));
      assert.is(peer.calls[0]!.meta.window, 65_536);
    },
  );
});

test.run();
