import type { Endpoint } from '../transport/endpoint.js';
import type { LoadBalancerName } from './client-options.js';

/** An instance as a balancer sees it. */
export interface Pickable {
  readonly endpoint: Endpoint;
  /** `host:port`. */
  readonly address: string;
  /** Relative share under `weighted_random`. */
  readonly weight: number;
}

/**
 * A load-balancing policy over a set of instances. `pick` chooses among the instances
 * for which `usable` is true (the set minus ejected or already tried ones) and returns
 * undefined when there is none.
 */
export interface LoadBalancer {
  update(instances: readonly Pickable[]): void;
  pick(usable: (p: Pickable) => boolean, key: string | undefined): Pickable | undefined;
}

/** In turn, skipping unusable instances. */
class RoundRobin implements LoadBalancer {
  private list: readonly Pickable[] = [];
  private next = 0;

  update(instances: readonly Pickable[]): void {
    this.list = instances;
  }

  pick(usable: (p: Pickable) => boolean): Pickable | undefined {
    const list = this.list;
    const n = list.length;
    const start = this.next % Math.max(1, n);
    for (let i = 0; i < n; i++) {
      const p = list[(start + i) % n]!;
      if (usable(p)) {
        this.next = (start + i + 1) % n;
        return p;
      }
    }
    return undefined;
  }
}

/**
 * At random among the usable ones, in proportion to `weightOf` (weighted reservoir
 * sampling: one pass, no allocation). `random` is the same with every weight 1.
 */
class RandomPick implements LoadBalancer {
  private list: readonly Pickable[] = [];

  constructor(
    private readonly weightOf: (p: Pickable) => number,
    private readonly random: () => number,
  ) {}

  update(instances: readonly Pickable[]): void {
    this.list = instances;
  }

  pick(usable: (p: Pickable) => boolean): Pickable | undefined {
    let chosen: Pickable | undefined;
    let total = 0;
    for (const p of this.list) {
      if (!usable(p)) continue;
      const weight = this.weightOf(p);
      total += weight;
      if (this.random() * total < weight) chosen = p;
    }
    return chosen;
  }
}

/**
 * Power of two choices: two distinct usable instances at random, and the one with fewer
 * calls in flight. Nearly as good as scanning for the least loaded, without herding
 * every client onto the same momentarily idle instance.
 */
class LeastOutstanding implements LoadBalancer {
  private list: readonly Pickable[] = [];
  private readonly scratch: Pickable[] = [];

  constructor(
    private readonly load: (p: Pickable) => number,
    private readonly random: () => number,
  ) {}

  update(instances: readonly Pickable[]): void {
    this.list = instances;
  }

  pick(usable: (p: Pickable) => boolean): Pickable | undefined {
    const candidates = this.scratch;
    candidates.length = 0;
    for (const p of this.list) if (usable(p)) candidates.push(p);
    const n = candidates.length;
    if (n <= 1) return candidates[0];
    const i = Math.floor(this.random() * n);
    let j = Math.floor(this.random() * (n - 1));
    if (j >= i) j++;
    const a = candidates[i]!;
    const b = candidates[j]!;
    return this.load(b) < this.load(a) ? b : a;
  }
}

/** Points per instance on the hash ring: enough for an even spread of keys (±10% at 160). */
export const VIRTUAL_NODES = 160;

/**
 * Consistent hashing on a ring of virtual nodes: a key goes to the first instance
 * clockwise of its hash. Removing one instance moves only the keys it held; an unusable
 * instance's keys go to the next usable one on the ring, and come back when it recovers.
 */
class ConsistentHash implements LoadBalancer {
  private points = new Uint32Array(0);
  private owners: Pickable[] = [];

  update(instances: readonly Pickable[]): void {
    const ring: Array<{ hash: number; owner: Pickable }> = [];
    for (const p of instances) {
      for (let v = 0; v < VIRTUAL_NODES; v++) ring.push({ hash: hash32(`${p.address}#${v}`), owner: p });
    }
    // Ties (rare) are broken by address, so that every client builds the same ring.
    ring.sort((x, y) => x.hash - y.hash || (x.owner.address < y.owner.address ? -1 : 1));
    this.points = Uint32Array.from(ring, (r) => r.hash);
    this.owners = ring.map((r) => r.owner);
  }

  pick(usable: (p: Pickable) => boolean, key: string | undefined): Pickable | undefined {
    const n = this.points.length;
    if (n === 0) return undefined;
    const h = hash32(key ?? '');
    // First point at or after h (binary search), wrapping to 0.
    let lo = 0;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.points[mid]! < h) lo = mid + 1;
      else hi = mid;
    }
    for (let i = 0; i < n; i++) {
      const owner = this.owners[(lo + i) % n]!;
      if (usable(owner)) return owner;
    }
    return undefined;
  }
}

/**
 * 32-bit FNV-1a over the string's UTF-16 code units, then MurmurHash3's finalizer so
 * that similar strings (`host:port#1`, `#2`, …) land far apart on the ring.
 */
export function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** The policy of a name; `load` gives an instance's calls in flight (for `least_outstanding`). */
export function createLoadBalancer(name: LoadBalancerName, load: (p: Pickable) => number, random: () => number = Math.random): LoadBalancer {
  switch (name) {
    case 'round_robin':
      return new RoundRobin();
    case 'random':
      return new RandomPick(() => 1, random);
    case 'weighted_random':
      return new RandomPick((p) => p.weight, random);
    case 'least_outstanding':
      return new LeastOutstanding(load, random);
    case 'consistent_hash':
      return new ConsistentHash();
  }
}
