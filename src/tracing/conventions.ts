import { Status } from '../status.js';
import type { OtelSpan } from './otel-api.js';

/**
 * The OpenTelemetry RPC semantic conventions as ringrpc's spans follow them
 * (https://opentelemetry.io/docs/specs/semconv/rpc/): `rpc.system` is `ringrpc` for
 * ringrpc's own protocol and `grpc` for calls that came by gRPC, each with its status
 * attribute (`rpc.ringrpc.status_code`, after the pattern of `rpc.grpc.status_code`; the
 * numbers are the same, gRPC's). Attributes of ringrpc's own are under `ringrpc.`.
 */
export const ATTR = {
  system: 'rpc.system',
  service: 'rpc.service',
  method: 'rpc.method',
  serverAddress: 'server.address',
  serverPort: 'server.port',
  clientAddress: 'client.address',
  clientPort: 'client.port',
  peerAddress: 'network.peer.address',
  peerPort: 'network.peer.port',
  transport: 'network.transport',
  /** The attempt's number, 1 for the first send (attempt spans). */
  attempt: 'ringrpc.attempt',
  /** The lane that ran the call (server spans). */
  lane: 'ringrpc.lane',
  /** Worker and actor lanes: the call's queue wait and run, in ms (server spans; the child spans show them too). */
  queuedMs: 'ringrpc.queued_ms',
  runMs: 'ringrpc.run_ms',
} as const;

/** `SpanKind` and `SpanStatusCode` of the api: stable numbers, used as such so nothing is imported for them. */
export const SpanKind = { INTERNAL: 0, SERVER: 1, CLIENT: 2 } as const;
export const SpanStatusCode = { UNSET: 0, OK: 1, ERROR: 2 } as const;

/** The `rpc.system` of a protocol, and the attribute its status goes in. */
export function rpcSystem(protocol: string): { readonly system: string; readonly statusAttribute: string } {
  return protocol === 'grpc' ? GRPC : RINGRPC;
}
const RINGRPC = { system: 'ringrpc', statusAttribute: 'rpc.ringrpc.status_code' };
const GRPC = { system: 'grpc', statusAttribute: 'rpc.grpc.status_code' };

/**
 * The statuses a server span is in error for (semantic conventions for gRPC, which ringrpc's
 * status numbers are): the server's own failures. The rest (NOT_FOUND, INVALID_ARGUMENT,
 * PERMISSION_DENIED, CANCELLED, …) are the caller's doing and leave the server span's
 * status unset; the client span of the same call is in error all the same.
 */
const SERVER_ERRORS: ReadonlySet<number> = new Set([
  Status.UNKNOWN,
  Status.DEADLINE_EXCEEDED,
  Status.UNIMPLEMENTED,
  Status.INTERNAL,
  Status.UNAVAILABLE,
  Status.DATA_LOSS,
]);

/** Ends `span` at `endTime` (epoch ms) with the call's status: the status attribute, and ERROR with `message` where it is one. */
export function endWithStatus(span: OtelSpan, statusAttribute: string, status: number, message: string, side: 'client' | 'server', endTime?: number): void {
  span.setAttribute(statusAttribute, status);
  if (status !== Status.OK && (side === 'client' || SERVER_ERRORS.has(status))) span.setStatus({ code: SpanStatusCode.ERROR, message });
  span.end(endTime);
}
