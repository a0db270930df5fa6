// What the tests of exactly-once delivery share (loss.test.ts on every
// store, redis_cluster.test.ts on a cluster): subscribers that reconnect as
// EventSource does, publishers that do not wait for replies, and the check
// that a subscriber got exactly what followed its id, or an explicit reset.
import assert from "node:assert/strict";
import type { Redis } from "ioredis";
import type { Hub } from "../../src/hub.ts";
import { sleep, until } from "./time.ts";

/** What {@linkcode follow} records where a reset event came. */
const RESET = "(reset)";

/**
 * Follows `topic` on `hub` from `from` as a reconnecting client would
 * (after an end or an error), recording ids and resets, the data of each
 * id, how many times it reconnected and how many of those followed a
 * failure, until `stop` aborts.
 */
export function follow(
  hub: Hub,
  topic: string,
  from: string,
  stop: AbortSignal,
) {
  const seen: string[] = [];
  const data = new Map<string, string>();
  let last = from;
  let subscriptions = 0;
  let failures = 0;
  const done = (async () => {
    while (!stop.aborted) {
      subscriptions++;
      try {
        const sub = hub.subscribe(topic, { lastEventId: last, signal: stop });
        for await (const event of sub) {
          if (event.event === "reset") seen.push(RESET);
          if (event.id === undefined) continue;
          last = String(event.id);
          if (event.event === "reset") continue;
          seen.push(last);
          data.set(last, event.data as string);
        }
      } catch {
        // The store failed for now: reconnect, as a client would.
        failures++;
      }
      if (!stop.aborted) await sleep(20);
    }
  })();
  return {
    seen,
    data,
    done,
    reconnects: () => subscriptions - 1,
    failures: () => failures,
    /** Resolves once `id` has been seen; rejects naming `what` after `ms`. */
    reached: (id: string, what: string, ms = 20_000) =>
      until(
        () => Promise.resolve(seen.includes(id)),
        (found) => found,
        what,
        ms,
      ),
  };
}

/**
 * No silent gap, no duplicate: between resets, the ids seen are the
 * published ones, in order, each the next after the one before; the first
 * is the first after `from`, the last is the last published. Ids that
 * `ignored` names (publishes that failed, which the store may still have
 * kept) are passed over. Returns the number of resets.
 */
export function checkExact(
  seen: string[],
  published: string[],
  from: string,
  compare: (x: string, y: string) => number,
  ignored: (id: string) => boolean = () => false,
): number {
  const order = [...published].sort(compare);
  const index = new Map(order.map((id, i) => [id, i]));
  let at = order.findIndex((id) => compare(id, from) > 0) - 1;
  let resets = 0;
  let afterReset = false;
  const ids = new Set<string>();
  for (const item of seen) {
    if (item === RESET) {
      resets++;
      afterReset = true;
      continue;
    }
    assert.ok(!ids.has(item), `${item} delivered twice`);
    ids.add(item);
    if (ignored(item)) continue;
    const i = index.get(item);
    assert.ok(i !== undefined, `${item} was never published`);
    if (afterReset) assert.ok(i > at, `${item} after the reset goes back`);
    else {
      assert.equal(
        i,
        at + 1,
        `silent gap: after ${order[at]} came ${item}, ${i - at - 1} missed`,
      );
    }
    at = i;
    afterReset = false;
  }
  assert.equal(at, order.length - 1, "the last events never came");
  return resets;
}

/** Ids of the clients connected to `redis` whose name is `name`. */
export async function clients(redis: Redis, name: string): Promise<string[]> {
  return (await redis.client("LIST") as string).split("\n")
    .filter((line) => line.includes(` name=${name} `))
    .map((line) => /\bid=(\d+)/.exec(line)![1]);
}

/** Publishes `data` at about `rate` per second until `stop`; records ids. */
export function publishing(
  hub: Hub,
  topic: string,
  rate: number,
  stop: AbortSignal,
  tag: string,
) {
  const published: string[] = [];
  /** The id each publish that succeeded resolved to, by its data. */
  const ids = new Map<string, string>();
  const failed = new Set<string>();
  let errors = 0;
  const done = (async () => {
    let n = 0;
    const pending: Promise<void>[] = [];
    while (!stop.aborted) {
      // A batch every 10 ms, without waiting for the replies.
      for (let i = 0; i < rate / 100; i++) {
        const data = `${tag}${n++}`;
        pending.push(
          hub.publish(topic, data).then(
            (id) => {
              published.push(id);
              ids.set(data, id);
            },
            () => {
              errors++;
              failed.add(data);
            },
          ),
        );
      }
      await sleep(10);
    }
    await Promise.all(pending);
  })();
  return { published, ids, failed, done, errors: () => errors };
}
