import { Status } from '../status.js';
import { FrameType } from '../protocol/constants.js';
import { encodeMeta } from '../protocol/meta.js';

/** `last_request_id` of the first GOAWAY: "no new requests, but all you sent will be taken". */
const ANY_REQUEST_ID = 0xffff_ffff;
/** The id of the handshake's PING (the keepalive probe's ids stay below 2^31, so they never clash). */
const PING_ID = 0xffff_ffff;
/**
 * How long shutdown waits for the PONG that follows its first GOAWAY before it sends the
 * final one anyway: a peer that does not answer PINGs costs a restart this much, no more.
 */
export const SHUTDOWN_PONG_WAIT_MS = 1000;

const EMPTY = new Uint8Array(0);

/**
 * The wait both protocols' shutdown handshakes share: `done` is called once, when
 * {@link finish} is (the handshake's answer came, or waiting cannot bring anything more)
 * or after {@link SHUTDOWN_PONG_WAIT_MS}; {@link cancel} drops it without calling `done`.
 */
export class HandshakeWait {
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly done: () => void) {
    this.timer = setTimeout(() => this.finish(), SHUTDOWN_PONG_WAIT_MS);
    this.timer.unref();
  }

  /** Still waiting: neither finished nor cancelled. */
  protected get waiting(): boolean {
    return this.timer !== undefined;
  }

  /** Ends the wait now. */
  finish(): void {
    if (this.timer === undefined) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.done();
  }

  /** Drops the wait without calling `done` (the connection is gone). */
  cancel(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}

/**
 * Step one of a connection's graceful shutdown (spec §GOAWAY), so that no call has to be
 * re-sent: a GOAWAY that takes everything the client has sent, and a PING. When its PONG
 * arrives, every request written before the client read the GOAWAY has arrived too, and
 * `done` is called (once) to send the final GOAWAY; after the wait, `done` is called anyway
 * (and sooner when the client goes away or says GOAWAY itself: {@link finish}).
 */
export class ShutdownHandshake extends HandshakeWait {
  constructor(send: (type: FrameType, requestId: number, meta: Uint8Array) => void, done: () => void) {
    super(done);
    send(FrameType.GOAWAY, 0, encodeMeta({ status: Status.UNAVAILABLE, message: 'server is shutting down', lastRequestId: ANY_REQUEST_ID }));
    send(FrameType.PING, PING_ID, EMPTY);
  }

  /** A PONG arrived: true when it answers the handshake's PING (and the handshake is done). */
  pong(requestId: number): boolean {
    if (requestId !== PING_ID || !this.waiting) return false;
    this.finish();
    return true;
  }
}
