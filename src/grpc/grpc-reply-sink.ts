import { Compression } from '../protocol/constants.js';
import { messageCost } from '../protocol/meta.js';
import type { CallStream, PipelineStream, StreamSink } from '../pipeline/stream-pipeline.js';
import type { GrpcExchange } from './grpc-exchange.js';
import type { GrpcRequestFeed } from './grpc-request-feed.js';

/**
 * The runner's credit for a gRPC stream's replies is the writable state of its HTTP/2
 * stream, not a count of bytes: 1 while a write is taken, 0 from a `write()` that returned
 * false (HTTP/2 holds the replies back: the client's window is spent, the stream's buffer
 * full) until its 'drain'. So the generator is pulled only while HTTP/2 lets the stream
 * write, and at most one reply waits beyond the stream's buffer.
 */
export const WRITABLE = 1;

/**
 * Where a gRPC stream's replies and grants go: each reply is a length-prefixed message on
 * the call's HTTP/2 stream (the response headers before the first); a grant is the request
 * feed reading on (HTTP/2 gives the client its window back as node takes the DATA).
 */
export class GrpcReplySink implements StreamSink {
  /** The runner whose credit the stream's 'drain' gives back; set once it exists. */
  runner: PipelineStream | undefined;
  /** The feed of a client- or bidirectional stream's requests. */
  feed: GrpcRequestFeed | undefined;

  /** HTTP/2 keeps what it is given to write. */
  readonly copiesBelow = 0;

  constructor(private readonly exchange: GrpcExchange) {}

  message(body: Uint8Array, compression: Compression): number {
    const exchange = this.exchange;
    if (!exchange.writable) return WRITABLE; // reset: the call is being cancelled, its runner stops
    exchange.open(true);
    if (exchange.writeMessage(body, compression === Compression.GZIP)) return 0;
    exchange.stream.once('drain', () => this.runner?.grant(WRITABLE));
    return WRITABLE;
  }

  grant(bytes: number): void {
    this.feed?.grant(bytes);
  }
}

/**
 * Where the replies of a gRPC stream whose handler runs on a worker or actor thread go. The
 * thread counts its credit in bytes, in shared memory (thread-stream.ts), as it does for a
 * ringrpc client; here HTTP/2 stands in for that client: each reply's cost is given back
 * once HTTP/2 has taken the message (at once, or at the stream's 'drain'), so what waits
 * beyond HTTP/2's own buffer is at most the window. Grants of requests go to the feed, as
 * for {@link GrpcReplySink}. A client that takes no gzip gets plain replies: the thread
 * was told so (the call's `plainReplies`), so nothing is unzipped on the reactor.
 */
export class GrpcThreadSink implements StreamSink {
  /** The call's stream state, whose credit the taken replies give back; set once it exists. */
  stream: CallStream | undefined;
  feed: GrpcRequestFeed | undefined;
  /** Cost of the replies HTTP/2 holds back, given back at its 'drain'. */
  private held = 0;
  /** HTTP/2 keeps what it is given to write. */
  readonly copiesBelow = 0;

  constructor(private readonly exchange: GrpcExchange) {}

  message(body: Uint8Array, compression: Compression): number {
    const cost = messageCost(body.length, compression);
    const exchange = this.exchange;
    if (!exchange.writable) return cost; // reset: the call is being cancelled, its thread stops
    const gzip = compression === Compression.GZIP;
    // The thread sends plain replies to a client that takes no gzip (the call's plainReplies): one
    // gzipped here is a bug, and fails its call (lane-streams.ts), never unzipped on the reactor.
    if (gzip && !exchange.gzipAccepted) throw new Error('a gzipped reply for a client that does not take gzip');
    exchange.open(true);
    if (exchange.writeMessage(body, gzip)) {
      this.stream?.grant(cost);
      return cost;
    }
    if (this.held === 0) {
      exchange.stream.once('drain', () => {
        const bytes = this.held;
        this.held = 0;
        this.stream?.grant(bytes);
      });
    }
    this.held += cost;
    return cost;
  }

  grant(bytes: number): void {
    this.feed?.grant(bytes);
  }
}
