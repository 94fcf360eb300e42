import type { Socket } from 'node:net';

/**
 * Bytes one connection may read in one turn of the event loop before it waits for the
 * next. libuv reads a readable socket up to 32 times (64 KiB each) per turn, so a few
 * dozen peers streaming large frames made one turn read 30–60 MiB, tens of milliseconds
 * during which a small request on another connection waited unread. At this budget a
 * turn reads at most about 320 KiB per such peer (the read that passes it, plus one the
 * stream has already asked for), and the pause and resume cost two epoll_ctl calls per
 * 256 KiB.
 */
export const READ_BUDGET_BYTES = 256 * 1024;

/** Why a connection is not read: its peer does not read our answers, or it used its turn's budget. */
type Hold = 'output' | 'turn';
const BIT: Record<Hold, number> = { output: 1, turn: 2 };

// The loop's turn, as a counter: advanced by one setImmediate per turn in which anything
// was read, shared by every connection (not one timer per read).
let turn = 0;
let turnScheduled = false;
function currentTurn(): number {
  if (!turnScheduled) {
    turnScheduled = true;
    setImmediate(nextTurn);
  }
  return turn;
}
function nextTurn(): void {
  turn++;
  turnScheduled = false;
}

/**
 * Whether one connection's socket is read. Reading stops for either of two reasons, and
 * resumes only when neither holds and the connection still takes input (`reading()`):
 * - `output`: backpressure, the peer does not read its answers (until the socket drains);
 * - `turn`: the connection read {@link READ_BUDGET_BYTES} in this turn of the event loop;
 *   it reads again in the next, after every other connection had its turn.
 */
export class ReadGate {
  private holds = 0;
  private spent = 0;
  private spentIn = -1;

  constructor(
    private readonly socket: Socket,
    /** False once the connection reads no more (closing, closed): nothing resumes it then. */
    private readonly reading: () => boolean,
  ) {}

  hold(reason: Hold): void {
    if (this.holds === 0) this.socket.pause();
    this.holds |= BIT[reason];
  }

  release(reason: Hold): void {
    if ((this.holds & BIT[reason]) === 0) return;
    this.holds &= ~BIT[reason];
    if (this.holds === 0 && this.reading()) this.socket.resume();
  }

  /** Counts a read against this turn's budget; past it, stops reading until the next turn. */
  spend(bytes: number): void {
    const now = currentTurn();
    if (now !== this.spentIn) {
      this.spentIn = now;
      this.spent = 0;
    }
    this.spent += bytes;
    if (this.spent < READ_BUDGET_BYTES || (this.holds & BIT.turn) !== 0) return;
    this.hold('turn');
    setImmediate(releaseTurn, this);
  }
}

function releaseTurn(gate: ReadGate): void {
  gate.release('turn');
}
