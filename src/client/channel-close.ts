import { RpcError, statusFromSystemError } from '../errors.js';
import { Status } from '../status.js';

/**
 * - `connecting`: TCP (and TLS) connect in progress; calls are queued in the socket meanwhile;
 * - `ready`: connected;
 * - `draining`: takes no new calls (GOAWAY received, request ids spent, or closing); its
 *   pending calls may still be answered;
 * - `closed`: the socket is gone; every pending call has been settled.
 */
export type ChannelState = 'connecting' | 'ready' | 'draining' | 'closed';

/**
 * Why a channel closed, for its pool:
 * - `connect-failed`: it never became ready (nothing was sent);
 * - `lost`: a ready connection broke (reset, keepalive timeout, protocol error);
 * - `ended`: the server closed it cleanly while no call was pending (idle eviction);
 * - `goaway`: the server asked it to go away (shutting down) and it drained;
 * - `refused`: the server sent GOAWAY with a fault status (connection limit, protocol error);
 * - `closed`: this process closed it.
 */
export type ChannelCloseReason = 'connect-failed' | 'lost' | 'ended' | 'goaway' | 'refused' | 'closed';

/** How far a connection got before it closed. */
export interface ChannelHistory {
  /** It connected (and finished its TLS handshake, with TLS). */
  readonly everReady: boolean;
  /** The server sent it a frame. */
  readonly everHeard: boolean;
  readonly tls: boolean;
  /** The TLS handshake was under way when it failed. */
  readonly handshaking: boolean;
}

/**
 * The error a connection's pending calls fail with when it closes: UNAVAILABLE (or the
 * status its cause maps to), with words for what happened, and marked not run when the
 * server provably read none of them: the connection never became ready, or a TLS alert
 * ended it before the server's first frame (under TLS 1.3 the server checks a client
 * certificate after the client's handshake has completed, and reads nothing before).
 */
export function closeError(cause: Error | undefined, h: ChannelHistory): RpcError {
  const code = (cause as NodeJS.ErrnoException | undefined)?.code;
  let status = cause instanceof RpcError ? cause.code : (typeof code === 'string' && statusFromSystemError(code)) || Status.UNAVAILABLE;
  if (status === Status.DEADLINE_EXCEEDED) status = Status.UNAVAILABLE; // a connect timeout is not the call's deadline
  if (h.everReady) {
    const tlsRefusal = !h.everHeard && typeof code === 'string' && code.startsWith('ERR_SSL_');
    const detail =
      cause instanceof RpcError
        ? cause.rawMessage
        : cause
          ? (code ?? cause.message)
          : h.tls && !h.everHeard
            ? 'closed by the server right after the TLS handshake: was the client certificate refused?'
            : 'closed by the server';
    return new RpcError(status, `connection lost (${detail})`, { cause, notRun: tlsRefusal ? 'unsent' : undefined });
  }
  // Nothing was written to the peer: every queued call is safe to send again.
  const detail =
    cause instanceof RpcError
      ? cause.rawMessage
      : cause && h.handshaking
        ? `TLS handshake failed (${code ?? 'error'}: ${cause.message})`
        : cause
          ? (code ?? cause.message)
          : 'closed before it was established';
  return new RpcError(status, `cannot connect: ${detail}`, { cause, notRun: 'unsent' });
}
