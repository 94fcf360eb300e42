/**
 * An entry of {@link DeadlineLists}: the object that has the deadline carries its own list
 * links, so that arming and clearing a deadline allocate nothing. Fields are owned by the
 * lists; an entry is in at most one list at a time.
 */
export interface Deadline {
  /** When it expires, in `performance.now()` ms (set by {@link DeadlineLists.add}). */
  deadlineAt: number;
  deadlinePrev: Deadline | undefined;
  deadlineNext: Deadline | undefined;
  /** The list it is in, while it is in one. */
  deadlineList: DeadlineList | undefined;
  /** Called once when the deadline passes (not if removed before). */
  onDeadline(): void;
}

/** The longest delay a Node timer holds (longer ones fire after 1 ms): longer deadlines re-arm until due. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Entries of one duration, in the order added, which is the order they expire in. */
class DeadlineList {
  head: Deadline | undefined;
  tail: Deadline | undefined;
  timer: NodeJS.Timeout | undefined;

  constructor(
    readonly owner: DeadlineLists,
    readonly durationMs: number,
  ) {}
}

/**
 * Call deadlines: one list per duration, one Node timer per list, armed for its first
 * entry. Calls of one method mostly share a duration (the client's or the method's
 * timeout), so their deadlines are appended in the order they expire and a list is a
 * FIFO: adding and removing are O(1) link updates, with no timer object, closure or clock
 * read beyond one `performance.now()` per call. This is the scheme of Node's own timer
 * lists without their per-timer `Timeout` object, which is what made a `setTimeout` per
 * call costly at 100k calls a second, almost all of them cleared long before they fire.
 *
 * A deadline never fires early: when the list's timer fires (Node's timers may fire a
 * fraction of a millisecond before the exact time), entries not yet due re-arm it.
 * The timer is ref'd (a call waiting for its answer keeps the process alive, as its
 * `setTimeout` did) and cleared when its list empties.
 */
export class DeadlineLists {
  private readonly lists = new Map<number, DeadlineList>();
  /** The list most recently added to, looked up without the map (calls mostly share one duration). */
  private last: DeadlineList | undefined;

  /** Arms `entry` to expire `durationMs` from now (a positive integer). */
  add(entry: Deadline, durationMs: number): void {
    let list = this.last;
    if (list === undefined || list.durationMs !== durationMs) {
      list = this.lists.get(durationMs);
      if (list === undefined) {
        list = new DeadlineList(this, durationMs);
        this.lists.set(durationMs, list);
      }
      this.last = list;
    }
    entry.deadlineAt = performance.now() + durationMs;
    entry.deadlineList = list;
    entry.deadlineNext = undefined;
    const tail = list.tail;
    entry.deadlinePrev = tail;
    if (tail === undefined) {
      list.head = entry;
      list.tail = entry;
      if (list.timer === undefined) list.timer = setTimeout(fireList, Math.min(durationMs, MAX_TIMER_MS), list);
      return;
    }
    tail.deadlineNext = entry;
    list.tail = entry;
  }

  /** Disarms `entry`; a no-op when it is not armed. */
  remove(entry: Deadline): void {
    const list = entry.deadlineList;
    if (list === undefined) return;
    unlink(list, entry);
    if (list.head === undefined) this.drop(list);
  }

  /** Entries armed now (for tests and stats; O(n)). */
  get size(): number {
    let n = 0;
    for (const list of this.lists.values()) for (let e = list.head; e !== undefined; e = e.deadlineNext) n++;
    return n;
  }

  /** Node timers armed now: one per list that holds entries. */
  get timers(): number {
    let n = 0;
    for (const list of this.lists.values()) if (list.timer !== undefined) n++;
    return n;
  }

  /** An empty list goes, with its timer: nothing keeps the process alive for it. */
  private drop(list: DeadlineList): void {
    if (list.timer !== undefined) clearTimeout(list.timer);
    list.timer = undefined;
    this.lists.delete(list.durationMs);
    if (this.last === list) this.last = undefined;
  }

  /** @internal The list's timer fired: expire what is due, re-arm for the rest. */
  fire(list: DeadlineList): void {
    list.timer = undefined;
    const now = performance.now();
    for (let entry = list.head; entry !== undefined; entry = list.head) {
      if (entry.deadlineAt > now) {
        // (An entry added by an onDeadline to the emptied list armed the timer already.)
        list.timer ??= setTimeout(fireList, Math.min(MAX_TIMER_MS, Math.max(1, Math.ceil(entry.deadlineAt - now))), list);
        return;
      }
      unlink(list, entry);
      entry.onDeadline();
    }
    // Emptied (an onDeadline may have added to it meanwhile, which re-armed it).
    if (list.head === undefined && this.lists.get(list.durationMs) === list) this.drop(list);
  }
}

function unlink(list: DeadlineList, entry: Deadline): void {
  const prev = entry.deadlinePrev;
  const next = entry.deadlineNext;
  if (prev === undefined) list.head = next;
  else prev.deadlineNext = next;
  if (next === undefined) list.tail = prev;
  else next.deadlinePrev = prev;
  entry.deadlinePrev = undefined;
  entry.deadlineNext = undefined;
  entry.deadlineList = undefined;
}

function fireList(list: DeadlineList): void {
  list.owner.fire(list);
}

/** The process-wide deadlines of every client call in flight. */
export const callDeadlines = new DeadlineLists();
