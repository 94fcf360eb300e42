import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import http2 from 'node:http2';
import * as grpc from '@grpc/grpc-js';
import { createServer, RpcError, Status, type Server, type ServerOptions, type ServiceImplementation } from '../../src/index.js';
import type { Bench as BenchService } from '../../examples/bench/generated.js';
import { Bench as handlers } from '../../examples/bench/handlers.js';
import { Bench } from '../helpers/bench-server.js';
import { grpcCall, grpcClient } from '../helpers/grpc-client.js';
import { frameMessage } from '../helpers/raw-grpc.js';
import { sleep, until } from '../helpers/tcp.js';
import { closeAfterClients } from '../helpers/server-close.js';
import { standardRoot } from '../../src/grpc/standard-protos.js';

const test = suite('grpc streams');

type Impl = ServiceImplementation<typeof BenchService>;
/** A grpc-js client's methods, called by name. */
type AnyClient = Record<string, (...args: unknown[]) => grpc.ClientReadableStream<Record<string, Buffer>> & grpc.ClientWritableStream<object>>;

async function start(impl: Impl = handlers, options: ServerOptions = {}): Promise<{ server: Server; client: AnyClient & grpc.Client }> {
  const server = createServer({ host: '127.0.0.1', port: 0, ...options }).addService(Bench, impl);
  const { port } = await server.listen();
  return { server, client: grpcClient(`127.0.0.1:${port}`) as unknown as AnyClient & grpc.Client };
}

/** What a read stream delivered, and how it ended. */
interface Read {
  replies: Record<string, Buffer>[];
  status: grpc.StatusObject;
}

function readAll(call: grpc.ClientReadableStream<Record<string, Buffer>>, onReply?: (n: number) => void): Promise<Read> {
  const replies: Record<string, Buffer>[] = [];
  return new Promise((resolve) => {
    call.on('data', (r: Record<string, Buffer>) => {
      replies.push(r);
      onReply?.(replies.length);
    });
    call.on('error', () => {});
    call.on('status', (status: grpc.StatusObject) => resolve({ replies, status }));
  });
}

/** A server stream's generator as seen by the server: replies pulled, whether its signal aborted, whether its finally ran. */
function tracked(payloadBytes: number, pace?: () => Promise<void>): { impl: Impl; seen: { yielded: number; aborted: string | undefined; closed: boolean } } {
  const seen = { yielded: 0, aborted: undefined as string | undefined, closed: false };
  const impl: Impl = {
    ...handlers,
    async *stream(request, ctx) {
      ctx.signal.addEventListener('abort', () => (seen.aborted = (ctx.signal.reason as RpcError).code.toString()));
      try {
        for (let n = 0; n < request.count; n++) {
          if (pace !== undefined) await pace();
          seen.yielded++;
          yield { payload: Buffer.alloc(payloadBytes, n & 0xff) };
        }
      } finally {
        seen.closed = true;
      }
    },
  };
  return { impl, seen };
}

test('server, client and bidi streams over gRPC, in order: Stream 10,000 replies, Sum of 500 messages, Chat echoes', async () => {
  const { server, client } = await start();
  const stream = await readAll(client.Stream!({ count: 10_000, payload_bytes: 64 }));
  assert.is(stream.status.code, Status.OK, stream.status.details);
  assert.is(stream.replies.length, 10_000);
  stream.replies.forEach((r, n) => {
    assert.is(r.payload!.length, 64);
    for (const i of [0, 63]) if (r.payload![i] !== ((n + i) & 0xff)) assert.unreachable(`reply ${n} byte ${i}`);
  });

  const hash = createHash('sha256');
  const sum = await new Promise<{ error: grpc.ServiceError | null; reply: Record<string, unknown> }>((resolve) => {
    const call = client.Sum!((error: grpc.ServiceError | null, reply: Record<string, unknown>) => resolve({ error, reply }));
    for (let i = 0; i < 500; i++) {
      const payload = createHash('sha256')
        .update(String(i))
        .digest()
        .subarray(0, 1 + (i % 32));
      hash.update(payload);
      call.write({ payload });
    }
    call.end();
  });
  assert.is(sum.error, null);
  assert.is(Number(sum.reply['messages']), 500);
  assert.ok((sum.reply['digest'] as Buffer).equals(hash.digest()), 'the digest of all payloads in order');

  const chat = client.Chat!();
  const echoed = readAll(chat);
  for (let i = 0; i < 1000; i++) chat.write({ payload: Buffer.from(String(i)) });
  chat.end();
  const chatted = await echoed;
  assert.is(chatted.status.code, Status.OK);
  assert.equal(
    chatted.replies.map((r) => r.payload!.toString()),
    Array.from({ length: 1000 }, (_, i) => String(i)),
  );
  const stats = server.stats();
  for (const m of ['Stream', 'Sum', 'Chat']) assert.is(stats.methods[`bench.v1.Bench/${m}`]!.ok, 1, m);
  assert.is(stats.inflight, 0);
  client.close();
  await closeAfterClients(server);
});

test('a grpc-js reader that pauses holds the generator: it gets no further than HTTP/2 lets it write; all arrive on resume', async () => {
  const PAYLOAD = 1000;
  const COUNT = 5000;
  const { impl, seen } = tracked(PAYLOAD);
  const { server, client } = await start(impl);
  const call = client.Stream!({ count: COUNT, payload_bytes: PAYLOAD });
  // grpc-js reads ahead without bound until its stream is first read: this reader reads three, then stops.
  const read = readAll(call, (n) => n === 3 && call.pause());
  // Wait until the generator stops being pulled (unchanged across a few looks).
  let last = -1;
  let still = 0;
  await until(
    () => {
      still = seen.yielded === last ? still + 1 : 0;
      last = seen.yielded;
      return still >= 5 && seen.yielded > 0;
    },
    10_000,
    'the generator to stop',
  );
  await sleep(200);
  // The client's HTTP/2 window (64 KiB), node's buffers on both sides (16 KiB each) and
  // grpc-js's own (16 messages), in messages of ~1 KB, with generous slack.
  const bound = Math.ceil((65_535 + 4 * 16_384) / (PAYLOAD + 5)) + 16 + 64;
  assert.ok(seen.yielded < bound, `the generator got to ${seen.yielded} replies while the client read none (bound ${bound})`);
  assert.ok(seen.yielded < COUNT);
  call.resume();
  const { replies, status } = await read;
  assert.is(status.code, Status.OK);
  assert.is(replies.length, COUNT);
  assert.ok(replies.every((r, n) => r.payload![0] === (n & 0xff)));
  client.close();
  await closeAfterClients(server);
});

test('call.cancel() mid-stream: the handler signal aborts and the generator finally runs', async () => {
  const { impl, seen } = tracked(100);
  const { server, client } = await start(impl);
  const call = client.Stream!({ count: 1_000_000, payload_bytes: 100 });
  const read = readAll(call, (n) => n === 10 && call.cancel());
  const { status, replies } = await read;
  assert.is(status.code, Status.CANCELLED);
  assert.ok(replies.length >= 10);
  await until(() => seen.closed && seen.aborted !== undefined, 5000, 'the generator closed');
  assert.is(seen.aborted, String(Status.CANCELLED));
  assert.ok(seen.yielded < 1_000_000);
  await until(() => server.stats().inflight === 0, 2000, 'the call to end');
  assert.is(server.stats().methods['bench.v1.Bench/Stream']!.errors['CANCELLED'], 1);
  client.close();
  await closeAfterClients(server);
});

test('the deadline covers the whole stream: DEADLINE_EXCEEDED after the replies sent, the generator closed', async () => {
  const { impl, seen } = tracked(10, () => sleep(10));
  const { server, client } = await start(impl);
  const call = (client.Stream as unknown as (r: object, o: grpc.CallOptions) => grpc.ClientReadableStream<Record<string, Buffer>>)(
    { count: 1_000_000, payload_bytes: 10 },
    { deadline: Date.now() + 400 },
  );
  const { status, replies } = await readAll(call);
  assert.is(status.code, Status.DEADLINE_EXCEEDED);
  assert.ok(replies.length > 0, 'replies came before the deadline');
  await until(() => seen.closed, 5000, 'the generator closed');
  assert.is(seen.aborted, String(Status.DEADLINE_EXCEEDED));
  client.close();
  await closeAfterClients(server);
});

test('a handler error mid-stream: its status, message and metadata as trailers, after the replies sent', async () => {
  const impl: Impl = {
    ...handlers,
    async *stream(_request, ctx) {
      for (let n = 0; n < 5; n++) yield { payload: Buffer.from([n]) };
      ctx.responseMetadata['x-trail'] = 'set by the handler';
      throw new RpcError(Status.FAILED_PRECONDITION, 'gave up after 5', { metadata: { 'x-detail': 'from the error' } });
    },
  };
  const { server, client } = await start(impl);
  const { status, replies } = await readAll(client.Stream!({ count: 10, payload_bytes: 1 }));
  assert.is(replies.length, 5);
  assert.is(status.code, Status.FAILED_PRECONDITION);
  assert.is(status.details, 'gave up after 5');
  assert.equal(status.metadata.get('x-detail'), ['from the error']);
  assert.equal(status.metadata.get('x-trail'), ['set by the handler']);
  client.close();
  await closeAfterClients(server);
});

test('gzip both ways on a bidi stream: compressed requests read, compressed replies written', async () => {
  const server = createServer({ host: '127.0.0.1', port: 0, compression: 'gzip', compressionThresholdBytes: 100 }).addService(Bench, handlers);
  const { port } = await server.listen();
  const client = new (grpcClient(`127.0.0.1:${port}`).constructor as grpc.ServiceClientConstructor)(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), {
    'grpc.default_compression_algorithm': 2, // gzip
  }) as unknown as AnyClient & grpc.Client;
  const chat = client.Chat!();
  const echoed = readAll(chat);
  const payload = (i: number): Buffer => Buffer.alloc(4096, `${i} compresses well `);
  for (let i = 0; i < 200; i++) chat.write({ payload: payload(i) });
  chat.end();
  const { status, replies } = await echoed;
  assert.is(status.code, Status.OK, status.details);
  assert.is(replies.length, 200);
  assert.ok(replies.every((r, i) => r.payload!.equals(payload(i))));
  const stats = server.stats();
  assert.ok(stats.bytesIn < (200 * 4096) / 4, `requests came gzipped (${stats.bytesIn} bytes in)`);
  assert.ok(stats.bytesOut < (200 * 4096) / 4, `replies went gzipped (${stats.bytesOut} bytes out)`);
  client.close();
  await closeAfterClients(server);
});

test('a malformed length prefix mid-stream ends the stream INTERNAL, after the echo of the good message', async () => {
  const { server, client } = await start();
  const { port } = server.address!;
  const session = http2.connect(`http://127.0.0.1:${port}`);
  session.on('error', () => {});
  const echo = Bench.methods.chat.requestType;
  const good = frameMessage(echo.encode({ payload: Buffer.from('ok') }).finish());
  const stream = session.request({ ':method': 'POST', ':path': '/bench.v1.Bench/Chat', 'content-type': 'application/grpc', te: 'trailers' });
  stream.on('error', () => {});
  let data = Buffer.alloc(0);
  let trailers: http2.IncomingHttpHeaders = {};
  stream.on('trailers', (t) => (trailers = t));
  stream.on('data', (d: Buffer) => {
    // The echo of the good message is in: now a prefix whose flag is neither 0 nor 1.
    if (data.length === 0) stream.write(frameMessage(Buffer.from([1, 2, 3]), { flag: 7 }));
    data = Buffer.concat([data, d]);
  });
  stream.write(good);
  await new Promise((resolve) => stream.on('close', resolve));
  assert.is(Number(trailers['grpc-status']), Status.INTERNAL);
  assert.match(decodeURIComponent(String(trailers['grpc-message'])), 'compressed flag');
  assert.ok(data.equals(good), 'the good message was echoed before');
  session.close();
  client.close();
  await closeAfterClients(server);
});

test('flow control on requests: a handler that does not read makes the client wait; 1,000 unary calls on the channel are answered meanwhile', async () => {
  let open!: () => void;
  const gate = new Promise<void>((resolve) => (open = resolve));
  const impl: Impl = {
    ...handlers,
    async sum(requests) {
      await gate;
      return handlers.sum!(requests, undefined as never);
    },
  };
  const { server, client } = await start(impl);
  const hash = createHash('sha256');
  let refused = 0;
  const sum = new Promise<{ error: grpc.ServiceError | null; reply: Record<string, unknown> }>((resolve) => {
    const call = client.Sum!((error: grpc.ServiceError | null, reply: Record<string, unknown>) => resolve({ error, reply }));
    for (let i = 0; i < 2000; i++) {
      const payload = Buffer.alloc(1000, i & 0xff);
      hash.update(payload);
      if (!call.write({ payload })) refused++;
    }
    call.end();
  });
  // A server stream the client does not read, stalled too.
  const stalled = client.Stream!({ count: 100_000, payload_bytes: 1000 });
  stalled.on('data', () => stalled.pause()); // read one, then stop (see the slow reader's test)
  stalled.on('error', () => {});
  await sleep(300);
  const total = 2000 * 1005;
  const held = server.stats().bytesIn;
  // The request window (64 KiB), node's HTTP/2 window and readable buffer (64 + 16 KiB), with slack.
  assert.ok(held < 400_000, `the server took ${held} of ${total} bytes while the handler read none`);
  assert.ok(refused > 0, 'the client was told to wait');
  const answers = await Promise.all(Array.from({ length: 1000 }, (_, i) => grpcCall<{ payload: Buffer }>(client, 'Echo', { payload: Buffer.from(String(i)) })));
  assert.ok(answers.every((a, i) => a.reply?.payload.toString() === String(i)));
  open();
  const { error, reply } = await sum;
  assert.is(error, null);
  assert.is(Number(reply['messages']), 2000);
  assert.ok((reply['digest'] as Buffer).equals(hash.digest()));
  stalled.cancel();
  client.close();
  await closeAfterClients(server);
});

test('Health/Watch: SERVING at once, NOT_SERVING at shutdown, then the stream ends; an unknown service is SERVICE_UNKNOWN and stays open', async () => {
  const root = standardRoot();
  const request = root.lookupType('grpc.health.v1.HealthCheckRequest');
  const response = root.lookupType('grpc.health.v1.HealthCheckResponse');
  const Health = grpc.makeGenericClientConstructor(
    {
      Watch: {
        path: '/grpc.health.v1.Health/Watch',
        requestStream: false,
        responseStream: true,
        requestSerialize: (v: object) => Buffer.from(request.encode(v).finish()),
        requestDeserialize: (b: Buffer) => request.decode(b),
        responseSerialize: (v: object) => Buffer.from(response.encode(v).finish()),
        responseDeserialize: (b: Buffer) => response.toObject(response.decode(b)),
      },
    },
    'Health',
  );
  const { server, client } = await start();
  const health = new Health(`127.0.0.1:${server.address!.port}`, grpc.credentials.createInsecure()) as unknown as AnyClient & grpc.Client;
  const seen: number[] = [];
  const unknown: number[] = [];
  const watch = health.Watch!({ service: 'bench.v1.Bench' });
  const other = health.Watch!({ service: 'no.Such' });
  const ended = readAll(watch, () => seen.push((watch as unknown as { last?: number }).last ?? 0));
  watch.on('data', (r: { status: number }) => (seen[seen.length - 1] = r.status));
  other.on('data', (r: { status: number }) => unknown.push(r.status));
  other.on('error', () => {});
  await until(() => seen.length === 1 && unknown.length === 1, 5000, 'the first statuses');
  assert.equal(seen, [1], 'SERVING');
  assert.equal(unknown, [3], 'SERVICE_UNKNOWN');
  await server.shutdown({ graceMs: 5000 });
  const { status } = await ended;
  assert.equal(seen, [1, 2], 'then NOT_SERVING');
  assert.is(status.code, Status.UNAVAILABLE);
  health.close();
  client.close();
});

test.run();
