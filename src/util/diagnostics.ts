import diagnostics from 'node:diagnostics_channel';

/**
 * Diagnostics channels `ringrpc:<area>:<event>`: subscribe for tracing and logging.
 * Publishing costs nothing while no one subscribes (checked with `hasSubscribers`).
 * Each channel's doc lists every field of its messages; `peer` and `address` are
 * `host:port` strings, `error` an `RpcError` unless it says otherwise.
 */
export const channels = {
  /**
   * `{ peer, reason, status, message }` when the server closes a connection itself.
   * `reason` is one of:
   * - `idle`: no frame for the idle limit while nothing was in flight; `status` undefined;
   * - `protocol-error`: a fault of the spec's bad-input table, answered with GOAWAY; `status` is its status;
   * - `oversized`: a frame or its meta passed `maxFrameBytes`, `maxMetaBytes` or the server-wide
   *   `maxBufferedInputBytes`, or a Meta carried too many metadata entries; `status` RESOURCE_EXHAUSTED;
   * - `frame-timeout`: a partial frame outlasted `frameTimeoutMs`; `status` DEADLINE_EXCEEDED;
   * - `first-frame-timeout`: no REQUEST, ONEWAY or PING within `firstFrameTimeoutMs` of connecting; `status` DEADLINE_EXCEEDED;
   * - `write-stalled`: the peer stopped reading (`maxWriteBufferBytes`, `writeTimeoutMs`, or
   *   `maxBufferedOutputBytes` for all such peers); `status` RESOURCE_EXHAUSTED;
   * - `max-connections`: refused on accept, past `maxConnections`; `status` RESOURCE_EXHAUSTED;
   * - `tls-handshake`: the TLS handshake failed; `status` UNAUTHENTICATED.
   *
   * `message` says what happened, in words. Closes by the peer, and by shutdown, are not published.
   */
  serverConnectionClose: diagnostics.channel('ringrpc:server:connection-close'),
  /** `{ peer }` when a connection is accepted (after the TLS handshake, with TLS). */
  serverConnectionOpen: diagnostics.channel('ringrpc:server:connection-open'),
  /** `{ service, method, error }` when a ONEWAY handler fails (there is no one to answer); `service` is the full name. */
  serverOnewayError: diagnostics.channel('ringrpc:server:oneway-error'),
  /** `{ error }` when a worker thread fails outside any call (it is replaced); `error` is the pool's `Error`. */
  serverWorkerError: diagnostics.channel('ringrpc:server:worker-error'),
  /**
   * `{ address, ejectionMs, error }` when outlier detection ejects an instance: its calls
   * failed DEADLINE_EXCEEDED or UNAVAILABLE in a row; `error` is the last of them.
   */
  clientEjection: diagnostics.channel('ringrpc:client:ejection'),
  /** `{ address }` when a client connection is established. */
  clientConnect: diagnostics.channel('ringrpc:client:connect'),
  /**
   * `{ address, reason, error }` when a client connection closes. `reason` is one of
   * `connect-failed` (it never opened), `lost`, `ended` (the server closed it while no call
   * was pending, as on idle eviction), `goaway`, `refused` (a fault GOAWAY, such as the
   * server's connection limit) or `closed` (by this process). `error` is the cause, if any
   * (a socket error, or the GOAWAY's `RpcError`); undefined on a clean close.
   */
  clientDisconnect: diagnostics.channel('ringrpc:client:disconnect'),
  /** `{ address, rttMs }` when a keepalive PING is answered. */
  clientKeepalive: diagnostics.channel('ringrpc:client:keepalive'),
  /**
   * `{ address, failures, delayMs, error }` when an endpoint enters reconnect backoff of
   * `delayMs`, after `failures` failed rounds in a row (`connect-failed` or `refused`);
   * `error` is the connection's cause, as in `clientDisconnect`.
   */
  clientBackoff: diagnostics.channel('ringrpc:client:backoff'),
  /**
   * `{ service, method, send, delayMs, error }` when a failed call is to be sent again after
   * a backoff of `delayMs`: `send` counts the call's sends, the coming one included (2 for
   * the first retry); `error` is the failure being retried. Transparent resends after a
   * GOAWAY are not published.
   */
  clientRetry: diagnostics.channel('ringrpc:client:retry'),
  /**
   * `{ uri, event, service?, address?, error? }` on registry events. `uri` names the
   * registry; `event` is one of:
   * - from a registry client (`zk://`, `ringrpc://`): `registered` and `deregistered`
   *   (`service`, `address`), `unreachable` (`error`; with `ringrpc://`, also the
   *   watched `service`);
   * - `zk://` only: `connected`, `disconnected`, `session-expired` (no other field),
   *   `bad-instance` (`service`, `address`: a node whose data does not parse, skipped);
   * - `ringrpc://` only: `lease-lost` (`error`: the registry no longer knew the lease,
   *   so the instances are registered again);
   * - a server: `register-failed` (`service`, `error`: announcing a service failed);
   * - the built-in registry server: `instance-added`, `instance-removed` and
   *   `lease-expired` (`service`, `address`).
   */
  registry: diagnostics.channel('ringrpc:registry'),
} as const;
