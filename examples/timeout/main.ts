/**
 * A normal call, then a slow call cut by a 1 s timeout: the client gets DEADLINE_EXCEEDED,
 * and the server's handler sees its `ctx.signal` abort (the CANCEL frame).
 * `node --import tsx examples/timeout/main.ts`
 */
import { createServer, createClient, type RpcError } from '../../src/index.js';
import { Bench } from '../bench/generated.js';

const server = createServer({ host: '127.0.0.1', port: 0 });
server.addService(Bench, {
  async sleep(request, ctx) {
    const started = Date.now();
    process.stdout.write(`[server] Sleep(${request.ms} ms) started\n`);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(resolve, request.ms);
      ctx.signal.addEventListener('abort', () => {
        clearTimeout(timer);
        const reason = ctx.signal.reason as RpcError;
        process.stdout.write(`[server] Sleep saw the cancel after ${Date.now() - started} ms: ${reason.codeName} (${reason.rawMessage})\n`);
        reject(reason);
      });
    });
    process.stdout.write(`[server] Sleep(${request.ms} ms) finished\n`);
    return {};
  },
});
const address = await server.listen();
const client = createClient(Bench, address);

await client.sleep({ ms: 200 }, { timeoutMs: 1000 });
process.stdout.write('[client] the 200 ms call succeeded within its 1 s timeout\n');

const started = Date.now();
try {
  await client.sleep({ ms: 5000 }, { timeoutMs: 1000 });
} catch (err) {
  process.stdout.write(`[client] the 5 s call failed after ${Date.now() - started} ms: ${(err as RpcError).message}\n`);
}
await new Promise((r) => setTimeout(r, 50)); // let the server's log line come out
await client.$close();
await server.close();
