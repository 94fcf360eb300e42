import * as grpc from '@grpc/grpc-js';
import * as loader from '@grpc/proto-loader';

const definition = loader.loadSync('proto/bench/v1/bench.proto', { keepCase: true, enums: Number, longs: Number });
const Bench = (grpc.loadPackageDefinition(definition) as unknown as { bench: { v1: { Bench: grpc.ServiceClientConstructor } } }).bench.v1.Bench;

/** The bench service's grpc-js client constructor (proto/bench/v1/bench.proto, loaded with proto-loader). */
export { Bench as GrpcBench };

/** What one unary call ended with: the reply or the error, and the metadata of both header blocks. */
export interface GrpcOutcome<R = Record<string, unknown>> {
  readonly reply?: R;
  readonly error?: grpc.ServiceError;
  /** Response headers (grpc-js's `metadata` event). */
  readonly headers: Record<string, unknown>;
  /** The status's metadata: the trailers. */
  readonly trailers: Record<string, unknown>;
}

/** A grpc-js client of the bench service at `address` (plaintext unless `credentials`). */
export function grpcClient(address: string, options: grpc.ClientOptions = {}, credentials = grpc.credentials.createInsecure()): grpc.Client {
  return new Bench(address, credentials, options);
}

/** Calls `method` on a grpc-js client; resolves with what it ended with (never rejects). */
export function grpcCall<R = Record<string, unknown>>(
  client: grpc.Client,
  method: string,
  request: object,
  options: { metadata?: Record<string, string | Buffer>; deadlineMs?: number; onCall?: (call: grpc.ClientUnaryCall) => void } = {},
): Promise<GrpcOutcome<R>> {
  const metadata = new grpc.Metadata();
  for (const [k, v] of Object.entries(options.metadata ?? {})) metadata.set(k, v);
  const callOptions: grpc.CallOptions = options.deadlineMs === undefined ? {} : { deadline: Date.now() + options.deadlineMs };
  return new Promise((resolve) => {
    let headers: Record<string, unknown> = {};
    let ended: { reply?: R; error?: grpc.ServiceError } | undefined;
    let trailers: Record<string, unknown> | undefined;
    const done = (): void => {
      if (ended !== undefined && trailers !== undefined) resolve({ ...ended, headers, trailers });
    };
    const fn = (client as unknown as Record<string, (...args: unknown[]) => grpc.ClientUnaryCall>)[method]!.bind(client);
    const call = fn(request, metadata, callOptions, (error: grpc.ServiceError | null, reply: R) => {
      ended = error === null ? { reply } : { error };
      done();
    });
    call.on('metadata', (m: grpc.Metadata) => {
      headers = m.getMap();
    });
    call.on('status', (s: grpc.StatusObject) => {
      trailers = s.metadata.getMap();
      done();
    });
    options.onCall?.(call);
  });
}
