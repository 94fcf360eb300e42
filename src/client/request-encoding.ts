import type { MethodDefinition } from '../codec/service-definition.js';
import { encodeMessage } from '../codec/message-writer.js';
import { RpcError } from '../errors.js';
import { Status } from '../status.js';
import type { ResolvedClientOptions } from './client-options.js';

/**
 * A request too large for a frame would make the server close the connection (GOAWAY
 * RESOURCE_EXHAUSTED), failing every call on it; this one alone fails instead, before it
 * is sent. The meta is estimated from what it holds: names, metadata, a few varints.
 */
export function checkFrameSize(
  body: Uint8Array,
  metadata: Record<string, string> | undefined,
  maxFrameBytes: number,
  site: { service: string; method: string; address: string },
): void {
  let size = body.length + site.service.length + site.method.length + 32;
  if (size <= maxFrameBytes && metadata === undefined) return;
  for (const key in metadata) size += Buffer.byteLength(key) + Buffer.byteLength(metadata[key]!) + 8;
  if (size > maxFrameBytes) {
    throw new RpcError(Status.RESOURCE_EXHAUSTED, `request of ${size} bytes is larger than maxFrameBytes (${maxFrameBytes}); not sent`, {
      ...site,
      notRun: 'unsent',
    });
  }
}

/** A request message checked against the method's type and encoded; INVALID_ARGUMENT naming the call's site when it is not one. */
export function encodeRequest(method: MethodDefinition, request: unknown, site: { service: string; method: string; address: string }): Uint8Array {
  const type = method.requestType;
  const problem = request === null || typeof request !== 'object' ? 'it is not an object' : type.verify(request as Record<string, unknown>);
  if (problem) throw new RpcError(Status.INVALID_ARGUMENT, `request is not a ${type.fullName.slice(1)}: ${problem}`, site);
  return encodeMessage(type, request as Record<string, unknown>);
}

/** Bodies at least this large go gzipped under `compression: 'gzip'` (requests and stream messages alike); none otherwise. */
export function gzipAboveBytes(options: Pick<ResolvedClientOptions, 'compression' | 'compressionThresholdBytes'>): number {
  return options.compression === 'gzip' ? options.compressionThresholdBytes : Infinity;
}
