/** The smallest ringrpc server: `node --import tsx examples/echo/server.ts [port]`. */
import { createServer } from '../../src/index.js';
import { Bench } from '../bench/generated.js';

const server = createServer({ host: '127.0.0.1', port: Number(process.argv[2] ?? 7401) });
server.addService(Bench, {
  echo: (request, ctx) => {
    ctx.responseMetadata['served-by'] = `pid ${process.pid}`;
    return { payload: request.payload };
  },
});
const { host, port } = await server.listen();
process.stdout.write(`echo server listening on ${host}:${port}\n`);
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void server.shutdown());
