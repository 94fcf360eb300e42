import { Compression } from '../protocol/constants.js';
import type { PipelineStream, StreamSink } from '../pipeline/stream-pipeline.js';
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
