import type { MethodDefinition } from '../codec/service-definition.js';
import { RpcError } from '../errors.js';
import { Status } from '../status.js';
import { Compression, DEFAULT_STREAM_WINDOW, FrameType, HEADER_BYTES, MAX_STREAM_CREDIT } from '../protocol/constants.js';
import { decompress } from '../protocol/compression.js';
import type { Frame } from '../protocol/frame.js';
import { decodeMeta, GZIP_MESSAGE_META, messageCost } from '../protocol/meta.js';
import type { Channel } from './channel.js';
import type { CallListener, PendingCall } from './pending-call.js';
import type { ChannelCall, StreamPeer } from './request-writer.js';

/** How a stream ended: OK with its RESPONSE's reply (a client stream's; empty for the others), or with an error. */
export type StreamEnd = { readonly ok: true; readonly reply: unknown } | { readonly ok: false; readonly error: RpcError };

/**
 * - `opening`: not on a connection yet (interceptors run, the registry's first list is awaited);
 * - `open`: its REQUEST is on `channel` as `pending`, which owns its deadline and ends it on
 *   RESPONSE, deadline, GOAWAY or connection loss;
 * - `ended`: settled once, with `end`.
 */
type StreamState =
  | { readonly kind: 'opening' }
  | { readonly kind: 'open'; readonly channel: Channel; readonly pending: PendingCall }
  | { readonly kind: 'ended'; readonly end: StreamEnd };

/** What {@link StreamCall.poll} gives its reader: a reply, nothing yet, or the end (after every reply before it). */
export type StreamPoll = { readonly kind: 'reply'; readonly reply: unknown } | { readonly kind: 'wait' } | { readonly kind: 'end'; readonly end: StreamEnd };

const WAIT: StreamPoll = Object.freeze({ kind: 'wait' });
const EMPTY = Buffer.alloc(0);
/** A CREDIT's body; the frame writer copies it before `frame()` returns, so one serves every grant. */
const GRANT = Buffer.alloc(4);

/** A reply received and not yet read; `reply` is set once `ready` (a gzipped one decompresses first). */
interface QueuedReply {
  readonly size: number;
  ready: boolean;
  reply: unknown;
  /** Set when it does not decode: the stream fails there, after the replies before it. */
  error: RpcError | undefined;
}

/**
 * One streaming call on the client (spec §Streams): the flow control of both directions,
 * the replies received and not yet read, and the stream's one end.
 *
 * Replies: the server may send while the credit it holds (the window, plus what was
 * granted, minus what it sent) is above 0; a MESSAGE beyond that is a server fault and
 * fails the stream INTERNAL (the connection stays). Credit is granted back as the reader
 * {@link poll}s replies out, once half the window was read since the last grant, so a
 * reader that stops reading holds at most the window plus one MESSAGE.
 *
 * Requests: {@link send} while {@link hasCredit} (65,536 plus the server's CREDITs minus
 * the bytes sent); {@link creditOrEnd} waits for more without polling.
 *
 * Ends: the server's RESPONSE, the deadline, GOAWAY and a lost connection end it through
 * its {@link PendingCall} (this is its listener); a fault of the server's (beyond the
 * window, undecodable) through {@link abandon}, which also sends CANCEL; the caller through
 * {@link cancel}, which drops the replies not read. Every other end is read after the
 * replies that came before it.
 */
export class StreamCall implements CallListener, StreamPeer {
  private state: StreamState = { kind: 'opening' };
  private replies: QueuedReply[] = [];
  private head = 0;
  /** Bytes of MESSAGEs the server may still send (may be ≤ 0: it must wait). */
  private serverCredit: number;
  /** Bytes read since the last CREDIT sent. */
  private unreported = 0;
  /** Bytes of MESSAGEs this client may still send (spec: the client's window is always 65,536). */
  private sendCredit = DEFAULT_STREAM_WINDOW;
  private wakeSender: (() => void) | undefined;
  private readonly endHooks: Array<(end: StreamEnd) => void> = [];
  /**
   * What was sent after the REQUEST while the server has shown nothing of the stream (no
   * MESSAGE, no CREDIT): kept, so that a resend sends it again. It is at most the window and
   * one message (no more may be sent without the server's CREDIT). Undefined once the server
   * has shown it runs the stream: from then on it is never sent again.
   */
  private unconfirmed: { readonly bodies: Array<readonly [Uint8Array, Compression]>; halfClosed: boolean } | undefined = {
    bodies: [],
    halfClosed: false,
  };
  /** Times it was sent again (see {@link resend}). */
  private sends = 0;
  /** Tells the caller the trailing metadata, once the reader reaches the end (see {@link metadataHook}). */
  private trailing: (() => void) | undefined;
  /**
   * Set by the stub: asked when the stream fails with a `notRun` error before the server
   * showed anything of it (see {@link unconfirmed}), whether to send it again elsewhere
   * (a transparent resend, as a unary call's). It returns the resend, run once the stream is
   * back in `opening`, or undefined to let the stream fail.
   */
  resend: ((error: RpcError) => (() => void) | undefined) | undefined;

  /**
   * @param window the client's initial window for the server's MESSAGEs (`Meta.window`)
   * @param readsReplies true for server and bidirectional streams: a MESSAGE on any other is a fault
   * @param onReadable told when a reply may be ready to {@link poll}, and when the stream ends
   */
  constructor(
    readonly method: MethodDefinition,
    readonly window: number,
    private readonly readsReplies: boolean,
    private readonly maxFrameBytes: number,
    private readonly onReadable: () => void,
  ) {
    this.serverCredit = window;
  }

  /** How it ended; undefined while it runs. */
  get end(): StreamEnd | undefined {
    return this.state.kind === 'ended' ? this.state.end : undefined;
  }

  /** True while requests may still be sent (it has not ended). */
  get sending(): boolean {
    return this.state.kind !== 'ended';
  }

  /** True when the stream is open and holds credit for a MESSAGE. */
  get hasCredit(): boolean {
    return this.state.kind === 'open' && this.sendCredit > 0;
  }

  /** Where it runs: service, method and, once open, the connection's address (for errors). */
  site(): { service: string; method: string; address?: string } {
    const s = this.state;
    return { service: this.method.service, method: this.method.name, address: s.kind === 'open' ? s.channel.address : undefined };
  }

  /** Calls `hook` once with the end (at once if it has ended). */
  onEnd(hook: (end: StreamEnd) => void): void {
    const end = this.end;
    if (end !== undefined) hook(end);
    else this.endHooks.push(hook);
  }

  /** Sends the REQUEST of `call` (whose `stream` is this) on `channel`; a channel that refuses it ends the stream. */
  open(channel: Channel, call: ChannelCall): void {
    if (this.state.kind !== 'opening') return;
    const sends = this.sends;
    const pending = channel.start(call, this);
    // Refused at once, ended, or already sent again from within `start` (a failure there): not this send's to record.
    if (pending === undefined || this.state.kind !== 'opening' || this.sends !== sends) return;
    this.state = { kind: 'open', channel, pending };
    const kept = this.unconfirmed;
    if (kept !== undefined && this.sends > 0) {
      // Sent again: what the instance that never ran it had been sent.
      for (const [body, compression] of kept.bodies) this.write(body, compression);
      if (kept.halfClosed) channel.write(FrameType.HALF_CLOSE, pending.requestId);
    }
    this.wake(); // a request pump that started while the stream waited for an instance
  }

  /** @internal The RESPONSE was OK (see {@link CallListener}). */
  onReply(reply: unknown): void {
    this.finish({ ok: true, reply });
  }

  /** @internal The stream failed: error RESPONSE, deadline, GOAWAY, lost connection, or {@link abandon} (see {@link CallListener}). */
  onError(error: RpcError): void {
    const again = this.state.kind !== 'ended' && this.unconfirmed !== undefined && error.notRun !== undefined ? this.resend?.(error) : undefined;
    if (again === undefined) return this.finish({ ok: false, error });
    // Provably never run, and nothing of it came back: open it afresh (open() sends the requests again).
    this.sends++;
    this.state = { kind: 'opening' };
    this.serverCredit = this.window;
    this.sendCredit = DEFAULT_STREAM_WINDOW;
    again();
  }

  /** Ends the stream with `error` at once, dropping the replies not read; CANCEL tells the server if it was open. */
  cancel(error: RpcError): void {
    if (this.state.kind === 'ended') return;
    this.replies = [];
    this.head = 0;
    this.abandon(error);
  }

  /** Ends the stream with `error` after the replies already received; CANCEL tells the server if it was open. */
  abandon(error: RpcError, cancelMeta?: Uint8Array): void {
    const s = this.state;
    if (s.kind === 'ended') return;
    // Ended by this side: never sent again, whatever the error says (a request too large is `unsent`).
    this.unconfirmed = undefined;
    if (s.kind === 'opening') return this.finish({ ok: false, error });
    s.pending.reject(error); // ends it through onError
    s.channel.write(FrameType.CANCEL, s.pending.requestId, cancelMeta);
  }

  /** The next reply, `wait`, or the end once every reply before it was read. Reading grants credit back. */
  poll(): StreamPoll {
    if (this.head < this.replies.length) {
      const entry = this.replies[this.head]!;
      if (entry.error !== undefined) {
        this.replies = [];
        this.head = 0;
        return { kind: 'end', end: { ok: false, error: entry.error } };
      }
      if (!entry.ready) return WAIT;
      this.replies[this.head++] = undefined as unknown as QueuedReply; // let it go now
      if (this.head === this.replies.length) {
        this.replies.length = 0;
        this.head = 0;
      } else if (this.head >= 1024 && this.head * 2 >= this.replies.length) {
        this.replies = this.replies.slice(this.head);
        this.head = 0;
      }
      this.consumed(entry.size);
      return { kind: 'reply', reply: entry.reply };
    }
    const end = this.end;
    if (end === undefined) return WAIT;
    const tell = this.trailing;
    if (tell !== undefined) {
      this.trailing = undefined;
      try {
        tell();
      } catch (err) {
        // The caller's own callback failed: its reader gets that, as a unary call's caller does.
        return { kind: 'end', end: { ok: false, error: RpcError.from(err, Status.UNKNOWN, this.site()) } };
      }
    }
    return { kind: 'end', end };
  }

  /**
   * The `onMetadata` to give the channel for this stream. A stream with replies tells its
   * trailing metadata when its reader reaches the end, after every reply before it, not as
   * the RESPONSE arrives (while replies may still wait unread). If the callback throws, the
   * reader gets that error (UNKNOWN); the stream itself ended as the server said, and so
   * its interceptors and attempt spans see it.
   */
  metadataHook(onMetadata: ((metadata: Readonly<Record<string, string>>) => void) | undefined): typeof onMetadata {
    if (onMetadata === undefined || !this.readsReplies) return onMetadata;
    return (metadata) => {
      this.trailing = () => onMetadata(metadata);
    };
  }

  /** Resolves once the stream holds credit again, or has ended. */
  creditOrEnd(): Promise<void> {
    if (!this.sending || this.hasCredit) return Promise.resolve();
    return new Promise((resolve) => (this.wakeSender = resolve));
  }

  /** Sends one request (its encoded body, gzipped or not) as a MESSAGE; the caller checked {@link hasCredit}. */
  send(body: Uint8Array, compression: Compression = Compression.NONE): void {
    if (this.state.kind === 'ended') return;
    this.unconfirmed?.bodies.push([body, compression]);
    this.write(body, compression); // while it is opening again, open() sends it
  }

  /** Tells the server no more requests come (HALF_CLOSE). */
  halfClose(): void {
    if (this.unconfirmed !== undefined) this.unconfirmed.halfClosed = true;
    const s = this.state;
    if (s.kind === 'open') s.channel.write(FrameType.HALF_CLOSE, s.pending.requestId);
  }

  private write(body: Uint8Array, compression: Compression): void {
    const s = this.state;
    if (s.kind !== 'open') return;
    this.sendCredit -= messageCost(body.length, compression);
    s.channel.write(FrameType.MESSAGE, s.pending.requestId, compression === Compression.GZIP ? GZIP_MESSAGE_META : EMPTY, body);
  }

  /** @internal A MESSAGE or CREDIT of this stream (see {@link StreamPeer}). */
  onFrame(frame: Frame): void {
    if (this.state.kind !== 'open') return;
    this.unconfirmed = undefined; // the server runs it: it is never sent again
    if (frame.type === FrameType.CREDIT) return this.onCredit(frame.body);
    const size = HEADER_BYTES + frame.meta.length + frame.body.length;
    if (!this.readsReplies) return this.fault(`server sent a MESSAGE on a ${this.method.kind.replace('_', ' ')}, which has no reply stream`);
    if (this.serverCredit <= 0) {
      return this.fault(`server sent a MESSAGE of ${size} bytes with no credit left of the stream's window of ${this.window} bytes`);
    }
    this.serverCredit -= size;
    const entry: QueuedReply = { size, ready: false, reply: undefined, error: undefined };
    this.replies.push(entry);
    if (frame.meta.length === 0) return this.decode(entry, frame.body);
    let compression: number;
    try {
      compression = decodeMeta(frame.meta).compression;
    } catch (err) {
      return this.failEntry(entry, `MESSAGE has an invalid meta: ${(err as Error).message}`, err);
    }
    if (compression === Compression.NONE) return this.decode(entry, frame.body);
    // The body is a view of the socket's chunk: it is held only until the promise settles.
    decompress(frame.body, compression, this.maxFrameBytes).then(
      (plain) => this.decode(entry, plain),
      (err: unknown) => this.failEntry(entry, `reply does not decompress: ${(err as Error).message}`, err),
    );
  }

  private decode(entry: QueuedReply, body: Uint8Array): void {
    const type = this.method.responseType;
    try {
      entry.reply = type.decode(body);
    } catch (err) {
      return this.failEntry(entry, `reply does not decode as ${type.fullName.slice(1)}: ${(err as Error).message}`, err);
    }
    entry.ready = true;
    this.onReadable();
  }

  /** A reply that cannot be read: the stream fails INTERNAL there (its reader gets the replies before it first). */
  private failEntry(entry: QueuedReply, message: string, cause: unknown): void {
    const error = new RpcError(Status.INTERNAL, message, { ...this.site(), cause });
    entry.error = error;
    this.abandon(error);
    this.onReadable();
  }

  /** The server broke the stream's rules: the stream fails INTERNAL and is cancelled; the connection stays. */
  private fault(message: string): void {
    this.abandon(new RpcError(Status.INTERNAL, message, this.site()));
  }

  private onCredit(body: Uint8Array): void {
    if (body.length !== 4) return this.fault(`server sent a CREDIT of ${body.length} bytes, not 4`);
    const grant = ((body[0]! << 24) | (body[1]! << 16) | (body[2]! << 8) | body[3]!) >>> 0;
    if (grant === 0) return this.fault('server sent a CREDIT of 0 bytes');
    if (this.sendCredit + grant > MAX_STREAM_CREDIT) return this.fault(`server's CREDIT takes the stream's credit above ${MAX_STREAM_CREDIT}`);
    this.sendCredit += grant;
    if (this.sendCredit > 0) this.wake();
  }

  /** `size` bytes were read: once half the window was read since the last grant, grant them back. */
  private consumed(size: number): void {
    const s = this.state;
    if (s.kind !== 'open') return;
    this.unreported += size;
    if (this.unreported * 2 < this.window) return;
    const grant = Math.min(this.unreported, MAX_STREAM_CREDIT);
    GRANT.writeUInt32BE(grant, 0);
    s.channel.write(FrameType.CREDIT, s.pending.requestId, EMPTY, GRANT);
    this.serverCredit += grant;
    this.unreported -= grant;
  }

  private finish(end: StreamEnd): void {
    if (this.state.kind === 'ended') return;
    this.state = { kind: 'ended', end };
    this.wake();
    for (const hook of this.endHooks.splice(0)) hook(end);
    this.onReadable();
  }

  private wake(): void {
    const wake = this.wakeSender;
    this.wakeSender = undefined;
    wake?.();
  }
}
