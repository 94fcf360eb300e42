import { DEFAULT_STREAM_WINDOW } from '../protocol/constants.js';
import { PipelineStream } from '../pipeline/stream-pipeline.js';
import type { ConnectionHost, HostedConnection } from '../server/connection-host.js';
import type { ServerCall } from '../server/server-call.js';
import type { Route } from '../server/router.js';
import type { GrpcExchange } from './grpc-exchange.js';
import { GrpcReplySink, WRITABLE } from './grpc-reply-sink.js';
import { GrpcRequestFeed } from './grpc-request-feed.js';

/**
 * Gives a gRPC call of a stream method its stream state, as a ringrpc connection does at
 * the REQUEST: the runner ({@link PipelineStream}, the same as for ringrpc streams) with a
 * sink that writes its replies as length-prefixed messages on the call's HTTP/2 stream,
 * its credit being whether that stream takes writes. The requests of a client- or
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
  exchange: GrpcExchange,
  gzip: boolean,
  host: ConnectionHost<HostedConnection>,
  onReserve: (delta: number) => void,
  fail: (err: unknown) => void,
): GrpcRequestFeed | undefined {
  const sink = new GrpcReplySink(exchange);
  const runner = new PipelineStream(call, sink, {
    receiveWindow: DEFAULT_STREAM_WINDOW,
    sendWindow: WRITABLE,
    maxCredit: WRITABLE,
    maxBytes: host.options.maxFrameBytes,
    gzipReplies: exchange.gzipAccepted,
  });
  call.stream = sink.runner = runner;
  if (runner.requests === undefined) return undefined;
  sink.feed = new GrpcRequestFeed(exchange.stream, runner.requests, DEFAULT_STREAM_WINDOW, gzip, host, onReserve, fail);
  return sink.feed;
}

/**
 * Why a gRPC call of `route` is answered UNIMPLEMENTED before it is taken, if it is: a
 * `grpc-encoding` the server does not have, or a stream whose handler runs on a worker or
 * actor thread (those streams are served over ringrpc's protocol only, for now).
 */
export function unservedCall(route: Route, encoding: string | undefined): string | undefined {
  if (encoding !== undefined && encoding !== 'identity' && encoding !== 'gzip') {
    return `grpc-encoding ${JSON.stringify(encoding)} is not supported (identity, gzip)`;
  }
  if (route.method.kind !== 'unary' && route.lane.openStream !== undefined) {
    return `${route.method.path} streams on the ${route.lane.name} lane, whose streams are served over ringrpc's protocol only, not over gRPC`;
  }
  return undefined;
}
