import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { gunzipSync, gzipSync } from 'node:zlib';
import { RpcError, Status, type Handler, type Peer } from '../../../src/index.js';
import { Compression } from '../../../src/internal.js';
import { PipelineCall, runCall, type PipelineSettings } from '../../../src/pipeline/call-pipeline.js';
import { Bench } from '../../helpers/bench-server.js';

const test = suite('call pipeline');

type Outcome = { ok: Uint8Array; compression: number } | { error: RpcError } | 'dropped';

/** A call that records how the pipeline ended it, and fails the test if it ends twice. */
class RecordingCall extends PipelineCall {
  readonly definition = Bench.methods.echo;
  readonly service = 'bench.v1.Bench';
  readonly method = 'Echo';
  readonly requestId = 7;
  readonly metadata = {};
  readonly peer: Peer = { address: '127.0.0.1', port: 1 };
  readonly outcomes: Outcome[] = [];
  cancelled = false;
  begun = false;
  private readonly done: Promise<Outcome>;
  private settle!: (o: Outcome) => void;

  constructor(
    readonly handler: Handler,
    readonly deadline = Infinity,
    private readonly isOneway = false,
  ) {
    super();
    this.done = new Promise((resolve) => (this.settle = resolve));
  }

  override get oneway(): boolean {
    return this.isOneway;
  }
  get ended(): boolean {
    return this.cancelled;
  }
  override begin(): boolean {
    this.begun = true;
    return !this.cancelled;
  }
  override drop(): void {
    this.end('dropped');
  }
  replyOk(body: Uint8Array, compression: Compression): void {
    this.end({ ok: body, compression });
  }
  replyError(error: RpcError): void {
    this.end({ error });
  }
  protected watch(): void {}

  /** How the call ended, once the pipeline (and any handler) is done. */
  async outcome(): Promise<Outcome> {
    const first = await this.done;
    await new Promise((r) => setTimeout(r, 5)); // a second answer would arrive by now
    assert.is(this.outcomes.length, 1, 'answered exactly once');
    return first;
  }

  private end(o: Outcome): void {
    this.outcomes.push(o);
    this.settle(o);
  }
}

const echo: Handler = (request: { payload: Uint8Array }) => ({ payload: request.payload });
const body = (payload: Uint8Array): Uint8Array => Bench.methods.echo.requestType.encode({ payload }).finish();
const errorOf = (o: Outcome): RpcError => {
  if (typeof o === 'string' || !('error' in o)) throw new Error(`expected an error, got ${JSON.stringify(o)}`);
  return o.error;
};

for (const zlib of ['async', 'sync'] as const) {
  const settings: PipelineSettings = { maxFrameBytes: 1024 * 1024, compressAboveBytes: 1024, zlib };
  const run = (call: RecordingCall, bytes: Uint8Array, compression: number = Compression.NONE): Promise<Outcome> => {
    runCall(call, bytes, compression, settings);
    return call.outcome();
  };

  test(`${zlib}: a small reply goes uncompressed, a large one gzipped, both decode back`, async () => {
    const small = await run(new RecordingCall(echo), body(Buffer.from('hi')));
    assert.ok(typeof small !== 'string' && 'ok' in small);
    assert.is(small.compression, Compression.NONE);
    assert.equal(Buffer.from(Bench.methods.echo.responseType.decode(small.ok).payload as Uint8Array).toString(), 'hi');

    const payload = Buffer.alloc(4096, 'x');
    const large = await run(new RecordingCall(echo), body(payload));
    assert.ok(typeof large !== 'string' && 'ok' in large);
    assert.is(large.compression, Compression.GZIP);
    assert.equal(Buffer.from(Bench.methods.echo.responseType.decode(gunzipSync(large.ok)).payload as Uint8Array), payload);
  });

  test(`${zlib}: a gzipped request is decompressed; a bomb past the cap and garbage are INVALID_ARGUMENT, the handler never runs`, async () => {
    const ok = await run(new RecordingCall(echo), gzipSync(body(Buffer.from('zipped'))), Compression.GZIP);
    assert.ok(typeof ok !== 'string' && 'ok' in ok);

    const bombCall = new RecordingCall(echo);
    const bomb = errorOf(await run(bombCall, gzipSync(Buffer.alloc(2 * 1024 * 1024)), Compression.GZIP));
    assert.is(bomb.code, Status.INVALID_ARGUMENT);
    assert.match(bomb.message, /exceeds the limit of 1048576 bytes/);
    assert.not.ok(bombCall.begun);

    const garbage = errorOf(await run(new RecordingCall(echo), Buffer.from('not gzip'), Compression.GZIP));
    assert.is(garbage.code, Status.INVALID_ARGUMENT);
    const unknown = errorOf(await run(new RecordingCall(echo), Buffer.from('x'), 9));
    assert.match(unknown.message, /unsupported compression 9/);
  });

  test(`${zlib}: a body that does not decode is INVALID_ARGUMENT naming the message type`, async () => {
    const call = new RecordingCall(echo);
    const err = errorOf(await run(call, Buffer.from([0x0a, 0xff, 0xff, 0xff])));
    assert.is(err.code, Status.INVALID_ARGUMENT);
    assert.match(err.message, /does not decode as bench.v1.EchoRequest/);
    assert.not.ok(call.begun);
  });

  test(`${zlib}: a deadline passed before the handler: DEADLINE_EXCEEDED, not run; an ended call is dropped`, async () => {
    const late = new RecordingCall(echo, Date.now() - 1);
    assert.match(errorOf(await run(late, body(Buffer.from('x')))).message, /Echo not started: its deadline passed while it waited/);
    assert.not.ok(late.begun);

    const gone = new RecordingCall(echo);
    gone.cancelled = true;
    assert.is(await run(gone, gzipSync(body(Buffer.from('x'))), Compression.GZIP), 'dropped');
    assert.not.ok(gone.begun);
  });

  test(`${zlib}: thrown and rejected errors keep their status; a plain Error is UNKNOWN`, async () => {
    const cases: Array<[Handler, Status]> = [
      [
        () => {
          throw new RpcError(Status.NOT_FOUND, 'no such thing');
        },
        Status.NOT_FOUND,
      ],
      [
        async () => {
          throw new RpcError(Status.PERMISSION_DENIED, 'no');
        },
        Status.PERMISSION_DENIED,
      ],
      [
        () => {
          throw new Error('boom');
        },
        Status.UNKNOWN,
      ],
      [() => Promise.reject(Object.assign(new Error('coded'), { code: Status.ABORTED })), Status.ABORTED],
    ];
    for (const [handler, status] of cases) assert.is(errorOf(await run(new RecordingCall(handler), body(Buffer.from('x')))).code, status);
  });

  test(`${zlib}: a reply that is not the method's message is INTERNAL naming the handler`, async () => {
    for (const reply of [null, 'text', { payload: 12 }]) {
      const err = errorOf(await run(new RecordingCall(() => reply), body(Buffer.from('x'))));
      assert.is(err.code, Status.INTERNAL);
      assert.match(err.message, /handler of bench.v1.Bench\/Echo returned a reply that is not a bench.v1.EchoReply/);
    }
  });

  test(`${zlib}: cancelled while its handler ran: dropped, nothing encoded; ONEWAY: the reply is not checked`, async () => {
    const call = new RecordingCall(async () => {
      call.cancelled = true;
      return { payload: 'not even valid' };
    });
    assert.is(await run(call, body(Buffer.from('x'))), 'dropped');

    const oneway = await run(new RecordingCall(() => 'anything', Infinity, true), body(Buffer.from('x')));
    assert.ok(typeof oneway !== 'string' && 'ok' in oneway && oneway.ok.length === 0);
  });
}

test('a call that ends as its handler is about to run is dropped; the handler never runs', async () => {
  let ran = false;
  const call = new RecordingCall(() => {
    ran = true;
    return { payload: new Uint8Array(0) };
  });
  // The worker's begin(): it marks the call begun, then finds its cancel flag set.
  call.begin = function (this: RecordingCall) {
    this.cancelled = true;
    return false;
  };
  runCall(call, body(Buffer.from('x')), Compression.NONE, { maxFrameBytes: 1024, compressAboveBytes: Infinity, zlib: 'sync' });
  assert.is(await call.outcome(), 'dropped');
  assert.not.ok(ran);
});

test.run();
