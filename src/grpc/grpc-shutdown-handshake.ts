import http2, { type ServerHttp2Session } from 'node:http2';
import { HandshakeWait } from '../server/shutdown-handshake.js';

const { NGHTTP2_NO_ERROR } = http2.constants;
/** The first GOAWAY of a graceful shutdown names the highest stream id there can be: "all you sent will be taken". */
const ANY_STREAM_ID = 2 ** 31 - 1;

/**
 * Step one of an HTTP/2 session's graceful shutdown, as HTTP/2 does it (the gRPC side of
 * `ShutdownHandshake`, server/shutdown-handshake.ts): a GOAWAY that takes every stream the client has opened (last
 * stream id 2^31-1) and a PING. When the PING is answered, every stream the client opened
 * before it read the GOAWAY has arrived, and `done` is called (once) to send the final
 * GOAWAY. It is called sooner when waiting cannot bring anything more:
 * - the PING fails (the session is going), or the client says GOAWAY itself ({@link finish});
 * - no stream is open, at the start or later ({@link streamsClosed}): node stops reading a
 *   session that has sent GOAWAY and has no stream open (nghttp2 wants no more input), so
 *   the PING's answer and the client's own GOAWAY would go unread; and nghttp2 takes no new
 *   stream after a GOAWAY anyway (it refuses them, and gRPC clients send them again). An idle
 *   grpc-js channel, or one being closed, cost every shutdown the whole wait (1 s) before.
 *
 * After the wait of {@link HandshakeWait} (1 s), `done` is called anyway.
 */
export class GrpcShutdownHandshake extends HandshakeWait {
  /** Starts the handshake on `session`, which has `openStreams` streams open. */
  constructor(session: ServerHttp2Session, openStreams: number, done: () => void) {
    super(done);
    let waiting = openStreams > 0;
    try {
      session.goaway(NGHTTP2_NO_ERROR, ANY_STREAM_ID);
      session.ping(() => this.finish()); // answered, or failed: either way the wait is over
    } catch {
      waiting = false; // destroyed meanwhile
    }
    if (!waiting) this.finish();
  }

  /** The last open stream closed: nothing more will be read (see the class comment). */
  streamsClosed(): void {
    this.finish();
  }
}
