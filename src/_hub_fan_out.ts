/**
 * The delivery of a topic's entries to its subscribers, in order.
 *
 * Subscriptions write to their streams within `push` (see `pushTo`), where
 * hooks run: an entry a hook publishes waits for the one under way, so
 * every subscriber gets both in order.
 *
 * @module
 */

import type { HubEntry } from "./store.ts";
import type { Subscription } from "./_hub_subscription.ts";

/**
 * A topic's delivery: each entry goes to every subscriber, one entry after
 * the other; `undefined` stands for a gap (entries the store lost).
 * `ended` learns the id of the topic's end before its subscribers get it.
 */
export function fanOut(
  subscribers: ReadonlySet<Subscription>,
  ended: (id: string) => void,
): (entry: HubEntry | undefined) => void {
  let delivering = false;
  const later: (HubEntry | undefined)[] = [];
  const deliver = (entry: HubEntry | undefined) => {
    if (entry === undefined) {
      for (const subscription of subscribers) subscription.gap();
      return;
    }
    if (entry.end) ended(entry.id);
    for (const subscription of subscribers) subscription.push(entry);
  };
  return (entry: HubEntry | undefined) => {
    if (delivering) return void later.push(entry);
    delivering = true;
    try {
      deliver(entry);
      for (let i = 0; i < later.length; i++) deliver(later[i]);
    } finally {
      delivering = false;
      later.length = 0;
    }
  };
}
