/**
 * {@linkcode sseMetrics}: counters of streams, events and bytes, hub and
 * Redis store health, fed by {@linkcode SSEHooks} and read as one plain
 * object, so any metrics system can take them (see `examples/metrics/` for
 * Prometheus and OpenTelemetry) without ssekit depending on one.
 *
 * (Over ~150 lines by a few: the snapshot's documented counters, and one
 * short hook per counter beside the counter's zero.)
 *
 * @module
 */

import type { SSECloseReason, SSEHooks } from "./hooks.ts";

/**
 * The counters of {@linkcode sseMetrics}, as {@linkcode SSEMetrics.snapshot}
 * returns them. Counters only go up; gauges (`openStreams`,
 * `openConnections`, `tailLag`) go up and down.
 *
 * @example Reading a few
 * ```ts
 * import assert from "node:assert/strict";
 * import { sseMetrics, type SSEMetricsSnapshot } from "@ssekit/ssekit";
 *
 * const snapshot: SSEMetricsSnapshot = sseMetrics().snapshot();
 * assert.deepEqual(
 *   [snapshot.openStreams, snapshot.eventsSent, snapshot.closed.stalled],
 *   [0, 0, 0], // nothing has run yet
 * );
 * ```
 */
export interface SSEMetricsSnapshot {
  /** Server streams sending now (gauge). */
  openStreams: number;
  /** Server streams opened so far. */
  streamsOpened: number;
  /** Server streams closed so far, by reason. */
  closed: Record<SSECloseReason, number>;
  /** Events written by server streams. */
  eventsSent: number;
  /** Bytes written by server streams, keep-alives and opening lines included. */
  bytesSent: number;
  /** Keep-alive comments written. */
  keepAlives: number;
  /** Errors reported (`onError`): failed sources, tails and clients. */
  errors: number;
  /** Hub subscriptions ended for falling behind (`slow: "disconnect"`). */
  slowConsumerDisconnects: number;
  /** Events dropped for slow hub subscribers (`slow: "drop-oldest"`). */
  slowConsumerDrops: number;
  /** Reset events served to hub subscribers. */
  resetsServed: number;
  /** Hub subscriptions that resumed from a `Last-Event-ID`. */
  resumes: number;
  /** Events replayed from history to resuming subscribers. */
  replayedEvents: number;
  /** Resumes whose id was no longer in history. */
  resumeGaps: number;
  /** Client connections open now (gauge). */
  openConnections: number;
  /** Client reconnections scheduled. */
  clientReconnects: number;
  /** Reconnection attempts of Redis stores' tail connections. */
  redisReconnects: number;
  /** The last tail lag measured by a Redis store, in ms (gauge). */
  tailLag: number;
  /** The largest tail lag measured so far, in ms. */
  maxTailLag: number;
}

/**
 * What {@linkcode sseMetrics} returns: hooks that count, and the counts.
 *
 * @example Passing the hooks everywhere
 * ```ts
 * import { createHub, sseMetrics, type SSEMetrics } from "@ssekit/ssekit";
 *
 * const metrics: SSEMetrics = sseMetrics();
 * const hub = createHub({ hooks: metrics.hooks });
 * await hub.close();
 * ```
 */
export interface SSEMetrics {
  /** Give these to `createSSEStream`, `createHub`, `redisStore` and `connectSSE`. */
  readonly hooks: SSEHooks;
  /** The counts now, as a fresh plain object. */
  snapshot(): SSEMetricsSnapshot;
}

/**
 * Creates counters and the hooks that feed them. One set can serve every
 * stream, hub, store and client of a process; its snapshot is a plain
 * object to expose however your metrics system wants it.
 *
 * @example Serving the counters as JSON next to a hub
 * ```ts
 * import assert from "node:assert/strict";
 * import { createHub, parseSSE, sseMetrics } from "@ssekit/ssekit";
 *
 * const metrics = sseMetrics();
 * const hub = createHub({ hooks: metrics.hooks });
 * // A fetch handler, for Deno.serve, Bun.serve, a Worker or serve() of
 * // "@ssekit/ssekit/node".
 * function app(request: Request): Response | Promise<Response> {
 *   return new URL(request.url).pathname === "/metrics"
 *     ? Response.json(metrics.snapshot())
 *     : hub.response(request, "news");
 * }
 *
 * const news = await app(new Request("http://localhost/news"));
 * await hub.publish("news", "Hello");
 * for await (const message of parseSSE(news)) {
 *   assert.equal(message.data, "Hello");
 *   const counters = await (await app(new Request("http://localhost/metrics"))).json();
 *   assert.equal(counters.openStreams, 1);
 *   break; // the client leaves
 * }
 * assert.equal(metrics.snapshot().closed["client-left"], 1);
 * await hub.close();
 * ```
 *
 * @returns The hooks and `snapshot()`.
 */
export function sseMetrics(): SSEMetrics {
  const counts: SSEMetricsSnapshot = {
    openStreams: 0,
    streamsOpened: 0,
    closed: {
      done: 0,
      "client-left": 0,
      aborted: 0,
      error: 0,
      stalled: 0,
      "slow-consumer": 0,
    },
    eventsSent: 0,
    bytesSent: 0,
    keepAlives: 0,
    errors: 0,
    slowConsumerDisconnects: 0,
    slowConsumerDrops: 0,
    resetsServed: 0,
    resumes: 0,
    replayedEvents: 0,
    resumeGaps: 0,
    openConnections: 0,
    clientReconnects: 0,
    redisReconnects: 0,
    tailLag: 0,
    maxTailLag: 0,
  };
  const hooks: SSEHooks = {
    onOpen({ side }) {
      if (side === "client") counts.openConnections++;
      else {
        counts.openStreams++;
        counts.streamsOpened++;
      }
    },
    onClose({ side, reason }) {
      if (side === "client") counts.openConnections--;
      else {
        counts.openStreams--;
        counts.closed[reason]++;
      }
    },
    onSend({ events, bytes, keepAlive }) {
      counts.eventsSent += events;
      counts.bytesSent += bytes;
      if (keepAlive) counts.keepAlives++;
    },
    onError() {
      counts.errors++;
    },
    onResume({ replayed, gap }) {
      counts.resumes++;
      counts.replayedEvents += replayed;
      if (gap) counts.resumeGaps++;
    },
    onReconnect({ where }) {
      if (where === "client") counts.clientReconnects++;
      else counts.redisReconnects++;
    },
    onSlowConsumer({ action }) {
      if (action === "drop") counts.slowConsumerDrops++;
      else counts.slowConsumerDisconnects++;
    },
    onReset() {
      counts.resetsServed++;
    },
    onTailLag({ lag }) {
      counts.tailLag = lag;
      if (lag > counts.maxTailLag) counts.maxTailLag = lag;
    },
  };
  return {
    hooks,
    snapshot: () => ({ ...counts, closed: { ...counts.closed } }),
  };
}
