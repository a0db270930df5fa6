/**
 * {@linkcode SharedClock}: one timer for the watchdogs of many streams, the
 * streams a hub feeds (see _stream_timer.ts for a stream's own timer).
 *
 * With a timer per stream, 10,000 streams with a 1 s keep-alive make and
 * fire 10,000 timers a second, each made anew when its stream was written
 * since (the next check is due sooner than a full period): about a tenth
 * of the server's CPU while a hub fans events out (bench/fanout.ts on
 * Deno, issue 17). Here the checks wait in a heap by when they are due,
 * and one timer fires for the earliest, running every check due by then.
 *
 * Per hub, not one for the process: where a timer belongs to the request
 * that set it (Cloudflare Workers), a hub's streams share one I/O context
 * anyway (a Durable Object's), since its publishes write to all of them;
 * a lone `createSSEStream` keeps its own timer.
 *
 * @module
 */

/** A stream's watchdog, as the clock keeps it. */
export interface ClockEntry {
  /** When its check is due (ms since the epoch); 0 while none is. */
  due: number;
  /** Its index in the clock's heap; -1 while it is not in it. */
  slot: number;
  readonly finished: boolean;
  /** Checks the clocks at `now`, and schedules the next check. */
  tick(now: number): void;
}

/** One timer running the checks of many streams, each when it is due. */
export class SharedClock {
  /** A binary min-heap by `due`. */
  readonly #heap: ClockEntry[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined = undefined;
  /** When the armed timer fires; Infinity while none is armed. */
  #armedFor = Infinity;
  /** Checks run now: the timer is armed once, after them. */
  #firing = false;

  /** How many checks are scheduled. */
  get size(): number {
    return this.#heap.length;
  }

  /** Schedules `entry`'s check at `due`, in place of any it had. */
  add(entry: ClockEntry, due: number): void {
    if (entry.slot >= 0) this.remove(entry);
    const heap = this.#heap;
    entry.due = due;
    entry.slot = heap.length;
    heap.push(entry);
    this.#up(entry.slot);
    if (!this.#firing && due < this.#armedFor) this.#arm(due);
  }

  /** Cancels `entry`'s check, if scheduled. */
  remove(entry: ClockEntry): void {
    const slot = entry.slot;
    if (slot < 0) return;
    const heap = this.#heap;
    const last = heap.pop()!;
    if (slot < heap.length) {
      heap[slot] = last;
      last.slot = slot;
      this.#down(slot);
      this.#up(last.slot);
    }
    entry.slot = -1;
    entry.due = 0;
    // A timer armed for an earlier check that is gone fires for nothing
    // and re-arms: cheaper than re-arming on every removal. With no check
    // left, none may keep the process alive.
    if (heap.length === 0 && this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
      this.#armedFor = Infinity;
    }
  }

  #fire = (): void => {
    this.#timer = undefined;
    this.#armedFor = Infinity;
    this.#firing = true;
    const heap = this.#heap;
    const now = Date.now();
    try {
      while (heap.length > 0 && heap[0].due <= now) {
        const entry = heap[0];
        this.remove(entry);
        if (!entry.finished) entry.tick(now);
      }
    } finally {
      this.#firing = false;
      if (heap.length > 0) this.#arm(heap[0].due);
    }
  };

  #arm(due: number): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#armedFor = due;
    this.#timer = setTimeout(this.#fire, Math.max(0, due - Date.now()));
  }

  #up(slot: number): void {
    const heap = this.#heap;
    const entry = heap[slot];
    while (slot > 0) {
      const parent = (slot - 1) >> 1;
      if (heap[parent].due <= entry.due) break;
      heap[slot] = heap[parent];
      heap[slot].slot = slot;
      slot = parent;
    }
    heap[slot] = entry;
    entry.slot = slot;
  }

  #down(slot: number): void {
    const heap = this.#heap;
    const entry = heap[slot];
    for (;;) {
      let child = 2 * slot + 1;
      if (child >= heap.length) break;
      if (child + 1 < heap.length && heap[child + 1].due < heap[child].due) {
        child++;
      }
      if (entry.due <= heap[child].due) break;
      heap[slot] = heap[child];
      heap[slot].slot = slot;
      slot = child;
    }
    heap[slot] = entry;
    entry.slot = slot;
  }
}
