import http2, { type ServerHttp2Stream } from 'node:http2';
import { debuglog } from 'node:util';
import { Status } from '../status.js';
import { Compression } from '../protocol/constants.js';
import { bodyLength, type FrameBody } from '../protocol/frame.js';
import { encodeStatusMessage, GRPC_ACCEPT_ENCODING, GRPC_CONTENT_TYPE, MESSAGE_PREFIX_BYTES, messagePrefix, writeMetadata } from './grpc-wire.js';

const { NGHTTP2_NO_ERROR } = http2.constants;
const debug = debuglog('ringrpc');
type Metadata = Readonly<Record<string, string>>;
/** Replies up to this size leave as one buffer with their prefix; larger ones are not copied. */
const JOIN_BELOW_BYTES = 64 * 1024;

/**
 * The answering side of one gRPC call's HTTP/2 stream: response headers, the
 * length-prefixed reply, and the trailers that carry the status. It writes each answer at
 * most once, and never throws: a stream the client reset is simply not written to.
 */
export class GrpcExchange {
  /** Whether the response headers are out (a message stream's; a unary answer sends all at once). */
  private opened = false;
  /** The status the trailers carry, sent when the stream asks for them (after its last DATA). */
  private final: { status: number; message: string; metadata: Metadata | undefined } = { status: Status.OK, message: '', metadata: undefined };

  /**
   * @param stream the call's stream
   * @param gzipAccepted the client listed gzip in `grpc-accept-encoding`: a gzipped reply may go as it is
   * @param countOut told the bytes of each message written
   */
  constructor(
    readonly stream: ServerHttp2Stream,
    readonly gzipAccepted: boolean,
    private readonly countOut: (bytes: number) => void,
  ) {}

  /** False once the stream is closed or reset: nothing more can be written. */
  get writable(): boolean {
    return !this.stream.destroyed && !this.stream.closed && !this.stream.sentTrailers;
  }

  /**
   * Answers OK: headers, the reply as one message, trailers `grpc-status: 0`. The response
   * metadata goes with the headers (a unary call's) or, `trailing`, with the trailers (a
   * client stream's, as every stream's). No lane gzips a reply for a client that does not
   * take gzip (the call's `plainReplies`); one that did is a bug, answered INTERNAL.
   */
  sendOk(body: FrameBody, compression: number, metadata: Metadata | undefined, trailing = false): void {
    if (!this.writable || this.stream.headersSent) return;
    if (compression === Compression.GZIP && !this.gzipAccepted) {
      return this.sendStatus(Status.INTERNAL, 'a gzipped reply for a client that does not take gzip', undefined);
    }
    const gzip = compression === Compression.GZIP;
    const headers: Record<string, string | number> = { ':status': 200, 'content-type': GRPC_CONTENT_TYPE, 'grpc-accept-encoding': GRPC_ACCEPT_ENCODING };
    if (gzip) headers['grpc-encoding'] = 'gzip';
    if (trailing) this.final = { status: Status.OK, message: '', metadata };
    try {
      this.stream.respond(trailing ? headers : writeMetadata(metadata, headers), { waitForTrailers: true });
      this.stream.once('wantTrailers', () => this.trailers());
      this.writeMessage(body, gzip);
      this.stream.end();
    } catch (err) {
      debug('grpc: reply on stream %d not written: %s', this.stream.id, (err as Error).message);
    }
  }

  /**
   * Ends the call with a status (an error, or OK ending a stream that has no reply or sent
   * its replies): as a trailers-only response (one HEADERS frame with `grpc-status`,
   * `grpc-message` and the metadata), or as trailers after the messages when headers went out.
   */
  sendStatus(status: number, message: string, metadata: Metadata | undefined): void {
    if (!this.writable) return;
    try {
      if (this.opened) {
        this.final = { status, message, metadata };
        this.stream.end();
        return;
      }
      if (this.stream.headersSent) return;
      const headers: Record<string, string | number> = {
        ':status': 200,
        'content-type': GRPC_CONTENT_TYPE,
        'grpc-accept-encoding': GRPC_ACCEPT_ENCODING,
        'grpc-status': status,
      };
      if (message !== '') headers['grpc-message'] = encodeStatusMessage(message);
      this.stream.respond(writeMetadata(metadata, headers), { endStream: true });
    } catch (err) {
      debug('grpc: status on stream %d not written: %s', this.stream.id, (err as Error).message);
    }
  }

  /**
   * Stops the client's upload after the answer (RST_STREAM NO_ERROR, as HTTP/2 lets a
   * server that has answered do): for a message too large or malformed to read, whose rest
   * would otherwise still arrive.
   */
  stopUpload(): void {
    // After the status: a stream's trailers wait for its last DATA ('wantTrailers').
    if (this.opened && !this.stream.sentTrailers && !this.stream.destroyed) {
      this.stream.once('wantTrailers', () => this.stopUpload());
      return;
    }
    // A turn later, once the answer's frames are out: Node 22 drops an answer still queued
    // behind a RST_STREAM submitted in the same turn, and the client never sees its status.
    setImmediate(() => {
      const stream = this.stream;
      if (!stream.destroyed && !stream.closed && !stream.readableEnded) stream.close(NGHTTP2_NO_ERROR);
    });
  }

  /** An answer that is not gRPC's, for a request that is not gRPC (wrong method or content type). */
  sendHttpError(httpStatus: number): void {
    if (!this.writable || this.stream.headersSent) return;
    try {
      this.stream.respond({ ':status': httpStatus }, { endStream: true });
    } catch (err) {
      debug('grpc: HTTP %d on stream %d not written: %s', httpStatus, this.stream.id, (err as Error).message);
    }
  }

  /**
   * A streaming answer: sends the response headers, once; `gzip`, with `grpc-encoding: gzip`
   * (then any message may be gzipped, each saying so in its prefix), for a client that takes it.
   */
  open(gzip = false): void {
    if (this.opened || !this.writable) return;
    this.opened = true;
    const headers: Record<string, string | number> = { ':status': 200, 'content-type': GRPC_CONTENT_TYPE, 'grpc-accept-encoding': GRPC_ACCEPT_ENCODING };
    if (gzip && this.gzipAccepted) headers['grpc-encoding'] = 'gzip';
    this.stream.respond(headers, { waitForTrailers: true });
    this.stream.once('wantTrailers', () => this.trailers());
  }

  /**
   * One more message of a streaming answer (after {@link open}); false when HTTP/2 holds
   * it back (the client's window is spent and the stream's buffer is full): write no more
   * until the stream's 'drain'.
   */
  writeMessage(body: FrameBody, gzip = false): boolean {
    const length = bodyLength(body);
    let room: boolean;
    if (body instanceof Uint8Array && length < JOIN_BELOW_BYTES) {
      const message = messagePrefix(gzip, length, MESSAGE_PREFIX_BYTES + length);
      message.set(body, MESSAGE_PREFIX_BYTES);
      room = this.stream.write(message);
    } else {
      room = this.stream.write(messagePrefix(gzip, length));
      for (const piece of body instanceof Uint8Array ? [body] : body) room = this.stream.write(piece);
    }
    this.countOut(MESSAGE_PREFIX_BYTES + length);
    return room;
  }

  /** Ends a streaming answer OK (its trailers follow, when the stream asks for them). */
  end(): void {
    if (this.writable) this.stream.end();
  }

  private trailers(): void {
    if (this.stream.destroyed || this.stream.closed || this.stream.sentTrailers) return;
    const { status, message, metadata } = this.final;
    const trailers: Record<string, string | number> = { 'grpc-status': status };
    if (message !== '') trailers['grpc-message'] = encodeStatusMessage(message);
    try {
      this.stream.sendTrailers(writeMetadata(metadata, trailers));
    } catch (err) {
      debug('grpc: trailers on stream %d not written: %s', this.stream.id, (err as Error).message);
    }
  }
}
