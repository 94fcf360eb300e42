import type { MethodDefinition } from '../codec/service-definition.js';
import type { AttemptHook } from '../pipeline/interceptor.js';
import { RpcError } from '../errors.js';
import { Status } from '../status.js';
import { backoffDelay } from '../util/backoff.js';
import { channels } from '../util/diagnostics.js';
import { backoffTimers, type QueuedTimer } from '../util/timer-queue.js';
import type { ResolvedRetryPolicy } from './client-options.js';
import type { CallListener } from './pending-call.js';
import type { ChannelCall } from './request-writer.js';
import type { PoolConnections } from './pool-connections.js';
import type { EndpointSet } from './endpoint-set.js';
import type { RetryBudget } from './retry-budget.js';

/**
 * Resends of a call that provably never ran are "transparent", as gRPC's are: after a
 * GOAWAY that says so, or, when another instance is ready, after it was never written (no
 * connection, connect refused by a server that is restarting). They do not count as
 * attempts or against the budget, whatever the retry policy (a rolling restart is not a
 * failure). This caps them, so that flapping servers cannot keep a call going forever.
 */
export const MAX_TRANSPARENT_RETRIES = 8;

const ONCE = { once: true } as const;

/**
 * One call as the stub hands it over: what to send and how to retry it. It is also the
 * {@link ChannelCall} of the call's first attempt (its deadline is the whole call's).
 */
export interface CallPlan extends ChannelCall {
  readonly method: MethodDefinition;
  readonly body: Uint8Array;
  /** Deadline of the whole call, all attempts together, in ms (0: none). */
  readonly timeoutMs: number;
  readonly signal: AbortSignal | undefined;
  readonly metadata: Record<string, string> | undefined;
  readonly onMetadata: ((metadata: Readonly<Record<string, string>>) => void) | undefined;
  readonly gzipAboveBytes: number;
  readonly retry: ResolvedRetryPolicy;
  /** True when running the method twice is harmless. */
  readonly idempotent: boolean;
  /** The call's key: sent as `Meta.key`, and what `consistent_hash` balances by. */
  readonly key: string | undefined;
  /** Told of each attempt as it is sent, and of how it ended (client interceptors set it: tracing). */
  readonly onAttempt?: AttemptHook | undefined;
}

/** What a call runs against. */
export interface CallTarget {
  /** The pool's connections (see `poolConnections()`). */
  readonly connections: PoolConnections;
  readonly endpoints: EndpointSet;
  readonly budget: RetryBudget;
}

/**
 * Runs a call to completion: its attempts, the backoff between them (on the shared
 * {@link backoffTimers}), its deadline and its abort signal. A failed attempt is sent
 * again only when its status is retryable under the policy and sending it again is safe
 * (it never reached a handler, or the method is idempotent), attempts and the retry
 * budget allow, and the deadline leaves time for the backoff. Settles exactly once.
 */
export function runCall(plan: CallPlan, target: CallTarget): Promise<unknown> {
  return new Promise((resolve, reject) => new RetryingCall(plan, target, resolve, reject).start());
}

class RetryingCall implements CallListener {
  /** Times the call was sent (or tried to be), transparent resends included. */
  private sends = 0;
  /** Of those, resends after a GOAWAY that count neither as attempts nor against the budget. */
  private transparent = 0;
  /**
   * Instances tried so far, made on the first failure (a call that succeeds at once needs
   * none): `address`, the latest, is added when the set is asked for ({@link triedSet}).
   */
  private tried: Set<string> | undefined;
  /** The instance of the attempt in flight (or of the last one). */
  private address: string | undefined;
  /** Some attempt failed without being known not to have run: the call as a whole may have run. */
  private mayHaveRun = false;
  /** Epoch ms; set as the call starts. */
  private deadline = Infinity;
  /** A backoff before the next attempt, or the wait for a registry's first list. */
  private waiting: { cancel(): void } | undefined;
  private done = false;
  /** True while {@link start} runs (the first attempt, unless it waits for instances). */
  private starting = false;
  /** The attempt in flight's follower (an interceptor's `onAttempt`: its span), told when it ends. */
  private attemptEnds: ((error?: RpcError) => void) | undefined;

  constructor(
    private readonly plan: CallPlan,
    private readonly target: CallTarget,
    private readonly resolve: (reply: unknown) => void,
    private readonly reject: (error: RpcError) => void,
  ) {}

  start(): void {
    const now = Date.now(); // one clock read for the deadline and the retry budget
    if (this.plan.timeoutMs > 0) this.deadline = now + this.plan.timeoutMs;
    this.target.budget.recordCall(now);
    this.plan.signal?.addEventListener('abort', this, ONCE);
    this.starting = true;
    this.attempt();
    this.starting = false;
  }

  /** @internal The caller's signal aborted (the call is its own listener: no closure per call). */
  handleEvent(): void {
    if (this.waiting === undefined) return; // an attempt in flight: its channel answers CANCELLED
    this.waiting.cancel();
    this.fail(
      new RpcError(Status.CANCELLED, 'call cancelled by the caller while waiting to retry or for instances', {
        ...this.site(),
        cause: this.plan.signal?.reason,
      }),
    );
  }

  private triedSet(): Set<string> {
    const tried = (this.tried ??= new Set());
    if (this.address !== undefined) tried.add(this.address);
    return tried;
  }

  private site(address?: string): { service: string; method: string; address?: string } {
    return { service: this.plan.method.service, method: this.plan.method.name, address };
  }

  private attempt(): void {
    this.waiting = undefined;
    if (this.done) return;
    const endpoints = this.target.endpoints;
    if (!endpoints.known) {
      if (endpoints.error !== undefined) return this.fail(withSite(endpoints.error, this.site()));
      return this.waitForInstances();
    }
    const picked = endpoints.pick(this.address === undefined ? undefined : this.triedSet(), this.plan.key);
    this.sends++;
    if (picked === undefined) return this.onFailure(endpoints.emptyError(this.site()));
    const address = picked.address;
    this.address = address;
    let call: ChannelCall = this.starting ? this.plan : this.retryCall();
    if (this.plan.onAttempt !== undefined) {
      // Each attempt gets its own copy, so that what a follower sets (its span's traceparent) goes with this one only.
      const metadata = { ...this.plan.metadata };
      try {
        this.attemptEnds = this.plan.onAttempt({ attempt: this.sends, host: picked.endpoint.host, port: picked.endpoint.port, metadata }) ?? undefined;
      } catch (err) {
        return this.fail(RpcError.from(err, Status.UNKNOWN, this.site(address))); // as an interceptor's throw would
      }
      call = { ...this.retryCall(), metadata };
    }
    try {
      const channel = this.target.connections.acquire(picked.endpoint, picked.connectNow, address);
      channel.start(call, this);
    } catch (err) {
      const error = withSite(RpcError.from(err, Status.UNAVAILABLE, this.site(address)), this.site(address));
      this.endAttempt(error);
      this.onFailure(error);
    }
  }

  /** Tells the attempt's follower (its span) how the attempt ended, once. */
  private endAttempt(error: RpcError | undefined): void {
    const ends = this.attemptEnds;
    this.attemptEnds = undefined;
    attemptEnded(ends, error);
  }

  /**
   * A later attempt (a retry, or a first attempt that waited for instances): sent with
   * what is left of the call's deadline. The first attempt, when sent as the call starts,
   * is the plan itself — its `timeoutMs` is the whole deadline, which is what is left —
   * so a call that needs one attempt costs no object for it and no clock read, and its
   * deadline shares its channel-side list with every other call of that timeout.
   */
  private retryCall(): ChannelCall {
    const plan = this.plan;
    return {
      method: plan.method,
      body: plan.body,
      timeoutMs: this.deadline === Infinity ? 0 : Math.max(1, Math.ceil(this.deadline - Date.now())),
      callTimeoutMs: plan.timeoutMs,
      signal: plan.signal,
      metadata: plan.metadata,
      key: plan.key,
      onMetadata: plan.onMetadata,
      gzipAboveBytes: plan.gzipAboveBytes,
    };
  }

  /** @internal The attempt in flight was answered (see {@link CallListener}). */
  onReply(reply: unknown): void {
    this.target.connections.record(this.address!, undefined);
    this.endAttempt(undefined);
    this.succeed(reply);
  }

  /** @internal The attempt in flight failed (see {@link CallListener}). */
  onError(error: RpcError): void {
    this.target.connections.record(this.address!, error);
    this.endAttempt(error);
    this.onFailure(error);
  }

  /** No list from the registry yet: wait for one, the registry's error, or the deadline. */
  private waitForInstances(): void {
    const endpoints = this.target.endpoints;
    let timer: QueuedTimer | undefined;
    const stopWaiting = endpoints.onChange(() => {
      timer?.cancel();
      this.attempt();
    });
    if (this.deadline !== Infinity) {
      timer = backoffTimers.schedule(Math.max(0, this.deadline - Date.now()), () => {
        stopWaiting();
        this.fail(
          new RpcError(
            Status.DEADLINE_EXCEEDED,
            `no instances known from ${endpoints.source} within the call's ${this.plan.timeoutMs} ms deadline`,
            this.site(),
          ),
        );
      });
    }
    this.waiting = {
      cancel: () => {
        stopWaiting();
        timer?.cancel();
      },
    };
  }

  private onFailure(error: RpcError): void {
    if (this.done) return;
    const notRun = error.notRun;
    if (notRun === undefined) this.mayHaveRun = true;
    const { retry, signal } = this.plan;
    if (signal?.aborted || error.code === Status.CANCELLED || error.code === Status.DEADLINE_EXCEEDED) return this.fail(error);
    const attempts = this.sends - this.transparent;
    let delayMs: number;
    const transparent = notRun === 'goaway' || (notRun === 'unsent' && this.target.endpoints.hasUntried(this.triedSet()));
    if (transparent && this.transparent < MAX_TRANSPARENT_RETRIES) {
      this.transparent++;
      delayMs = 0;
    } else if (
      attempts < retry.maxAttempts &&
      retry.retryableStatuses.includes(error.code) &&
      (notRun !== undefined || this.plan.idempotent) &&
      this.target.budget.tryRetry(Date.now())
    ) {
      // When every endpoint is in reconnect backoff, wait for the first to come out of it.
      delayMs = Math.max(backoffDelay(retry.backoff, attempts), this.target.endpoints.nextAvailableInMs());
    } else {
      return this.fail(error);
    }
    if (Date.now() + delayMs >= this.deadline) return this.fail(error);
    if (channels.clientRetry.hasSubscribers) {
      channels.clientRetry.publish({ service: this.plan.method.service, method: this.plan.method.name, send: this.sends + 1, delayMs, error });
    }
    this.waiting = backoffTimers.schedule(delayMs, () => this.attempt());
  }

  private succeed(reply: unknown): void {
    if (this.finish()) this.resolve(reply);
  }

  private fail(error: RpcError): void {
    if (!this.finish()) return;
    if (this.sends <= 1) {
      this.reject(error);
      return;
    }
    // The last attempt's notRun holds for the call only if no earlier attempt may have run.
    this.reject(
      new RpcError(error.code, `${error.rawMessage} (after ${this.sends} attempts)`, {
        service: error.service ?? this.plan.method.service,
        method: error.method ?? this.plan.method.name,
        address: error.address,
        metadata: error.metadata,
        cause: error,
        notRun: this.mayHaveRun ? undefined : error.notRun,
      }),
    );
  }

  private finish(): boolean {
    if (this.done) return false;
    this.done = true;
    this.waiting?.cancel();
    this.waiting = undefined;
    this.plan.signal?.removeEventListener('abort', this);
    return true;
  }
}

/** Tells an attempt's follower how it ended; what the follower throws cannot change the call's outcome, so it is dropped. */
function attemptEnded(ended: ((error?: RpcError) => void) | undefined, error: RpcError | undefined): void {
  if (ended === undefined) return;
  try {
    ended(error);
  } catch {}
}

/** `error` naming the call's service and method (the pool's errors name only the address). */
function withSite(error: RpcError, site: { service: string; method: string; address?: string }): RpcError {
  if (error.service !== undefined) return error;
  return new RpcError(error.code, error.rawMessage, { ...site, metadata: error.metadata, cause: error.cause, notRun: error.notRun });
}
