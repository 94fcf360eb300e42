import diagnostics from 'node:diagnostics_channel';
import { debuglog } from 'node:util';

/**
 * Diagnostics channels `ringrpc:<area>:<event>`: subscribe for tracing and logging.
 * Publishing costs nothing while no one subscribes (checked with `hasSubscribers`).
 */
export const channels = {
  /** `{ connection, reason, status? }` when the server closes a connection itself (fault, idle, overflow). */
  serverConnectionClose: diagnostics.channel('ringrpc:server:connection-close'),
  /** `{ peer }` when a connection is accepted. */
  serverConnectionOpen: diagnostics.channel('ringrpc:server:connection-open'),
  /** `{ service, method, error }` when a ONEWAY handler fails (there is no one to answer). */
  serverOnewayError: diagnostics.channel('ringrpc:server:oneway-error'),
  /** `{ error }` when a worker thread fails outside any call (it is replaced). */
  serverWorkerError: diagnostics.channel('ringrpc:server:worker-error'),
  /** `{ address }` when a client connection is established. */
  clientConnect: diagnostics.channel('ringrpc:client:connect'),
  /** `{ address, reason, error }` when a client connection closes (`reason`: connect-failed, lost, goaway, closed). */
  clientDisconnect: diagnostics.channel('ringrpc:client:disconnect'),
  /** `{ address, rttMs }` when a keepalive PING is answered. */
  clientKeepalive: diagnostics.channel('ringrpc:client:keepalive'),
  /** `{ address, failures, delayMs, error }` when an endpoint enters reconnect backoff. */
  clientBackoff: diagnostics.channel('ringrpc:client:backoff'),
  /** `{ service, method, send, delayMs, error }` when a failed call is sent again (`send`: 2 for the first resend). */
  clientRetry: diagnostics.channel('ringrpc:client:retry'),
  /**
   * `{ uri, event, service?, address?, error? }` on registry events: `connected`,
   * `disconnected`, `session-expired`, `unreachable`, `registered`, `deregistered`,
   * `lease-lost`, `bad-instance` (an entry that does not parse, skipped).
   */
  registry: diagnostics.channel('ringrpc:registry'),
} as const;

/** `NODE_DEBUG=ringrpc` turns this on. */
export const debug = debuglog('ringrpc');
