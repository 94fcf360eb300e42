import { Status } from '../status.js';
import { DEFAULT_STREAM_WINDOW, MAX_STREAM_CREDIT } from '../protocol/constants.js';
import type { FrameBody } from '../protocol/frame.js';
import { PipelineStream, type CallStream } from '../pipeline/stream-pipeline.js';
import type { ConnectionHost, HostedConnection } from '../server/connection-host.js';
import type { ServerCall } from '../server/server-call.js';
import type { CallLane } from '../server/router.js';
import type { GrpcExchange } from './grpc-exchange.js';
import { GrpcReplySink, GrpcThreadSink, WRITABLE } from './grpc-reply-sink.js';
import { GrpcRequestFeed } from './grpc-request-feed.js';

/**
 * Gives a gRPC call of a stream method its stream state, as a ringrpc connection does at
 * the REQUEST: on the inline lane the runner ({@link PipelineStream}, the same as for
 * ringrpc streams) with a sink that writes its replies as length-prefixed messages on the
 * call's HTTP/2 stream, its credit being whether that stream takes writes; on the worker
 * and actor lanes the lane's stream state, whose thread's byte credit HTTP/2 gives back. The requests of a client- or
 * bidirectional stream come through the feed returned (undefined for a server stream,
 * whose one request is read as a unary call's). The request window is the ringrpc default
 * (counting each message's 5-byte prefix and bytes): what the handler may leave unread
 * before HTTP/2 makes the client wait.
 *
 * @param gzip the call's `grpc-encoding` is gzip
 * @param onReserve, fail as the feed takes them
 */
export function openGrpcStream(
  call: ServerCall,
  lane: CallLane,
  exchange: GrpcExchange,
  gzip: boolean,
  host: ConnectionHost<HostedConnection>,
  onReserve: (delta: number) => void,
  fail: (err: unknown) => void,
): GrpcRequestFeed | undefined {
  const maxBytes = host.options.maxFrameBytes;
  let stream: CallStream;
  let sink: GrpcReplySink | GrpcThreadSink;
  if (lane.openStream === undefined) {
    const inline = new GrpcReplySink(exchange);
    stream = inline.runner = new PipelineStream(call, inline, {
      receiveWindow: DEFAULT_STREAM_WINDOW,
      sendWindow: WRITABLE,
      maxCredit: WRITABLE,
      maxBytes,
    });
    sink = inline;
  } else {
    // The handler runs on a thread, which counts its credit in bytes: HTTP/2 gives it back (GrpcThreadSink).
    const onThread = new GrpcThreadSink(exchange);
    stream = onThread.stream = lane.openStream(call, onThread, {
      receiveWindow: DEFAULT_STREAM_WINDOW,
      sendWindow: DEFAULT_STREAM_WINDOW,
      maxCredit: MAX_STREAM_CREDIT,
      maxBytes,
    });
    sink = onThread;
  }
  call.stream = stream;
  if (stream.requests === undefined) return undefined;
  sink.feed = new GrpcRequestFeed(exchange.stream, stream.requests, DEFAULT_STREAM_WINDOW, gzip, host, onReserve, fail);
  return sink.feed;
}

/** Why a gRPC call is answered UNIMPLEMENTED before it is taken, if it is: a `grpc-encoding` the server does not have. */
export function unservedEncoding(encoding: string | undefined): string | undefined {
  if (encoding !== undefined && encoding !== 'identity' && encoding !== 'gzip') {
    return `grpc-encoding ${JSON.stringify(encoding)} is not supported (identity, gzip)`;
  }
  return undefined;
}

/**
 * Answers OK, the gRPC way for the call's kind: a unary call's reply with its metadata in
 * the headers; for a stream, trailers after the replies already sent (server and
 * bidirectional streams), or the one reply with its metadata trailing (a client stream).
 */
export function answerOk(
  exchange: GrpcExchange,
  call: ServerCall,
  body: FrameBody,
  compression: number,
  metadata: Readonly<Record<string, string>> | undefined,
): void {
  if (call.stream === undefined) exchange.sendOk(body, compression, metadata);
  else if (call.definition.kind !== 'client_stream') exchange.sendStatus(Status.OK, '', metadata);
  else exchange.sendOk(body, compression, metadata, true);
}
