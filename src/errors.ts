import { Status, isStatus, statusName } from './status.js';

/** Where a failed call was going; every client-side error names it. */
export interface CallSite {
  /** Fully qualified service, e.g. `bench.v1.Bench`. */
  readonly service?: string;
  /** Method name as in the .proto, e.g. `Echo`. */
  readonly method?: string;
  /** `host:port` of the peer. */
  readonly address?: string;
}

/**
 * Why a failed call is known not to have reached a handler, so that sending it again
 * cannot run it twice (spec §GOAWAY, §ringrpc-not-run):
 * - `unsent`: it never left this process (no connection, endpoint in backoff, connect
 *   failed, connection full);
 * - `goaway`: the server's GOAWAY put it above `last_request_id`, so the server never
 *   started it (a draining server, not a failure);
 * - `refused`: the server turned it away before any handler ran: an error RESPONSE with
 *   the `ringrpc-not-run: 1` metadata (admission limits, a full worker queue), or a
 *   GOAWAY with a fault status that put it above `last_request_id`.
 */
export type NotRunReason = 'unsent' | 'goaway' | 'refused';

/** Options of {@link RpcError}. */
export interface RpcErrorOptions extends CallSite {
  /** Application metadata that came with the error (RESPONSE `Meta.metadata`). */
  readonly metadata?: Readonly<Record<string, string>>;
  /** The underlying error (a socket error, a handler's exception, …). */
  readonly cause?: unknown;
  /** Set when the call is known not to have run; see {@link NotRunReason}. */
  readonly notRun?: NotRunReason;
}

const BRAND = Symbol.for('ringrpc.RpcError');

/**
 * The one error type of ringrpc. `code` is a gRPC status number ({@link Status});
 * `message` reads `"[CODE] service/method @ address: text"` so that a log line alone
 * says what failed where; `rawMessage` is the text without that prefix.
 *
 * `instanceof RpcError` also holds across duplicate copies of the package (a brand
 * symbol, as undici does), and a worker thread's error rebuilt on the main thread.
 */
export class RpcError extends Error {
  override readonly name = 'RpcError';
  /** gRPC status number. */
  readonly code: Status;
  /** The message without the `[CODE] site:` prefix; this is what goes on the wire. */
  readonly rawMessage: string;
  readonly metadata: Readonly<Record<string, string>>;
  readonly service: string | undefined;
  readonly method: string | undefined;
  readonly address: string | undefined;
  /**
   * Why the call is known not to have run (see {@link NotRunReason}); undefined when it
   * may have run. A fact of the error: whoever wraps it in a new `RpcError` passes it on.
   */
  readonly notRun: NotRunReason | undefined;

  constructor(code: Status, message: string, options: RpcErrorOptions = {}) {
    super(formatMessage(code, message, options), options.cause === undefined ? undefined : { cause: options.cause });
    this.code = isStatus(code) ? code : Status.UNKNOWN;
    this.rawMessage = message;
    this.metadata = options.metadata ?? {};
    this.service = options.service;
    this.method = options.method;
    this.address = options.address;
    this.notRun = options.notRun;
  }

  /** The spec's name of {@link code}, e.g. `"UNAVAILABLE"`. */
  get codeName(): string {
    return statusName(this.code);
  }

  get [BRAND](): true {
    return true;
  }

  static override [Symbol.hasInstance](value: unknown): boolean {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[BRAND] === true;
  }

  /**
   * Normalises anything thrown into an `RpcError`: an `RpcError` is returned as is;
   * an object with a numeric status `code` keeps it (a handler may throw
   * `Object.assign(new Error('no'), { code: 5 })`); a Node system error is mapped by
   * {@link statusFromSystemError}; anything else gets `fallback` (UNKNOWN by default).
   */
  static from(value: unknown, fallback: Status = Status.UNKNOWN, site: CallSite = {}): RpcError {
    if (value instanceof RpcError) return value;
    if (value instanceof Error) {
      const code = (value as { code?: unknown }).code;
      const status = isStatus(code) ? code : typeof code === 'string' ? (statusFromSystemError(code) ?? fallback) : fallback;
      return new RpcError(status, value.message, { ...site, cause: value });
    }
    return new RpcError(fallback, String(value), { ...site, cause: value });
  }
}

function formatMessage(code: number, message: string, site: CallSite): string {
  const where = site.service === undefined ? '' : ` ${site.service}/${site.method ?? '?'}`;
  const to = site.address === undefined ? '' : ` @ ${site.address}`;
  const prefix = `[${statusName(code)}]${where}${to}`;
  return message === '' ? prefix : `${prefix}: ${message}`;
}

/**
 * Maps a Node system error code to a status, in one place: connection-level failures
 * are UNAVAILABLE (the call may be retried elsewhere), timeouts DEADLINE_EXCEEDED.
 */
export function statusFromSystemError(code: string): Status | undefined {
  switch (code) {
    case 'ECONNREFUSED':
    case 'ECONNRESET':
    case 'ECONNABORTED':
    case 'EPIPE':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'ERR_SOCKET_CLOSED':
    case 'ERR_STREAM_DESTROYED':
      return Status.UNAVAILABLE;
    case 'ETIMEDOUT':
      return Status.DEADLINE_EXCEEDED;
    case 'ABORT_ERR':
      return Status.CANCELLED;
    default:
      return undefined;
  }
}
