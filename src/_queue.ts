/**
 * {@linkcode Queue}: the one first-in, first-out queue of the library.
 *
 * @module
 */

/** Consumed slots kept before the queue is compacted. */
const COMPACT_AFTER = 1_024;

/**
 * A FIFO queue with amortised O(1) `shift`: an index moves over an array,
 * since `Array.prototype.shift` copies the rest on some engines (JSC, and
 * V8 past a size), which makes draining a large burst quadratic. A taken
 * slot is cleared at once, so the queue holds nothing it handed out; the
 * array is reset when drained and compacted once the taken slots are the
 * larger part of it, so a queue that is never empty stays bounded too.
 */
export class Queue<T> {
  #items: (T | undefined)[] = [];
  #head = 0;

  /** How many items wait. */
  get length(): number {
    return this.#items.length - this.#head;
  }

  /** Adds `item` at the back. */
  push(item: T): void {
    this.#items.push(item);
  }

  /** Takes the item at the front; `undefined` when empty. */
  shift(): T | undefined {
    const items = this.#items;
    const head = this.#head;
    if (head === items.length) return undefined;
    const item = items[head];
    items[head] = undefined;
    if (head + 1 === items.length) {
      items.length = 0;
      this.#head = 0;
    } else if (head >= COMPACT_AFTER && head * 2 >= items.length) {
      this.#items = items.slice(head + 1);
      this.#head = 0;
    } else this.#head = head + 1;
    return item;
  }

  /** Drops every item. */
  clear(): void {
    this.#items = [];
    this.#head = 0;
  }
}
