/**
 * Which connection's answers are being handled: from the start of its read until the
 * promise continuations that read resolved have run. A call started meanwhile (the next
 * call of a caller whose last one was just answered) may go out on that connection
 * instead of the next in turn (see `EndpointConnections.acquire`): the answers of one
 * read then start calls on one connection, which leave in one write, and the server
 * reads them as one batch, where spreading them in turn cost a write (and a server read)
 * per connection for every read.
 */
let reading: object | undefined;

/** The connection whose read is being handled now, if any. */
export function readingConnection(): object | undefined {
  return reading;
}

/** `connection`'s read is being handled. */
export function startRead(connection: object): void {
  reading = connection;
}

/**
 * The read is decoded: the continuations it resolved are queued as microtasks, and
 * run before this, queued after them, ends the read's affinity.
 */
export function endRead(): void {
  queueMicrotask(clearRead);
}

function clearRead(): void {
  reading = undefined;
}
