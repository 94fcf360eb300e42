import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { type RpcError, Status, createServer } from '../../src/index.js';
import { benchClient, startBenchServer } from '../helpers/bench-server.js';
import { until } from '../helpers/tcp.js';

const test = suite('tls');
const pem = (name: string) => readFileSync(new URL(`../fixtures/tls/${name}.pem`, import.meta.url));
const serverTls = { cert: pem('server'), key: pem('server-key') };
const mutualTls = { ...serverTls, ca: pem('ca'), requestCert: true };

async function failure(p: Promise<unknown>): Promise<RpcError> {
  return p.then(
    () => assert.unreachable('the call should fail') as never,
    (e: RpcError) => e,
  );
}

test('TLS: the same calls over an encrypted connection, the server verified against its CA', async () => {
  const { server, port } = await startBenchServer({ tls: serverTls });
  const client = benchClient(`localhost:${port}`, { tls: { ca: pem('ca') } });
  const reply = await client.echo({ payload: Buffer.from('secret') });
  assert.is(Buffer.from(reply.payload).toString(), 'secret');
  const byIp = benchClient(`127.0.0.1:${port}`, { tls: { ca: pem('ca') } });
  await byIp.echo({}); // the certificate names 127.0.0.1 too
  await client.$close();
  await byIp.$close();
  await server.close();
});

test('a client that does not trust the server certificate refuses it, naming TLS', async () => {
  const { server, port } = await startBenchServer({ tls: serverTls });
  const client = benchClient(`localhost:${port}`, { tls: {}, retry: false });
  const err = await failure(client.echo({}));
  assert.is(err.code, Status.UNAVAILABLE);
  assert.match(
    err.message,
    new RegExp(`@ localhost:${port}: cannot connect: TLS handshake failed \\((UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN)`),
  );
  await client.$close();
  await server.close();
});

test('mutual TLS: a client with a certificate from the CA gets in', async () => {
  const { server, port } = await startBenchServer({ tls: mutualTls });
  const client = benchClient(`localhost:${port}`, { tls: { ca: pem('ca'), cert: pem('client'), key: pem('client-key') } });
  await client.echo({});
  assert.is(server.stats().connections.tlsFailed, 0);
  await client.$close();
  await server.close();
});

for (const [name, clientTls] of [
  ['without a certificate', { ca: pem('ca') }],
  ['with a certificate from another CA', { ca: pem('ca'), cert: pem('stranger'), key: pem('stranger-key') }],
] as const) {
  test(`mutual TLS: a client ${name} is refused; the server keeps serving`, async () => {
    const { server, port } = await startBenchServer({ tls: mutualTls });
    const client = benchClient(`localhost:${port}`, { tls: clientTls, retry: false });
    const err = await failure(client.echo({}));
    assert.is(err.code, Status.UNAVAILABLE);
    assert.match(err.message, /ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED|client certificate refused/);
    await until(() => server.stats().connections.tlsFailed === 1, 2000, 'the server to count the failed handshake');
    const good = benchClient(`localhost:${port}`, { tls: { ca: pem('ca'), cert: pem('client'), key: pem('client-key') } });
    await good.echo({});
    await client.$close();
    await good.$close();
    await server.close();
  });
}

test('mutual TLS: a refused client backs off instead of reconnecting in a loop; its calls are marked not sent', async () => {
  const { server, port } = await startBenchServer({ tls: mutualTls });
  const client = benchClient(`localhost:${port}`, {
    tls: { ca: pem('ca') },
    retry: false,
    reconnect: { initialMs: 100, maxMs: 2000, multiplier: 2, jitter: 0 },
  });
  const err = await failure(client.echo({}));
  assert.match(err.message, /ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED/);
  assert.is(err.notRun, 'unsent', 'the server read none of it');
  await new Promise((r) => setTimeout(r, 2000)); // idle: only the backoff's reconnects happen
  const handshakes = server.stats().connections.tlsFailed;
  assert.ok(handshakes <= 6, `${handshakes} refused handshakes in 2 s (a loop makes hundreds)`);
  assert.is(client.$stats()[0]!.state, 'backoff');
  await client.$close();
  await server.close();
});

test('a plain client to a TLS server fails UNAVAILABLE; the server counts it', async () => {
  const { server, port } = await startBenchServer({ tls: serverTls });
  const client = benchClient(`127.0.0.1:${port}`, { retry: false, keepalive: false });
  const err = await failure(client.echo({}, { timeoutMs: 2000 }));
  assert.ok(err.code === Status.UNAVAILABLE || err.code === Status.INTERNAL, `status ${err.codeName}`);
  await until(() => server.stats().connections.tlsFailed === 1, 2000, 'the server to count the failed handshake');
  await client.$close();
  await server.close();
});

test('server TLS options are checked', () => {
  assert.throws(() => createServer({ tls: {} }), /options.tls must be given a cert and key \(or pfx\)/);
  assert.throws(() => createServer({ tls: 'on' as never }), /options.tls must be an object of tls.createServer options/);
});

test.run();
