import type { RpcError } from '../errors.js';
import { Compression } from '../protocol/constants.js';
import { encodeMeta } from '../protocol/meta.js';

const EMPTY = new Uint8Array(0);

/**
 * The Meta of an OK RESPONSE: the handler's response metadata and the body's compression.
 * Empty (0 bytes, all defaults) when there is neither, which is most replies.
 */
export function okMeta(metadata: Readonly<Record<string, string>> | undefined, compression: Compression): Uint8Array {
  if (metadata === undefined && compression === Compression.NONE) return EMPTY;
  return encodeMeta({ metadata, compression });
}

/**
 * The Meta of an error RESPONSE: status, message, and the error's metadata with the
 * handler's response metadata over it (what the handler set last wins).
 */
export function errorMeta(error: RpcError, metadata?: Readonly<Record<string, string>>): Uint8Array {
  const md = metadata === undefined ? error.metadata : { ...error.metadata, ...metadata };
  return encodeMeta({ status: error.code, message: error.rawMessage, metadata: md });
}
