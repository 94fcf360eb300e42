import type { ServerHttp2Stream } from 'node:http2';
import { gunzipSync } from 'node:zlib';
import { Status } from '../status.js';
import { GrpcFault, GrpcMessageReader } from './grpc-wire.js';

/** Largest request message a built-in service reads (its requests are a name or two). */
export const BUILTIN_MAX_MESSAGE_BYTES = 64 * 1024;

/**
 * Reads a built-in service's request messages off its stream, each uncompressed,
 * handing each to `onMessage`; `onEnd` when the client half-closes; `onFault` (once, and
 * nothing more is read) for a malformed, oversized or undecodable one.
 */
export function readRequests(stream: ServerHttp2Stream, onMessage: (body: Uint8Array) => void, onEnd: () => void, onFault: (fault: GrpcFault) => void): void {
  let failed = false;
  const fail = (err: unknown): void => {
    failed = true;
    onFault(err instanceof GrpcFault ? err : new GrpcFault(Status.INTERNAL, (err as Error).message));
    stream.resume();
  };
  const reader = new GrpcMessageReader(BUILTIN_MAX_MESSAGE_BYTES, undefined, (message) => {
    onMessage(message.compressed ? gunzipSync(message.body, { maxOutputLength: BUILTIN_MAX_MESSAGE_BYTES }) : message.body);
  });
  stream.on('data', (chunk: Buffer) => {
    if (failed) return;
    try {
      reader.push(chunk);
    } catch (err) {
      fail(err);
    }
  });
  stream.on('end', () => {
    if (failed) return;
    try {
      reader.end();
    } catch (err) {
      fail(err);
      return;
    }
    onEnd();
  });
}
