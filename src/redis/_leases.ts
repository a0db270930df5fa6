/**
 * The Redis store's relay leases (internal to `ssekit/redis`): the
 * optional {@linkcode HubStore} methods by which one run of `hub.relay`
 * holds a topic, is asked to stop, and is found (and its topic ended) when
 * its instance died. A lease lives in the topic's hash, beside its publish
 * tokens, so the scripts that check it run on the topic's slot.
 *
 * @module
 */

import type { HubStore } from "../store.ts";
import type { StoreClient } from "./_client.ts";
import { checkTopic, toFields } from "./_entries.ts";

/** What the lease methods need of the store. */
export interface LeaseKeys {
  readonly client: StoreClient;
  /** A topic's stream key. */
  stream(topic: string): string;
  /** A stream key's hash of floor, tokens and lease. */
  meta(key: string): string;
  /**
   * The topics whose relay runs hold leases, by expiry: how a run whose
   * instance died is found. One key (one slot); the topics' own hashes
   * say whether a lease is really due.
   */
  readonly registry: string;
  /** The history bounds, as the append script takes them. */
  readonly max: number;
  readonly ttl: number | "";
}

/** `lease`, `release`, `requestAbort` and `reap`, on Redis. */
export function leaseMethods(
  { client, stream, meta, registry, max, ttl }: LeaseKeys,
): Required<Pick<HubStore, "lease" | "release" | "requestAbort" | "reap">> {
  return {
    async lease(topic, holder, ms) {
      checkTopic(topic);
      const key = stream(topic);
      const [state, expiry] = await client.ssekitLease(
        key,
        meta(key),
        holder,
        ms,
      );
      if (state === "ok") await client.zadd(registry, expiry, topic);
      return state;
    },

    async release(topic, holder) {
      checkTopic(topic);
      const key = stream(topic);
      await client.ssekitRelease(key, meta(key), holder);
      await client.zrem(registry, topic);
    },

    async requestAbort(topic) {
      checkTopic(topic);
      const key = stream(topic);
      return (await client.ssekitAbort(key, meta(key))) === 1;
    },

    async reap(record) {
      let reaped = 0;
      for (const topic of await client.ssekitDue(registry)) {
        const key = stream(topic);
        try {
          await client.ssekitAppend(
            key,
            meta(key),
            max,
            ttl,
            "",
            0,
            "1",
            "1",
            ...toFields({ ...record, end: true }),
          );
          reaped++;
        } catch (error) {
          // Renewed meanwhile: its next renewal moves it in the registry.
          if (String((error as Error)?.message).startsWith("LEASED")) {
            const alive = await client.hexists(meta(key), "h");
            if (alive) continue;
          } else if (!String((error as Error)?.message).startsWith("ENDED")) {
            throw error;
          }
        }
        await client.zrem(registry, topic);
      }
      return reaped;
    },
  };
}
