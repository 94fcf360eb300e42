import { RpcError } from '../errors.js';
import { Status } from '../status.js';
import { formatEndpoint, type Endpoint } from '../transport/endpoint.js';
import type { PoolConnections } from './pool-connections.js';
import type { LoadBalancer, Pickable } from './load-balancer.js';

/** An instance to call: endpoint and weight. */
export interface Member {
  readonly endpoint: Endpoint;
  readonly weight: number;
}

/** The outcome of a pick: the instance, and whether to connect at once despite its backoff. */
export interface Picked extends Pickable {
  /**
   * True when the instance is in reconnect backoff but was not ejected (the ejection cap
   * was reached): its call then makes a connect attempt instead of failing fast.
   */
  readonly connectNow: boolean;
}

type Resolution = { readonly kind: 'pending'; readonly error: RpcError | undefined } | { readonly kind: 'known' };

/**
 * The instances a client calls — a fixed list, or the live list from a registry — and
 * the choice among them for each attempt: the load-balancing policy, over the instances
 * that are not ejected and not already tried by the call.
 *
 * Ejection: an instance whose connects fail is in reconnect backoff; it is skipped until
 * the backoff ends, but at most `maxEjectionPercent` of the set is skipped at a time
 * (always at least one): the instances in backoff beyond that share, the ones with the
 * least backoff left, stay in rotation and their calls try to connect for real, so that
 * a blip that fails every connect cannot leave the client with nowhere to send.
 */
export class EndpointSet {
  private current: Picked[] = [];
  private resolution: Resolution;
  private readonly waiters = new Set<() => void>();
  private readonly retained = new Set<string>();

  constructor(
    private readonly connections: PoolConnections,
    private readonly balancer: LoadBalancer,
    private readonly maxEjectionPercent: number,
    /** Names the source in errors: the address list or the registry URI and service. */
    readonly source: string,
    initial: readonly Member[] | undefined,
  ) {
    this.resolution = { kind: 'pending', error: undefined };
    if (initial !== undefined) this.update(initial);
  }

  /** True once a list is known (at once for a fixed list; on the registry's first answer otherwise). */
  get known(): boolean {
    return this.resolution.kind === 'known';
  }

  /** The registry's error while no list is known yet. */
  get error(): RpcError | undefined {
    return this.resolution.kind === 'pending' ? this.resolution.error : undefined;
  }

  /** The instances now in the set. */
  get members(): readonly Picked[] {
    return this.current;
  }

  /** Replaces the set (a registry update). Connections to instances that left are released. */
  update(list: readonly Member[]): void {
    const next = new Map<string, Picked>();
    for (const m of list) {
      const address = formatEndpoint(m.endpoint);
      next.set(address, { endpoint: { host: m.endpoint.host, port: m.endpoint.port }, address, weight: m.weight, connectNow: false });
    }
    this.current = [...next.values()];
    this.balancer.update(this.current);
    for (const address of next.keys()) {
      if (!this.retained.has(address)) {
        this.retained.add(address);
        this.connections.retain(next.get(address)!.endpoint);
      }
    }
    for (const address of [...this.retained]) {
      if (!next.has(address)) {
        this.retained.delete(address);
        this.connections.release(address, true);
      }
    }
    this.resolution = { kind: 'known' };
    this.wake();
  }

  /** The registry cannot be reached: calls waiting for a first list fail with `error`. */
  fail(error: RpcError): void {
    if (this.resolution.kind === 'known') return;
    this.resolution = { kind: 'pending', error };
    this.wake();
  }

  /** Calls `wake` once the list is known or the registry reports an error; returns a canceller. */
  onChange(wake: () => void): () => void {
    this.waiters.add(wake);
    return () => this.waiters.delete(wake);
  }

  private wake(): void {
    const waiters = [...this.waiters];
    this.waiters.clear();
    for (const w of waiters) w();
  }

  /**
   * The instance for one attempt, or undefined when the set is empty. Prefers instances
   * neither ejected nor in `tried`; then any not ejected; then any.
   */
  pick(tried: ReadonlySet<string> | undefined, key: string | undefined): Picked | undefined {
    const members = this.current;
    if (members.length <= 1) return members[0];
    const ejected = this.ejected();
    if (ejected === undefined) {
      if (tried === undefined || tried.size === 0) return this.balancer.pick(always, key) as Picked | undefined;
      return (this.balancer.pick((p) => !tried.has(p.address), key) ?? this.balancer.pick(always, key)) as Picked | undefined;
    }
    const picked = (this.balancer.pick((p) => !ejected.has(p.address) && !tried?.has(p.address), key) ??
      this.balancer.pick((p) => !ejected.has(p.address), key) ??
      this.balancer.pick(always, key)) as Picked | undefined;
    if (picked !== undefined && !ejected.has(picked.address) && this.connections.inBackoff(picked.address)) return { ...picked, connectNow: true };
    return picked;
  }

  /** True when an instance the call has not tried is usable now (neither in backoff nor gone away). */
  hasUntried(tried: ReadonlySet<string>): boolean {
    return this.current.some((m) => !tried.has(m.address) && !this.connections.avoid(m.address));
  }

  /**
   * Addresses skipped now: in backoff, or gone away and not reconnected yet; capped at the
   * ejection share. Undefined when there are none.
   */
  private ejected(): Set<string> | undefined {
    let avoided: Picked[] | undefined;
    for (const m of this.current) if (this.connections.avoid(m.address)) (avoided ??= []).push(m);
    if (avoided === undefined) return undefined;
    const cap = Math.max(1, Math.floor((this.current.length * this.maxEjectionPercent) / 100));
    if (avoided.length > cap) {
      avoided.sort((a, b) => this.connections.backoffRemainingMs(b.address) - this.connections.backoffRemainingMs(a.address));
      avoided.length = cap;
    }
    return new Set(avoided.map((m) => m.address));
  }

  /**
   * Time until some instance can be tried, in ms: 0 while any is out of backoff. A retry
   * sooner than that would only fail fast again.
   */
  nextAvailableInMs(): number {
    let soonest = Infinity;
    for (const m of this.current) {
      soonest = Math.min(soonest, this.connections.backoffRemainingMs(m.address));
      if (soonest === 0) return 0;
    }
    return soonest === Infinity ? 0 : soonest;
  }

  /** The error of a call that finds the set empty. */
  emptyError(site: { service: string; method: string }): RpcError {
    return new RpcError(Status.UNAVAILABLE, `no instances of ${site.service} in ${this.source}`, { ...site, notRun: 'unsent' });
  }

  /** Releases every instance's connections (the client is closing). */
  close(): void {
    for (const address of this.retained) this.connections.release(address, false);
    this.retained.clear();
    this.current = [];
    this.balancer.update([]);
  }
}

function always(): boolean {
  return true;
}
