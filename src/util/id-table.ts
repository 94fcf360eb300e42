/**
 * Calls in flight on one connection by request id, on either side: an open-addressing hash
 * table (linear probing, deletion by backward shift, so no tombstones), of a power-of-two
 * size kept at least twice the entries.
 *
 * Why not a `Map`: a connection adds and deletes an entry per call, 100k times a second.
 * V8's `Map` rehashes into a new table as deleted slots pile up, and shrinks into a new
 * one each time a connection's calls in flight fall to a quarter of its size (measured on
 * the server's in-process bench: 5% of a call's cost, in `Runtime_MapShrink`). The table
 * it leaves points to its successor (for live iterators), so a discarded table the
 * collector has already moved to the old generation keeps the young one after it, and
 * every call that one holds, alive through each scavenge (measured on the bench client:
 * 40% of the young generation survived each scavenge, and scavenges took 20% of its time).
 * Here the arrays are replaced only when the table grows, and a freed slot holds nothing.
 *
 * Slots come from a multiplicative hash of the id with an odd multiplier drawn per table.
 * Consecutive ids (what a client's allocator hands out) spread over distinct slots, and a
 * peer choosing ids to collide (all multiples of the table's size, which would turn every
 * lookup on a plain `id & mask` table into a scan of the whole table) cannot know which
 * ids do.
 *
 * Id 0 marks a free slot: it is never a valid request id.
 */
export class IdTable<V> {
  private ids = new Uint32Array(MIN_SLOTS);
  private values: Array<V | undefined> = new Array<V | undefined>(MIN_SLOTS).fill(undefined);
  private mask = MIN_SLOTS - 1;
  /** 32 − log2(slots): a slot is the top bits of the 32-bit product. */
  private shift = 32 - Math.log2(MIN_SLOTS);
  private count = 0;
  private readonly multiplier = (Math.random() * 0x1_0000_0000) | 0 | 1;

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
    let i = this.home(id);
    for (;;) {
      const at = ids[i]!;
      if (at === 0) return false;
      if (at === id) break;
      i = (i + 1) & mask;
    }
    // Backward shift: move later entries of the probe run into the gap when the gap lies
    // on their way from their home slot, so that every lookup still finds them.
    for (let j = (i + 1) & mask; ; j = (j + 1) & mask) {
      const at = ids[j]!;
      if (at === 0) break;
      const home = this.home(at);
      if (((j - home) & mask) >= ((j - i) & mask)) {
        ids[i] = at;
        values[i] = values[j];
        i = j;
      }
    }
    ids[i] = 0;
    values[i] = undefined;
    this.count--;
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
    return Math.imul(id, this.multiplier) >>> this.shift;
  }

  private place(id: number, value: V): void {
    const ids = this.ids;
    const mask = this.mask;
    let i = this.home(id);
    while (ids[i] !== 0) i = (i + 1) & mask;
    ids[i] = id;
    this.values[i] = value;
  }

  private grow(): void {
    const oldIds = this.ids;
    const oldValues = this.values;
    const size = oldIds.length * 2;
    this.ids = new Uint32Array(size);
    this.values = new Array<V | undefined>(size).fill(undefined);
    this.mask = size - 1;
    this.shift--;
    for (let i = 0; i < oldIds.length; i++) if (oldIds[i] !== 0) this.place(oldIds[i]!, oldValues[i]!);
  }
}

const MIN_SLOTS = 64;
