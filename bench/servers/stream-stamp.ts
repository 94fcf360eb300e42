/**
 * Stream bench messages carry the server's wall time when it produced them (a float64,
 * little-endian, in the payload's first 8 bytes), so a client in another process can time
 * each message from production to arrival: both read the same system clock.
 */

/** Bytes of the stamp at the start of a payload. */
export const STAMP_BYTES = 8;

/** When this process's `performance.now()` was 0, in epoch ms (read once: it is a getter). */
const ORIGIN = performance.timeOrigin;

/** Now, in epoch ms with sub-millisecond precision, comparable across processes. */
export function wallNow(): number {
  return ORIGIN + performance.now();
}

/** A payload of `bytes` bytes (at least the stamp's 8) stamped with the current time. */
export function stampedPayload(bytes: number): Buffer {
  const payload = Buffer.alloc(Math.max(STAMP_BYTES, bytes));
  payload.writeDoubleLE(wallNow(), 0);
  return payload;
}

/** The stamp of a payload at `offset` of `buf`. */
export function readStamp(buf: Uint8Array, offset: number): number {
  return Buffer.from(buf.buffer, buf.byteOffset + offset, STAMP_BYTES).readDoubleLE(0);
}
