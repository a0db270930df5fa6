/**
 * {@linkcode createHub}: publish an event once, fan it out to every
 * subscriber of its topic, and let reconnecting clients resume from their
 * `Last-Event-ID` without gaps or duplicates.
 *
 * The hub keeps no events itself: a {@linkcode HubStore} assigns ids, keeps a
 * bounded history and tails new entries. {@linkcode memoryStore} is the
 * in-process store; the interface is shaped so a Redis Streams store (`XADD`
 * with `MAXLEN`/`MINID`, `XRANGE`, blocking `XREAD`) can implement it too.
 *
 * @module
 */

import type { FormatEventOptions } from "./encode.ts";
import type { SSEStreamOptions } from "./stream.ts";
import type { SSEEvent } from "./types.ts";
import type {
  HubEntry,
  HubHistory,
  HubLeaseState,
  HubReadResult,
  HubRecord,
  HubStore,
  HubTailHandler,
} from "./store.ts";
import type { SSEEventMap, SSEEvents } from "./events.ts";
import type { RelayUpstream } from "./relay.ts";
import type {
  HubRelayOptions,
  HubRelayOutcome,
  HubRelayRun,
} from "./hub_relay.ts";
import type { HubOptions } from "./_hub_options.ts";
import type { Hub, TypedHub } from "./_hub_api.ts";
import { HubCore } from "./_hub_core.ts";

export type {
  HubOptions,
  HubResponseOptions,
  HubSubscribeOptions,
} from "./_hub_options.ts";
export type { Hub, HubStats, TypedHub } from "./_hub_api.ts";

// Re-exported so this module documents on its own (deno doc --lint),
// the store's types included: the options name the store.
export type {
  FormatEventOptions,
  HubEntry,
  HubHistory,
  HubLeaseState,
  HubReadResult,
  HubRecord,
  HubRelayOptions,
  HubRelayOutcome,
  HubRelayRun,
  HubStore,
  HubTailHandler,
  RelayUpstream,
  SSEEvent,
  SSEStreamOptions,
};

/**
 * Creates a {@linkcode Hub}: `publish(topic, event)` stores an event under a
 * new id and fans it out to the topic's subscribers; `subscribe` and
 * `response` deliver it, resuming after a `Last-Event-ID` without gaps or
 * duplicates.
 *
 * - **Ids** come from the store, increase per topic, and are the events'
 *   SSE ids, so `EventSource` sends the last one back when it reconnects.
 *   Events with an id of their own are rejected.
 * - **Resume:** history after the id is replayed, then live events follow,
 *   each exactly once and in order, even while publishers race the replay.
 * - **Gaps are announced:** if the id is no longer in history (or unknown,
 *   malformed, or from another hub or an earlier process), the first event
 *   is `event: reset` with `data: history`, then the oldest event kept.
 *   A browser listens with `source.addEventListener("reset", …)` and
 *   reloads its state.
 * - **Slow subscribers** hold at most `maxQueue` events; then `slow`
 *   decides: `"disconnect"` (the client resumes from history) or
 *   `"drop-oldest"` (with a reset event, data `overflow`). Publishing never
 *   waits for a subscriber, and one stuck subscriber costs the others
 *   nothing.
 * - **Shutdown:** `close()` gives every stream a randomized `retry` hint,
 *   so clients reconnect spread out, and ends it.
 *
 * @example A resumable news feed
 * ```ts
 * import assert from "node:assert/strict";
 * import { createHub, parseSSE } from "@ssekit/ssekit";
 *
 * const hub = createHub({ history: { max: 1_000, ttl: 5 * 60_000 } });
 *
 * // A fetch handler, for Deno.serve, Bun.serve, a Worker or serve() of
 * // "@ssekit/ssekit/node".
 * async function feed(request: Request): Promise<Response> {
 *   const url = new URL(request.url);
 *   if (request.method === "POST") {
 *     const id = await hub.publish("news", { event: "news", data: await request.json() });
 *     return Response.json({ id });
 *   }
 *   // EventSource sends Last-Event-ID itself when it reconnects; a page
 *   // that stored an id can pass ?lastEventId= on its first connection.
 *   return hub.response(request, url.searchParams.get("topic") ?? "news");
 * }
 *
 * const post = (data: unknown) =>
 *   feed(new Request("http://localhost/", { method: "POST", body: JSON.stringify(data) }));
 * const { id } = await (await post({ title: "one" })).json();
 * await post({ title: "two" });
 * // A client that saw "one" reconnects, and gets what it missed.
 * const resumed = await feed(new Request(`http://localhost/?lastEventId=${id}`));
 * for await (const message of parseSSE(resumed)) {
 *   assert.deepEqual(JSON.parse(message.data), { title: "two" });
 *   break;
 * }
 * await hub.close();
 * ```
 *
 * @example Subscribing in process
 * ```ts
 * import assert from "node:assert/strict";
 * import { createHub } from "@ssekit/ssekit";
 *
 * const hub = createHub();
 * const first = await hub.publish("chat", { data: "one" });
 * const second = await hub.publish("chat", { data: { text: "two" } });
 * for await (const event of hub.subscribe("chat", { lastEventId: first })) {
 *   assert.deepEqual([event.id, event.data], [second, '{"text":"two"}']);
 *   break;
 * }
 * await hub.close();
 * ```
 *
 * @param options The store or history bounds, queue bound and slow policy,
 * reset event type, serializer and close retry range.
 * @returns The hub.
 * @throws {TypeError} When `store`, `slow`, `resetEvent` or `serialize` is
 * invalid, or both `store` and `history` are given.
 * @throws {RangeError} When `maxQueue`, `closeRetry` or a history bound is
 * out of range.
 */
export function createHub<M extends SSEEventMap>(
  options: HubOptions & { events: SSEEvents<M> },
): TypedHub<M>;
/**
 * Creates an untyped {@linkcode Hub}: see the typed form above.
 *
 * @param options The store or history bounds, queue bound and policies.
 * @returns The hub.
 */
export function createHub(options?: HubOptions): Hub;
export function createHub(options: HubOptions = {}): Hub {
  return new HubCore(options);
}
