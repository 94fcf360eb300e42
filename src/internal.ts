/**
 * Internals for tests, benchmarks, workers and other ringrpc packages.
 * @internal Not part of the public API; does not follow semantic versioning.
 */
export * from './index.js';
export {
  MAGIC,
  VERSION,
  HEADER_BYTES,
  DEFAULT_MAX_FRAME_BYTES,
  MAX_REQUEST_ID,
  FrameType,
  Compression,
  frameTypeName,
  RINGRPC_ALPN,
} from './protocol/constants.js';
export { bodyLength, encodeFrame, encodeHead, writeHeader, type Frame, type FrameBody } from './protocol/frame.js';
export { FrameDecoder, FrameError } from './protocol/frame-decoder.js';
export { decodeMeta, encodeMeta, MetaError, type Meta, type MetaInit } from './protocol/meta.js';
export { compress, decompress, CompressionError, DEFAULT_COMPRESSION_THRESHOLD_BYTES } from './protocol/compression.js';
export { RequestIdAllocator } from './protocol/request-id-allocator.js';
export { FrameWriter } from './transport/frame-writer.js';
export { ReadGate, READ_BUDGET_BYTES } from './server/read-gate.js';
export { generateTypes } from './codec/generate-types.js';
export { encodeSplit } from './codec/split-encode.js';
export { statusFromSystemError } from './errors.js';
export { channels } from './util/diagnostics.js';
