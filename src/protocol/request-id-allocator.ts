import { MAX_REQUEST_ID } from './constants.js';

/**
 * Allocates request_ids for one connection: increasing, starting at 1, never 0
 * (spec §Types). When the counter is spent, `next()` returns 0 and the client moves new
 * calls to a fresh connection instead of wrapping onto ids that may still be in flight.
 */
export class RequestIdAllocator {
  private last: number;

  /** @param start the id before the first one handed out (tests start near the top). */
  constructor(start = 0) {
    this.last = start;
  }

  /** The next id, or 0 once the id space of this connection is spent. */
  next(): number {
    if (this.last >= MAX_REQUEST_ID) return 0;
    return ++this.last;
  }

  /** True once no id is left. */
  get exhausted(): boolean {
    return this.last >= MAX_REQUEST_ID;
  }
}
