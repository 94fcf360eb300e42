import type { RpcError } from '../errors.js';
import { Compression, NOT_RUN_METADATA_KEY, RESERVED_METADATA_PREFIX } from '../protocol/constants.js';
import { encodeMeta } from '../protocol/meta.js';

const EMPTY = new Uint8Array(0);
type Metadata = Readonly<Record<string, string>>;

/**
 * The Meta of an OK RESPONSE: the handler's response metadata and the body's compression.
 * Empty (0 bytes, all defaults) when there is neither, which is most replies.
 */
export function okMeta(metadata: Metadata | undefined, compression: Compression): Uint8Array {
  if (metadata === undefined && compression === Compression.NONE) return EMPTY;
  return encodeMeta({ metadata: metadata === undefined ? undefined : withoutReserved(metadata), compression });
}

/**
 * The Meta of an error RESPONSE: status, message, and the error's metadata with the
 * handler's response metadata over it (what the handler set last wins). Neither may carry
 * ringrpc's reserved keys: `ringrpc-not-run` is written here from `error.notRun` alone,
 * which only the server's own layers set (the pipeline clears it on a handler's error).
 */
export function errorMeta(error: RpcError, metadata?: Metadata): Uint8Array {
  return encodeMeta({ status: error.code, message: error.rawMessage, metadata: errorMetadata(error, metadata) });
}

/** The metadata of an error answer, as {@link errorMeta} encodes it (a gRPC answer sends it as trailers). */
export function errorMetadata(error: RpcError, metadata?: Metadata): Metadata {
  let md = withoutReserved(error.metadata);
  if (metadata !== undefined) md = { ...md, ...withoutReserved(metadata) };
  if (error.notRun !== undefined) md = { ...md, [NOT_RUN_METADATA_KEY]: '1' };
  return md;
}

/** The metadata of an OK answer without ringrpc's reserved keys, as {@link okMeta} encodes it. */
export function okMetadata(metadata: Metadata): Metadata {
  return withoutReserved(metadata);
}

/** `metadata` without keys under {@link RESERVED_METADATA_PREFIX} (the same object when it has none). */
function withoutReserved(metadata: Metadata): Metadata {
  let out: Record<string, string> | undefined;
  for (const key in metadata) {
    if (!key.startsWith(RESERVED_METADATA_PREFIX)) continue;
    out ??= { ...metadata };
    delete out[key];
  }
  return out ?? metadata;
}
