import type { MethodDefinition } from '../codec/service-definition.js';
import type { RpcError } from '../errors.js';
import { callDeadlines, type Deadline } from '../util/deadline-lists.js';
import type { ChannelCall } from './request-writer.js';

/** Receives the outcome of one call on a channel: exactly one of the two, once. */
export interface CallListener {
  /** The decoded reply. */
  onReply(reply: unknown): void;
  onError(error: RpcError): void;
}

/** What a {@link PendingCall} tells its channel. */
export interface PendingOwner {
  /** The call settled (it is answered, expired, aborted or failed): drop it. */
  settled(call: PendingCall): void;
  /** Its deadline passed before an answer came. */
  expired(call: PendingCall): void;
  /** Its caller aborted it before an answer came. */
  aborted(call: PendingCall): void;
}

const ONCE = { once: true } as const;

/**
 * One call waiting for its RESPONSE. It has one settle path: whichever of response,
 * deadline, abort or connection loss comes first settles it, disarms its deadline and
 * its abort listener, and removes it from its channel's map; later ones are no-ops.
 *
 * Allocation-free bookkeeping: the call is its own deadline entry (see
 * {@link callDeadlines}) and its own abort listener (`handleEvent`), so a call costs this
 * one object, with no timer and no closure.
 */
export class PendingCall implements Deadline {
  private settled = false;
  deadlineAt = 0;
  deadlinePrev: Deadline | undefined = undefined;
  deadlineNext: Deadline | undefined = undefined;
  deadlineList: Deadline['deadlineList'] = undefined;

  constructor(
    readonly requestId: number,
    readonly call: ChannelCall,
    private readonly listener: CallListener,
    private readonly owner: PendingOwner,
  ) {
    if (call.timeoutMs > 0) callDeadlines.add(this, call.timeoutMs);
    call.signal?.addEventListener('abort', this, ONCE);
  }

  get method(): MethodDefinition {
    return this.call.method;
  }

  get onMetadata(): ((metadata: Readonly<Record<string, string>>) => void) | undefined {
    return this.call.onMetadata;
  }

  get done(): boolean {
    return this.settled;
  }

  /** @internal Its deadline passed (see {@link Deadline}). */
  onDeadline(): void {
    if (!this.settled) this.owner.expired(this);
  }

  /** @internal Its signal aborted (an `EventListener` object: no closure per call). */
  handleEvent(): void {
    if (!this.settled) this.owner.aborted(this);
  }

  resolve(value: unknown): void {
    if (this.finish()) this.listener.onReply(value);
  }

  reject(error: RpcError): void {
    if (this.finish()) this.listener.onError(error);
  }

  private finish(): boolean {
    if (this.settled) return false;
    this.settled = true;
    if (this.deadlineList !== undefined) callDeadlines.remove(this);
    this.call.signal?.removeEventListener('abort', this);
    this.owner.settled(this);
    return true;
  }
}
