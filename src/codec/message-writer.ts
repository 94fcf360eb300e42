import type protobuf from 'protobufjs';
import { Int64Writer } from './int64.js';

/** What a message type needs to be encoded here (a protobufjs `Type`, or a generated class). */
export interface Encodable {
  encode(message: Record<string, unknown>, writer?: protobuf.Writer): protobuf.Writer;
}

/**
 * The shared writer's buffer is kept between encodings up to this size; a writer that grew
 * past it (one large message) is replaced, so a thread does not hold the largest message
 * it ever encoded.
 */
const KEEP_BYTES = 64 * 1024;

/**
 * One writer per thread, reused: `undefined` while an encoding is under way (see
 * {@link encodeMessage}). An `Int64Writer`, the writer of the encoders of types with 64-bit
 * fields (message-codec.ts), whose 64-bit writes also take bigints: a plain protobufjs
 * writer handed to such an encoder would write a bigint as 0.
 */
let shared: protobuf.Writer | undefined = new Int64Writer();

/**
 * `value` encoded as `type`. protobufjs's own `type.encode(value).finish()` makes a writer,
 * with a buffer of its own, for every message, then a second buffer for the result: two
 * allocations and a copy per reply. Here one writer per thread is reused, and the result
 * is either a copy in a buffer of its own, or, when it is shorter than `borrowBelow`
 * bytes, a view of the writer's buffer, valid only until the next encoding on this thread:
 * for a caller that copies it at once (a frame writer copies small bodies into its batch)
 * that is one allocation fewer again. `borrowBelow` 0 (the default): always a copy.
 *
 * An encoding that starts while another is under way (a getter on a message that encodes
 * another) gets a writer of its own.
 */
export function encodeMessage(type: Encodable, value: Record<string, unknown>, borrowBelow = 0): Uint8Array {
  const writer = shared ?? new Int64Writer();
  shared = undefined;
  try {
    // From the start, whatever an encoding that threw left behind (a fork's state).
    writer.pos = 0;
    writer.states = null;
    type.encode(value, writer);
    return writer.pos < borrowBelow ? writer.finish(true) : writer.finish();
  } finally {
    // A writer whose buffer grew large is dropped with it; the others serve the next message.
    if (writer.buf.length <= KEEP_BYTES) shared = writer;
    else shared ??= new Int64Writer();
  }
}
