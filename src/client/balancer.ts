import type { ConnectionPool } from './connection-pool.js';
import { formatEndpoint, type Endpoint } from './endpoint.js';

/**
 * Picks the endpoint of each attempt: in turn (round robin), skipping endpoints in
 * reconnect backoff and, for a retry, the ones this call already tried, as long as
 * another is left. When every endpoint is in backoff it still returns one, whose call
 * then fails fast with UNAVAILABLE.
 */
export class RoundRobinBalancer {
  private next = 0;

  constructor(
    private readonly endpoints: readonly Endpoint[],
    private readonly pool: ConnectionPool,
  ) {}

  pick(tried: ReadonlySet<string> | undefined): Endpoint {
    const list = this.endpoints;
    if (list.length === 1) return list[0]!;
    const start = this.next;
    this.next = (start + 1) % list.length;
    let fallback: Endpoint | undefined;
    for (let i = 0; i < list.length; i++) {
      const endpoint = list[(start + i) % list.length]!;
      if (this.pool.inBackoff(endpoint)) continue;
      if (tried === undefined || !tried.has(formatEndpoint(endpoint))) return endpoint;
      fallback ??= endpoint;
    }
    return fallback ?? list[start]!;
  }

  /**
   * Time until some endpoint can be tried, in ms: 0 while any is out of backoff. A retry
   * sooner than that would only fail fast again.
   */
  nextAvailableInMs(): number {
    let soonest = Infinity;
    for (const endpoint of this.endpoints) {
      soonest = Math.min(soonest, this.pool.backoffRemainingMs(endpoint));
      if (soonest === 0) return 0;
    }
    return soonest;
  }
}
