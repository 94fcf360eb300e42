import type { MethodDefinition } from '../codec/service-definition.js';
import type { RpcError } from '../errors.js';

/**
 * One call waiting for its RESPONSE. It has one settle path: whichever of response,
 * deadline, abort or connection loss comes first settles it, clears its timer and its
 * abort listener, and removes it from its channel's map; later ones are no-ops.
 */
export class PendingCall {
  private settled = false;
  timer: NodeJS.Timeout | undefined;
  abortListener: (() => void) | undefined;

  constructor(
    readonly requestId: number,
    readonly method: MethodDefinition,
    readonly signal: AbortSignal | undefined,
    private readonly onResolve: (value: unknown) => void,
    private readonly onReject: (error: RpcError) => void,
    /** Called once when the call settles, to drop it from its channel. */
    private readonly onSettle: (call: PendingCall) => void,
    readonly onMetadata?: (metadata: Readonly<Record<string, string>>) => void,
  ) {}

  get done(): boolean {
    return this.settled;
  }

  resolve(value: unknown): void {
    if (this.finish()) this.onResolve(value);
  }

  reject(error: RpcError): void {
    if (this.finish()) this.onReject(error);
  }

  private finish(): boolean {
    if (this.settled) return false;
    this.settled = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    if (this.abortListener !== undefined) this.signal?.removeEventListener('abort', this.abortListener);
    this.onSettle(this);
    return true;
  }
}
