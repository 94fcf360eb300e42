import { createServer, createClient, type Server, type ServerOptions, type ClientOptions, type Client, type ClientTarget } from '../../src/index.js';
import { Bench } from '../../examples/bench/generated.js';
import { Bench as handlers } from '../../examples/bench/handlers.js';

export { Bench, handlers };

/** A listening bench server on 127.0.0.1:<free port>. */
export async function startBenchServer(
  options: ServerOptions = {},
  impl: Parameters<Server['addService']>[1] = handlers,
): Promise<{ server: Server; port: number; address: string }> {
  const server = createServer({ host: '127.0.0.1', port: 0, ...options }).addService(Bench, impl as typeof handlers);
  const { port } = await server.listen();
  return { server, port, address: `127.0.0.1:${port}` };
}

/** A client of the bench service. */
export function benchClient(address: ClientTarget, options?: ClientOptions): Client<typeof Bench> {
  return createClient(Bench, address, options);
}
