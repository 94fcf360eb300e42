/**
 * One port, two protocols: a ringrpc server with Work on the worker lane, called by an
 * unchanged @grpc/grpc-js client (the bench .proto, loaded with @grpc/proto-loader) and by
 * a ringrpc client at the same time; then the health service, and grpc-js's view of a
 * handler's error. `node --import tsx examples/grpc/main.ts`
 */
import * as grpc from '@grpc/grpc-js';
import * as loader from '@grpc/proto-loader';
import { createClient, createServer, RpcError, Status } from '../../src/index.js';
import { Bench } from '../bench/generated.js';
import { Bench as handlers } from '../bench/handlers.js';

const server = createServer({ host: '127.0.0.1', port: 0, workers: 2 }).addService(
  Bench,
  {
    ...handlers,
    echo(request, ctx) {
      if (request.payload.length === 0) throw new RpcError(Status.INVALID_ARGUMENT, 'say something');
      ctx.responseMetadata['x-served-over'] = ctx.protocol;
      return { payload: request.payload };
    },
  },
  { lanes: { work: 'worker' }, workerModule: new URL('../bench/handlers.ts', import.meta.url) },
);
const { port } = await server.listen();
const address = `127.0.0.1:${port}`;

// An ordinary grpc-js client: nothing in it knows about ringrpc.
const definition = loader.loadSync('proto/bench/v1/bench.proto', { keepCase: true, enums: Number });
const { bench } = grpc.loadPackageDefinition(definition) as unknown as { bench: { v1: { Bench: grpc.ServiceClientConstructor } } };
type Reply = Record<string, Buffer>;
type Unary = (request: object, callback: (error: grpc.ServiceError | null, reply: Reply) => void) => grpc.ClientUnaryCall;
const grpcClient = new bench.v1.Bench(address, grpc.credentials.createInsecure()) as unknown as Record<string, Unary>;
const unary = (method: string, request: object): Promise<{ reply?: Reply; error?: grpc.ServiceError; served?: string }> =>
  new Promise((resolve) => {
    const call = grpcClient[method]!(request, (error, reply) => resolve(error === null ? { reply, served } : { error }));
    let served: string | undefined;
    call.on('metadata', (m: grpc.Metadata) => (served = String(m.get('x-served-over')[0])));
  });

const ringrpcClient = createClient(Bench, address);
const [viaGrpc, viaRingrpc, worked] = await Promise.all([
  unary('Echo', { payload: Buffer.from('hello over gRPC') }),
  ringrpcClient.echo({ payload: Buffer.from('hello over ringrpc') }),
  unary('Work', { payload: Buffer.from('digest me'), rounds: 1000 }),
]);
process.stdout.write(`[grpc-js] Echo: "${viaGrpc.reply!['payload']}" (the handler saw ctx.protocol = ${viaGrpc.served})\n`);
process.stdout.write(`[ringrpc] Echo: "${Buffer.from(viaRingrpc.payload)}"\n`);
process.stdout.write(`[grpc-js] Work on the worker lane: digest ${worked.reply!['digest']!.toString('hex').slice(0, 16)}…\n`);

const refused = await unary('Echo', { payload: Buffer.alloc(0) });
process.stdout.write(`[grpc-js] a handler's RpcError: code ${refused.error!.code} (${grpc.status[refused.error!.code]}), "${refused.error!.details}"\n`);

const health = new grpc.Client(address, grpc.credentials.createInsecure());
const status = await new Promise<number>((resolve, reject) =>
  health.makeUnaryRequest(
    '/grpc.health.v1.Health/Check',
    () => Buffer.alloc(0), // HealthCheckRequest {} : the server's own health
    (reply: Buffer) => reply[1] ?? 0, // HealthCheckResponse { status = 1 }: one varint field
    {},
    (err, value) => (err ? reject(err) : resolve(value!)),
  ),
);
process.stdout.write(`[grpc-js] grpc.health.v1.Health/Check: ${status === 1 ? 'SERVING' : status}\n`);
const { grpcCalls, connections } = server.stats();
process.stdout.write(
  `[server] ${grpcCalls} gRPC calls over ${connections.grpc} HTTP/2 connection(s), ${connections.accepted - connections.grpc} ringrpc connection(s)\n`,
);

health.close();
(grpcClient as unknown as grpc.Client).close();
await ringrpcClient.$close();
await server.close();
