import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  bearerAuth,
  bearerToken,
  createServer,
  RpcError,
  Status,
  tokensFromFile,
  type ClientInterceptor,
  type Lane,
  type ServerInterceptor,
  type ServerOptions,
} from '../../src/index.js';
import { Bench, benchClient } from '../helpers/bench-server.js';
import { Bench as laneHandlers } from '../fixtures/lane-handlers.js';

const test = suite('interceptors');
const MODULE = 'tests/fixtures/lane-handlers.ts';
const pem = (name: string) => readFileSync(new URL(`../fixtures/tls/${name}.pem`, import.meta.url));

async function start(options: ServerOptions = {}, lanes: Record<string, Lane> = { echo: 'worker' }, serviceInterceptors: ServerInterceptor[] = []) {
  const server = createServer({ host: '127.0.0.1', port: 0, workers: 1, ...options }).addService(Bench, laneHandlers, {
    lanes,
    workerModule: MODULE,
    interceptors: serviceInterceptors,
  });
  const { port } = await server.listen();
  return { server, address: `127.0.0.1:${port}`, port };
}

const failure = (p: Promise<unknown>): Promise<RpcError> =>
  p.then(
    () => {
      throw new Error('expected the call to fail');
    },
    (e: unknown) => e as RpcError,
  );

/** Calls Echo with x-action whoami and returns what the handler saw. */
async function whoami(client: ReturnType<typeof benchClient>, metadata: Record<string, string> = {}) {
  let seen: Readonly<Record<string, string>> = {};
  await client.echo({}, { key: 'who', metadata: { 'x-action': 'whoami', ...metadata }, onMetadata: (m) => (seen = m) });
  return { identity: JSON.parse(seen['identity']!) as unknown, cn: seen['cert-cn'], metadata: JSON.parse(seen['metadata']!) as Record<string, string> };
}

test('interceptors compose in order on both sides; a client interceptor’s metadata reaches server interceptors and the handler', async () => {
  const log: string[] = [];
  const server =
    (name: string): ServerInterceptor =>
    async (call, next) => {
      log.push(`server ${name} in (${call.metadata['x-from-client']})`);
      call.metadata[`x-${name}`] = 'seen';
      const outcome = await next();
      log.push(`server ${name} out (${outcome.status})`);
      return outcome;
    };
  const client =
    (name: string): ClientInterceptor =>
    async (call, next) => {
      log.push(`client ${name} in`);
      call.metadata['x-from-client'] = `${call.metadata['x-from-client'] ?? ''}${name}`;
      const reply = await next();
      log.push(`client ${name} out`);
      return reply;
    };
  const s = await start({ interceptors: [server('a'), server('b')] }, { echo: 'worker' }, [server('c')]);
  const c = benchClient(s.address, { interceptors: [client('1'), client('2')] });
  const seen = await whoami(c);
  assert.equal(log, [
    'client 1 in',
    'client 2 in',
    'server a in (12)',
    'server b in (12)',
    'server c in (12)',
    'server c out (0)',
    'server b out (0)',
    'server a out (0)',
    'client 2 out',
    'client 1 out',
  ]);
  assert.is(seen.metadata['x-from-client'], '12');
  assert.equal([seen.metadata['x-a'], seen.metadata['x-b'], seen.metadata['x-c']], ['seen', 'seen', 'seen'], 'the worker thread sees what interceptors set');
  await c.$close();
  await s.server.close();
});

test('a server interceptor that refuses a worker-lane call: the worker never runs it; a plain Error is UNKNOWN', async () => {
  const refuse: ServerInterceptor = async (call) => {
    if (call.metadata['x-plain'] !== undefined) throw new Error('no reason');
    throw new RpcError(Status.PERMISSION_DENIED, `not today, ${call.peer.address}`);
  };
  const s = await start({ interceptors: [refuse] });
  const c = benchClient(s.address, { retry: false });
  const denied = await failure(c.echo({}));
  assert.is(denied.code, Status.PERMISSION_DENIED);
  assert.match(denied.message, 'not today, 127.0.0.1');
  assert.is((await failure(c.echo({}, { metadata: { 'x-plain': '1' } }))).code, Status.UNKNOWN);
  const workers = await s.server.workerStats();
  assert.is(
    workers.reduce((n, w) => n + w.requests, 0),
    0,
    'no worker ran it',
  );
  assert.is(s.server.stats().workerLane!.batches, 0);
  await c.$close();
  await s.server.close();
});

test('an interceptor that returns without next() or throwing is a bug: INTERNAL, naming the method', async () => {
  const s = await start({ interceptors: [async () => ({ status: 0 })] });
  const c = benchClient(s.address, { retry: false });
  const err = await failure(c.echo({}));
  assert.is(err.code, Status.INTERNAL);
  assert.match(err.message, 'an interceptor of bench.v1.Bench/Echo returned without calling next() or throwing');
  await c.$close();
  await s.server.close();
});

test('bearer tokens: success with the identity on every lane, missing, bad, forbidden; the token is kept from handlers', async () => {
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'ringrpc-tokens-')), 'tokens');
  writeFileSync(file, '# accepted tokens\ns3cret alice\n\nrestricted bob\n');
  const verify = tokensFromFile(file);
  const auth = bearerAuth({
    verify,
    authorize: (who: { subject: string }, call) => who.subject === 'alice' || call.method !== 'Work',
    allowUnauthenticated: ['bench.v1.Bench/Sleep'],
  });
  for (const lanes of [{}, { echo: 'worker' }, { echo: 'actor' }] as Array<Record<string, Lane>>) {
    const s = await start({ interceptors: [auth], actorWorkers: 1 }, lanes);
    const alice = benchClient(s.address, { interceptors: [bearerToken('s3cret')] });
    const seen = await whoami(alice);
    assert.equal(seen.identity, { subject: 'alice' }, JSON.stringify(lanes));
    assert.is(seen.metadata['authorization'], undefined, 'the token is not shown to handlers');
    await alice.$close();
    await s.server.close();
  }
  const s = await start({ interceptors: [auth] });
  const anonymous = benchClient(s.address, { retry: false });
  const missing = await failure(anonymous.echo({}));
  assert.is(missing.code, Status.UNAUTHENTICATED);
  assert.match(missing.message, 'bench.v1.Bench/Echo needs a bearer token');
  await anonymous.sleep({ ms: 1 }); // allowed without a token
  const wrong = benchClient(s.address, { retry: false, interceptors: [bearerToken(async () => 'guess')] });
  assert.is((await failure(wrong.echo({}))).code, Status.UNAUTHENTICATED);
  const malformed = await failure(anonymous.echo({}, { metadata: { authorization: 'Basic abc' } }));
  assert.match(malformed.message, 'is not "Bearer <token>"');
  const bob = benchClient(s.address, { retry: false, interceptors: [bearerToken('restricted')] });
  await bob.echo({});
  const forbidden = await failure(bob.work({ payload: Buffer.from('x'), rounds: 1 }));
  assert.is(forbidden.code, Status.PERMISSION_DENIED);
  assert.match(forbidden.message, 'bench.v1.Bench/Work is not allowed for this caller');
  await Promise.all([anonymous.$close(), wrong.$close(), bob.$close()]);
  await s.server.close();
  assert.throws(() => tokensFromFile(`${file}.missing`), /cannot read the tokens file/);
});

test('mutual TLS: the client certificate’s identity reaches handlers on the inline, worker and actor lanes', async () => {
  const tls = { cert: pem('server'), key: pem('server-key'), ca: pem('ca'), requestCert: true };
  for (const lanes of [{}, { echo: 'worker' }, { echo: 'actor' }] as Array<Record<string, Lane>>) {
    const s = await start({ tls, actorWorkers: 1 }, lanes);
    const c = benchClient(`localhost:${s.port}`, { tls: { ca: pem('ca'), cert: pem('client'), key: pem('client-key') } });
    const seen = await whoami(c);
    assert.is(seen.cn, 'ringrpc test client', JSON.stringify(lanes));
    await c.$close();
    await s.server.close();
  }
});

test('an identity that is not JSON (a bigint) is refused INTERNAL, not left unanswered; the server serves on', async () => {
  const s = await start({
    interceptors: [
      async (call, next) => {
        if (call.metadata['x-bad'] !== undefined) call.identity = { id: 1n };
        return next();
      },
    ],
  });
  const c = benchClient(s.address, { retry: false });
  const err = await failure(c.echo({}, { metadata: { 'x-bad': '1' } }));
  assert.is(err.code, Status.INTERNAL);
  assert.match(err.message, 'set an identity that is not JSON-serialisable');
  await c.echo({});
  assert.is(s.server.stats().workerLane!.inflight, 0, 'no slot held');
  await c.$close();
  await s.server.close();
});

test('an interceptor that awaits before next(): every request of a crowded read still reaches its handler intact', async () => {
  // Many frames arrive in one read; the interceptor hands each over later, after the read's
  // chunk is gone from the reactor's hands, on the inline and the worker lane.
  for (const lanes of [{}, { echo: 'worker' }] as Array<Record<string, Lane>>) {
    const s = await start({ interceptors: [async (_call, next) => (await new Promise((r) => setTimeout(r, 5)), next())] }, lanes);
    const client = benchClient(s.address);
    const payloads = Array.from({ length: 200 }, (_, i) => new Uint8Array(700 + i).fill(i));
    const replies = await Promise.all(payloads.map((payload) => client.echo({ payload })));
    for (const [i, r] of replies.entries()) assert.ok(Buffer.from(r.payload).equals(Buffer.from(payloads[i]!)), `reply ${i} on ${JSON.stringify(lanes)}`);
    await client.$close();
    await s.server.close();
  }
});

test('what an interceptor sees: a spread copies its fields, JSON gives them all; a throw after next() leaves the answer alone', async () => {
  const logged: Array<Record<string, unknown>> = [];
  const spread: Array<object> = [];
  const s = await start(
    {
      interceptors: [
        // Throws once the call is answered: nothing may reach the client, nor crash the process.
        async (_call, next) => {
          await next();
          throw new Error('after the answer');
        },
        (call, next) => {
          logged.push(JSON.parse(JSON.stringify(call)));
          const copy = { ...call, extra: 1 };
          JSON.stringify(copy); // a log line of the spread: no cycle, nothing of the server's internals
          spread.push(copy);
          return next();
        },
      ],
    },
    {},
  );
  const client = benchClient(s.address);
  const reply = await client.echo({ payload: new Uint8Array([1, 2]) }, { metadata: { who: 'me' }, timeoutMs: 5000 });
  assert.equal([...reply.payload], [1, 2]);
  const seen = logged[0]!;
  assert.is(seen['service'], 'bench.v1.Bench');
  assert.is(seen['method'], 'Echo');
  assert.is(seen['protocol'], 'ringrpc');
  assert.is(seen['lane'], 'inline');
  assert.is((seen['metadata'] as Record<string, string>)['who'], 'me');
  assert.ok((seen['deadline'] as number) > Date.now());
  assert.is((seen['peer'] as { address: string }).address, '127.0.0.1');
  assert.equal(Object.keys(spread[0]!).sort(), ['deadline', 'extra', 'identity', 'key', 'lane', 'method', 'peer', 'protocol', 'requestId', 'service']);
  assert.is(s.server.stats().methods['bench.v1.Bench/Echo']!.ok, 1);
  await client.$close();
  await s.server.close();
});

test('options: interceptors must be functions, named in the error', () => {
  assert.throws(() => createServer({ interceptors: [42 as never] }), /options.interceptors\[0\] must be a function/);
  assert.throws(() => benchClient('127.0.0.1:1', { interceptors: 'x' as never }), /options.interceptors must be an array of functions/);
  assert.throws(() => bearerToken(''), /bearerToken needs a token/);
});

test.run();
