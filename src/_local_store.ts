/**
 * What the in-process stores (`memoryStore`, `durableObjectStore`) share:
 * ids `<epoch>-<sequence>` read back as sequence numbers, and tails that
 * are handlers called in-process on each append.
 *
 * @module
 */

import type { HubEntry, HubTailHandler } from "./store.ts";

const DIGITS = /^(?:0|[1-9][0-9]*)$/;

/**
 * The sequence number of `id` when it is `<prefix><sequence>` (the
 * store's epoch and a dash), or -1 for anything else.
 */
export function sequenceOf(id: unknown, prefix: string): number {
  if (typeof id !== "string" || !id.startsWith(prefix)) return -1;
  const digits = id.slice(prefix.length);
  if (!DIGITS.test(digits)) return -1;
  const seq = Number(digits);
  return Number.isSafeInteger(seq) ? seq : -1;
}

/**
 * Hands `entry` to each of a topic's tail handlers. A handler that throws
 * is detached and told through its `error`: a broken handler must not stop
 * the others or fail the append.
 */
export function deliver(handlers: Set<HubTailHandler>, entry: HubEntry): void {
  for (const handler of handlers) {
    try {
      handler.entry(entry);
    } catch (error) {
      handlers.delete(handler);
      try {
        handler.error(error);
      } catch {
        // It has been detached; nothing more can be done for it.
      }
    }
  }
}
