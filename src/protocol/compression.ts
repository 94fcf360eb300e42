import { gzip, gunzip, gzipSync, gunzipSync, constants as zlibConstants } from 'node:zlib';
import { promisify } from 'node:util';
import { Status } from '../status.js';
import { Compression } from './constants.js';

const gzipAsync = promisify(gzip);
const gunzipAsync = promisify(gunzip);

/** Default size above which bodies are gzipped: 1 KiB (smaller bodies rarely shrink enough). */
export const DEFAULT_COMPRESSION_THRESHOLD_BYTES = 1024;

/** gzip level: speed and ratio balanced for RPC payloads. */
const LEVEL = { level: zlibConstants.Z_DEFAULT_COMPRESSION };

/** Raised when a body cannot be decompressed; the call is answered INVALID_ARGUMENT. */
export class CompressionError extends Error {
  override readonly name = 'CompressionError';
  constructor(
    readonly status: Status,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * Decompresses a body according to `Meta.compression` (spec §Compression). The output is
 * capped at `maxBytes`, because decompressed size counts against the frame limit: a small
 * gzip bomb must not balloon into gigabytes. Runs on libuv's thread pool, off the reactor.
 */
export async function decompress(body: Uint8Array, compression: number, maxBytes: number): Promise<Uint8Array> {
  if (compression === Compression.NONE) return body;
  checkCompression(compression);
  try {
    return await gunzipAsync(body, { maxOutputLength: maxBytes });
  } catch (err) {
    throw gunzipFailed(err, maxBytes);
  }
}

/**
 * {@link decompress} on the calling thread, for a thread that is already off the reactor
 * (a worker), where a hop to libuv's pool would only add latency.
 */
export function decompressSync(body: Uint8Array, compression: number, maxBytes: number): Uint8Array {
  if (compression === Compression.NONE) return body;
  checkCompression(compression);
  try {
    return gunzipSync(body, { maxOutputLength: maxBytes });
  } catch (err) {
    throw gunzipFailed(err, maxBytes);
  }
}

/** Gzips a body on libuv's thread pool. */
export function compress(body: Uint8Array): Promise<Buffer> {
  return gzipAsync(body, LEVEL);
}

/** Gzips a body on the calling thread (see {@link decompressSync}). */
export function compressSync(body: Uint8Array): Buffer {
  return gzipSync(body, LEVEL);
}

function checkCompression(compression: number): void {
  if (compression !== Compression.GZIP) {
    throw new CompressionError(Status.INVALID_ARGUMENT, `unsupported compression ${compression} (expected 0 NONE or 1 GZIP)`);
  }
}

function gunzipFailed(err: unknown, maxBytes: number): CompressionError {
  const tooBig = (err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE';
  return new CompressionError(
    Status.INVALID_ARGUMENT,
    tooBig ? `decompressed body exceeds the limit of ${maxBytes} bytes` : `body does not decompress as gzip: ${(err as Error).message}`,
    { cause: err },
  );
}
