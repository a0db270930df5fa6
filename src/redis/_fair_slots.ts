/**
 * At most `size` holders at once; waiters are served round-robin by key and
 * first come, first served within a key. The Redis store takes one slot per
 * append so a topic publishing thousands of events a second queues behind
 * itself, not in front of a quiet topic's next event (issue 13: no topic
 * starves another). Per-key order is kept, so one topic's appends still
 * reach Redis in the order they were made.
 *
 * @module
 */
import { Queue } from "../_queue.ts";

export class FairSlots {
  #free: number;
  // Insertion order is the round: a key served moves to the end.
  #waiting = new Map<string, Queue<() => void>>();

  constructor(size: number) {
    this.#free = size;
  }

  /** Resolves once the caller holds a slot; give it back with {@linkcode release}. */
  take(key: string): Promise<void> | undefined {
    if (this.#free > 0 && this.#waiting.size === 0) {
      this.#free--;
      return undefined;
    }
    return new Promise<void>((resolve) => {
      let queue = this.#waiting.get(key);
      if (!queue) this.#waiting.set(key, queue = new Queue());
      queue.push(resolve);
    });
  }

  /** Hands the slot to the next key's oldest waiter, or frees it. */
  release(): void {
    const first = this.#waiting.entries().next();
    if (first.done) {
      this.#free++;
      return;
    }
    const [key, queue] = first.value;
    const next = queue.shift()!;
    this.#waiting.delete(key);
    if (queue.length > 0) this.#waiting.set(key, queue);
    next();
  }
}
