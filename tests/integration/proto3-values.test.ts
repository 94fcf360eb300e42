import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createClient, createServer, type Client, type Server } from '../../src/index.js';
import { Values, type AllKinds, type Report } from '../fixtures/protos/values/v1/generated.js';
import { Values as handlers, shapes } from '../fixtures/values-handlers.js';
import { Bench, benchClient } from '../helpers/bench-server.js';
import { Bench as laneHandlers } from '../fixtures/lane-handlers.js';

const test = suite('proto3 values');

// `Inline` runs on the main thread, `OnWorker` in a worker thread: one decodes from a
// Buffer, the other from a plain Uint8Array view of the batch.
let server: Server;
let client: Client<typeof Values>;

test.before(async () => {
  server = createServer({ host: '127.0.0.1', port: 0, workers: 1 }).addService(Values, handlers, {
    lanes: { inline: 'inline', onWorker: 'worker', stamp: 'inline' },
    workerModule: 'tests/fixtures/values-handlers.ts',
  });
  const { port } = await server.listen();
  client = createClient(Values, `127.0.0.1:${port}`);
});

test.after(async () => {
  await client.$close();
  await server.close();
});

const FULL = {
  scalars: {
    fDouble: 1.5,
    fFloat: 0.5,
    fInt32: -1,
    fInt64: -9_223_372_036_854_775_808n,
    fUint32: 1,
    fUint64: 18_446_744_073_709_551_615n,
    fSint32: -2,
    fSint64: -3n,
    fFixed32: 4,
    fFixed64: 5n,
    fSfixed32: -6,
    fSfixed64: -7n,
    fBool: true,
    fString: 's',
    fBytes: Buffer.from([1, 2]),
    fEnum: -1,
    fMessage: { name: 'n', id: 8n },
  },
  repeateds: { rInt64: [1n, -1n], rBytes: [Buffer.from([3]), Buffer.alloc(0)], rMessage: [{ id: 9n }], rUint64: [2n ** 64n - 1n] },
  maps: {
    stringByInt64: { '-1': 'a', '9223372036854775807': 'b' },
    int64ByString: { k: 10n },
    uint64ByUint64: { '18446744073709551615': 1n },
    bytesByString: { b: Buffer.from([4]) },
  },
  oneofs: { cInt64: 11n, maybeInt64: 0n, maybeBytes: Buffer.alloc(0) },
  wellKnown: {
    at: { seconds: 1_700_000_000n, nanos: 1 },
    took: { seconds: -1n, nanos: -2 },
    note: { value: 'v' },
    count: { value: 12n },
    blob: { value: Buffer.from([5]) },
    nothing: {},
  },
} satisfies Parameters<Client<typeof Values>['inline']>[0];

const EXPECTED_FULL = [
  'scalars: message',
  'scalars.fInt64: bigint',
  'scalars.fUint64: bigint',
  'scalars.fSfixed64: bigint',
  'scalars.fBytes: Buffer',
  'scalars.fMessage: message',
  'scalars.fMessage.id: bigint',
  'repeateds.rInt64: bigint[]',
  'repeateds.rBytes: Buffer[]',
  'repeateds.rUint64: bigint[]',
  'repeateds.rDouble: empty[]',
  'maps.stringByInt64: {-1,9223372036854775807: string}',
  'maps.int64ByString: {k: bigint}',
  'maps.uint64ByUint64: {18446744073709551615: bigint}',
  'maps.bytesByString: {b: Buffer}',
  'maps.byString: {: }',
  'oneofs.cInt64: bigint',
  'oneofs.cString: absent',
  'oneofs.cMessage: absent',
  'oneofs.choice = cInt64',
  'oneofs.maybeInt64: bigint',
  'oneofs.maybeBytes: Buffer',
  'oneofs.maybeInt32: absent',
  'wellKnown.at.seconds: bigint',
  'wellKnown.took.seconds: bigint',
  'wellKnown.count.value: bigint',
  'wellKnown.blob.value: Buffer',
  'wellKnown.nothing: message',
  'wellKnown.ratio: absent',
];

const EXPECTED_EMPTY = [
  'scalars: message',
  'scalars.fInt64: bigint',
  'scalars.fBytes: Buffer',
  'scalars.fString: string',
  'scalars.fMessage: absent',
  'repeateds: absent',
  'maps: absent',
  'oneofs.cString: absent',
  'oneofs.choice = undefined',
  'oneofs.maybeInt32: absent',
  'wellKnown: absent',
];

function check(lines: readonly string[], expected: readonly string[], where: string): void {
  for (const line of expected) assert.ok(lines.includes(line), `${where}: missing "${line}" in\n${lines.join('\n')}`);
}

for (const method of ['inline', 'onWorker'] as const) {
  test(`${method}: the handler and the client see every value with its generated type`, async () => {
    const reply: Report = await client[method](FULL);
    check(reply.shapes, EXPECTED_FULL, `${method} handler`);
    const echo: AllKinds = reply.echo!;
    check(shapes(Values.methods.inline.requestType, echo as unknown as Record<string, unknown>), EXPECTED_FULL, `${method} client`);
    assert.is(echo.scalars!.fUint64 satisfies bigint, 18_446_744_073_709_551_615n);
    assert.is(echo.oneofs!.choice, 'cInt64');
    assert.is(echo.maps!.stringByInt64['9223372036854775807'], 'b');
    // What the client sent and what came back encode to the same bytes.
    const type = Values.methods.inline.requestType;
    assert.ok(Buffer.from(type.encode(echo).finish()).equals(Buffer.from(type.encode(FULL).finish())));
  });

  test(`${method}: unset fields arrive as defaults of their type, or absent`, async () => {
    const reply = await client[method]({ scalars: {}, oneofs: {} });
    check(reply.shapes, EXPECTED_EMPTY, `${method} handler`);
    check(shapes(Values.methods.inline.requestType, reply.echo! as unknown as Record<string, unknown>), EXPECTED_EMPTY, `${method} client`);
  });
}

test('a well-known type as a whole reply: Timestamp seconds are a bigint', async () => {
  const stamp = await client.stamp({});
  assert.is(stamp.seconds, 1_700_000_000n);
  assert.is(stamp.nanos, 123);
});

for (const lane of ['inline', 'worker'] as const) {
  test(`${lane} lane: Work with an empty payload answers (it failed UNKNOWN: "Received an instance of Array"), and the client gets Buffers`, async () => {
    const bench = createServer({ host: '127.0.0.1', port: 0, workers: 1 }).addService(Bench, laneHandlers, {
      lanes: { work: lane, echo: lane },
      workerModule: 'tests/fixtures/lane-handlers.ts',
    });
    const { port } = await bench.listen();
    const c = benchClient(`127.0.0.1:${port}`);
    try {
      const work = await c.work({ rounds: 2 });
      assert.ok(Buffer.isBuffer(work.digest) && work.digest.length === 32);
      const echo = await c.echo({});
      assert.ok(Buffer.isBuffer(echo.payload), 'an absent payload reaches the client as a Buffer');
      assert.is(echo.payload.length, 0);
    } finally {
      await c.$close();
      await bench.close();
    }
  });
}

test.run();
