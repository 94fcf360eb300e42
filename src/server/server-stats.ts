import { statusName } from '../status.js';

/** Counters of one method. */
export class MethodStats {
  requests = 0;
  ok = 0;
  inflight = 0;
  /** Error answers by status number. */
  readonly errors = new Map<number, number>();

  recordError(code: number): void {
    this.errors.set(code, (this.errors.get(code) ?? 0) + 1);
  }

  snapshot(): MethodStatsSnapshot {
    const errors: Record<string, number> = {};
    for (const [code, n] of this.errors) errors[statusName(code)] = n;
    return { requests: this.requests, ok: this.ok, errors, inflight: this.inflight };
  }
}

/** A method's counters at one moment. */
export interface MethodStatsSnapshot {
  readonly requests: number;
  readonly ok: number;
  /** Error answers by status name, e.g. `{ DEADLINE_EXCEEDED: 2 }`. */
  readonly errors: Readonly<Record<string, number>>;
  readonly inflight: number;
}

/** Server-wide counters. */
export class ConnectionCounters {
  open = 0;
  accepted = 0;
  /** Closed by the server because they sent nothing for the idle limit. */
  idleClosed = 0;
  /** Closed by the server after a protocol fault (GOAWAY). */
  faultClosed = 0;
  /** Closed because the peer stopped reading (write buffer over its cap, or no drain for `writeTimeoutMs`). */
  overflowClosed = 0;
  /** Closed because a frame took longer than `frameTimeoutMs` to arrive (slowloris). */
  slowClosed = 0;
  /** Refused at once: `maxConnections` were open. */
  refused = 0;
  /** TLS handshakes that failed (bad or missing client certificate, not TLS at all, timeout). */
  tlsFailed = 0;
  bytesIn = 0;
  bytesOut = 0;
}
