/**
 * Calls in flight on one connection by request id, on either side: an open-addressing hash
 * table (linear probing, deletion by backward shift, so no tombstones), of a power-of-two
 * size kept at least twice the entries.
 *
 * Why not a `Map`: a connection adds and deletes an entry per call, 100k times a second.
 * V8's `Map` rehashes into a new table as deleted slots pile up, and shrinks into a new
 * one each time a connection's calls in flight fall to a quarter of its size (on the
 * server's in-process bench, replacing the `Map` saved 29% of an Echo call's cost, the
 * shrinking and the garbage it made). The table
 * it leaves points to its successor (for live iterators), so a discarded table the
 * collector has already moved to the old generation keeps the young one after it, and
 * every call that one holds, alive through each scavenge (measured on the bench client:
 * 40% of the young generation survived each scavenge, and scavenges took 20% of its time).
 * Here the arrays are replaced only when the table grows (or, rarely, shrinks: below), and
 * a freed slot holds nothing.
 *
 * Where an id goes: a client's table holds the ids its own allocator handed out, which are
 * consecutive, so `id & mask` spreads them over distinct slots. A server's table holds the
 * ids its peers chose, and a peer sending multiples of the table's size would put them all
 * in one slot, turning every lookup into a scan of the table (up to 32,768 calls in flight
 * per connection): there the id goes through a hash seeded per table from the system's
 * random source (murmur3's finalizer of `id ^ seed`, a bijection that leaves no two ids
 * colliding by design, and whose seed a peer cannot learn).
 *
 * A table holding few entries shrinks by half when it is over {@link SHRINK_ABOVE_SLOTS} and
 * less than an eighth full, so that a connection that once had thousands of calls in flight
 * does not keep their table; tables that size are rare, so the common path never shrinks.
 *
 * Id 0 marks a free slot: it is never a valid request id.
 */
export class IdTable<V> {
  private ids = new Uint32Array(MIN_SLOTS);
  private values: Array<V | undefined> = new Array<V | undefined>(MIN_SLOTS).fill(undefined);
  private mask = MIN_SLOTS - 1;
  private count = 0;
  /**
   * Entries not in their home slot. While there are none (the common case of a client's
   * consecutive ids), a deletion just frees its slot: no entry can need shifting into it,
   * and the scan to the end of the probe run (the whole window of calls in flight) is skipped.
   */
  private displaced = 0;
  /** Whether ids are hashed (a peer's) or used as they are (our own, consecutive). */
  private readonly hashed: boolean;
  private readonly seed: number;

  /** @param ids `'peer'`: chosen by the other side (hashed, see above); `'own'`: handed out here, consecutive. */
  constructor(ids: 'peer' | 'own') {
    this.hashed = ids === 'peer';
    this.seed = this.hashed ? crypto.getRandomValues(new Uint32Array(1))[0]! : 0;
  }

  /** Entries in the table. */
  get size(): number {
    return this.count;
  }

  /** The entry of `id`, if any. */
  get(id: number): V | undefined {
    const ids = this.ids;
    const mask = this.mask;
    for (let i = this.home(id); ; i = (i + 1) & mask) {
      const at = ids[i]!;
      if (at === id) return this.values[i];
      if (at === 0) return undefined;
    }
  }

  /** True when `id` has an entry. */
  has(id: number): boolean {
    return this.get(id) !== undefined;
  }

  /** Adds an entry; `id` (not 0) must not be in the table already. */
  set(id: number, value: V): void {
    if ((this.count + 1) * 2 > this.ids.length) this.grow();
    this.place(id, value);
    this.count++;
  }

  /** Removes the entry of `id`; false when there was none. */
  delete(id: number): boolean {
    const ids = this.ids;
    const values = this.values;
    const mask = this.mask;
    const start = this.home(id);
    let i = start;
    for (;;) {
      const at = ids[i]!;
      if (at === 0) return false;
      if (at === id) break;
      i = (i + 1) & mask;
    }
    if (i !== start) this.displaced--;
    // Backward shift: move later entries of the probe run into the gap when the gap lies
    // on their way from their home slot, so that every lookup still finds them. (Only a
    // displaced entry can move: one in its home slot has no gap on its way.)
    for (let j = (i + 1) & mask; this.displaced > 0; j = (j + 1) & mask) {
      const at = ids[j]!;
      if (at === 0) break;
      const home = this.home(at);
      if (((j - home) & mask) >= ((j - i) & mask)) {
        ids[i] = at;
        values[i] = values[j];
        if (i === home) this.displaced--;
        i = j;
      }
    }
    ids[i] = 0;
    values[i] = undefined;
    this.count--;
    if (ids.length > SHRINK_ABOVE_SLOTS && this.count * 8 < ids.length) this.resize(ids.length / 2);
    return true;
  }

  /** The entries, in request-id order: a copy, so that the caller may settle (and delete) them as it goes. */
  entries(): Array<[number, V]> {
    const out: Array<[number, V]> = [];
    for (let i = 0; i < this.ids.length; i++) if (this.ids[i] !== 0) out.push([this.ids[i]!, this.values[i]!]);
    return out.sort((a, b) => a[0] - b[0]);
  }

  /** The values, in request-id order (a copy, see {@link entries}). */
  snapshot(): V[] {
    return this.entries().map((e) => e[1]);
  }

  private home(id: number): number {
    if (!this.hashed) return id & this.mask;
    let h = id ^ this.seed;
    h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
    h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
    return (h ^ (h >>> 16)) & this.mask;
  }

  /** @internal Slots the table has now (for tests: its memory is 12 bytes a slot). */
  get slots(): number {
    return this.ids.length;
  }

  /** @internal The farthest any entry sits from its home slot (how long the longest lookup probes), for tests. */
  longestProbe(): number {
    let longest = 0;
    for (let i = 0; i < this.ids.length; i++) {
      const id = this.ids[i]!;
      if (id !== 0) longest = Math.max(longest, (i - this.home(id)) & this.mask);
    }
    return longest;
  }

  private place(id: number, value: V): void {
    const ids = this.ids;
    const mask = this.mask;
    const home = this.home(id);
    let i = home;
    while (ids[i] !== 0) i = (i + 1) & mask;
    if (i !== home) this.displaced++;
    ids[i] = id;
    this.values[i] = value;
  }

  private grow(): void {
    this.resize(this.ids.length * 2);
  }

  private resize(size: number): void {
    const oldIds = this.ids;
    const oldValues = this.values;
    this.ids = new Uint32Array(size);
    this.values = new Array<V | undefined>(size).fill(undefined);
    this.mask = size - 1;
    this.displaced = 0;
    for (let i = 0; i < oldIds.length; i++) if (oldIds[i] !== 0) this.place(oldIds[i]!, oldValues[i]!);
  }
}

/** A new table's slots: 100 bytes, for the many connections that stay idle (a server's RSS per idle connection is a target). */
const MIN_SLOTS = 8;
/**
 * A table shrinks only above this many slots (12 KiB): one that size held 512 calls or
 * more, a rare burst, so a connection whose calls in flight swing between none and a few
 * hundred (every batch of a busy one) never pays for a resize.
 */
const SHRINK_ABOVE_SLOTS = 1024;
