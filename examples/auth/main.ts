/**
 * Authentication and authorization, two ways, each on a server whose Work method runs on
 * the worker lane (a refused call never reaches a worker):
 *
 * 1. Bearer tokens: `bearerAuth` checks `authorization: Bearer <token>` on the reactor.
 *    Alice may call Echo; only the batch identity may call Work. An access log, placed
 *    first, prints one line per call, refused ones included.
 * 2. Mutual TLS: the server asks for a client certificate signed by its CA, and an
 *    interceptor of its own allows Work only to the certificate named `ringrpc test client`.
 *
 * The certificates are the test suite's throwaway ones (tests/fixtures/tls): make your own.
 * `node --import tsx examples/auth/main.ts`
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { accessLog, bearerAuth, bearerToken, createClient, createServer, RpcError, Status, type ServerInterceptor } from '../../src/index.js';
import { Bench } from '../bench/generated.js';
import { Bench as handlers } from './handlers.js';

// The worker threads load this module (handlers.js when this file runs compiled).
const workerModule = new URL(`./handlers${path.extname(fileURLToPath(import.meta.url))}`, import.meta.url);
const lanes = { work: 'worker' } as const;
const payload = Buffer.from('hello');

/** Calls `f`, prints what came back: the reply's caller metadata, or the error's status. */
async function attempt(label: string, f: (onMetadata: (m: Record<string, string>) => void) => Promise<unknown>): Promise<void> {
  let caller = '';
  try {
    await f((m) => (caller = m['caller'] ?? ''));
    process.stdout.write(`  ${label.padEnd(40)} OK (the handler saw ${caller})\n`);
  } catch (err) {
    if (!(err instanceof RpcError)) throw err;
    process.stdout.write(`  ${label.padEnd(40)} ${err.message}\n`);
  }
}

// --- 1. Bearer tokens --------------------------------------------------------------------
/** The tokens this server accepts, and who each stands for (a JWT check would go here). */
const TOKENS = new Map([
  ['alice-token', { subject: 'alice', roles: ['read'] }],
  ['batch-token', { subject: 'batch', roles: ['read', 'work'] }],
]);
const tokenServer = createServer({
  host: '127.0.0.1',
  port: 0,
  workers: 1,
  interceptors: [
    accessLog((e) => process.stdout.write(`    access: ${e.method} ${e.code} caller=${e.subject ?? '-'} ${e.durationMs} ms\n`)),
    bearerAuth({
      verify: (token) => TOKENS.get(token),
      authorize: (who, call) => call.method !== 'Work' || who.roles.includes('work'),
    }),
  ],
}).addService(Bench, handlers, { lanes, workerModule });
const tokenAddress = await tokenServer.listen();
process.stdout.write(`bearer tokens, server on ${tokenAddress.host}:${tokenAddress.port}\n`);
for (const [who, token] of [
  ['anonymous', undefined],
  ['alice', 'alice-token'],
  ['batch', 'batch-token'],
  ['a forged token', 'guess'],
] as const) {
  const client = createClient(Bench, tokenAddress, { retry: false, interceptors: token === undefined ? [] : [bearerToken(token)] });
  await attempt(`${who}: Echo`, (onMetadata) => client.echo({ payload }, { onMetadata }));
  await attempt(`${who}: Work (worker lane)`, (onMetadata) => client.work({ payload, rounds: 10 }, { onMetadata }));
  await client.$close();
}
await tokenServer.shutdown();

// --- 2. Mutual TLS -----------------------------------------------------------------------
const pem = (name: string) => readFileSync(new URL(`../../tests/fixtures/tls/${name}.pem`, import.meta.url));
/** Work only for one certificate: the rule reads the verified client certificate. */
const onlyTrustedWorkers: ServerInterceptor = (call, next) => {
  if (call.method === 'Work' && call.peer.certificate?.subject['CN'] !== 'ringrpc test client') {
    throw new RpcError(Status.PERMISSION_DENIED, `Work is not allowed for ${call.peer.certificate?.subject['CN'] ?? 'this client'}`);
  }
  return next();
};
const tlsServer = createServer({
  host: '127.0.0.1',
  port: 0,
  workers: 1,
  // requestCert: the handshake fails for a client without a certificate from `ca`.
  tls: { cert: pem('server'), key: pem('server-key'), ca: pem('ca'), requestCert: true },
  interceptors: [onlyTrustedWorkers],
}).addService(Bench, handlers, { lanes, workerModule });
const { port } = await tlsServer.listen();
process.stdout.write(`mutual TLS, server on localhost:${port}\n`);
const trusted = createClient(Bench, `localhost:${port}`, { retry: false, tls: { ca: pem('ca'), cert: pem('client'), key: pem('client-key') } });
await attempt('client certificate: Work (worker lane)', (onMetadata) => trusted.work({ payload, rounds: 10 }, { onMetadata }));
await trusted.$close();
const noCertificate = createClient(Bench, `localhost:${port}`, { retry: false, timeoutMs: 2000, tls: { ca: pem('ca') } });
await attempt('no client certificate: Echo', (onMetadata) => noCertificate.echo({ payload }, { onMetadata }));
await noCertificate.$close();
await tlsServer.shutdown();
