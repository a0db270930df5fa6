// sseMetrics() served in the Prometheus text exposition format (version
// 0.0.4), written by hand: no client library needed. Serve `GET /metrics`
// next to your streams, and point a scrape job at it.
//
//   deno run -A examples/metrics/prometheus.ts   (or bun, or Node >= 22.18)
//   curl -N localhost:8000/news &   # a stream
//   curl localhost:8000/metrics     # sse_open_streams 1, …
import {
  createHub,
  type SSECloseReason,
  sseMetrics,
  type SSEMetricsSnapshot,
} from "../../mod.ts"; // "ssekit"
import { serve } from "../../src/node.ts"; // "ssekit/node"

type Kind = "counter" | "gauge";

// name, type, help, and how to read it from a snapshot.
const FAMILIES: [string, Kind, string, (s: SSEMetricsSnapshot) => number][] = [
  [
    "sse_open_streams",
    "gauge",
    "Server streams sending now.",
    (s) => s.openStreams,
  ],
  [
    "sse_streams_opened_total",
    "counter",
    "Server streams opened.",
    (s) => s.streamsOpened,
  ],
  ["sse_events_sent_total", "counter", "Events written by server streams.", (
    s,
  ) => s.eventsSent],
  [
    "sse_bytes_sent_total",
    "counter",
    "Bytes written by server streams.",
    (s) => s.bytesSent,
  ],
  [
    "sse_keep_alives_total",
    "counter",
    "Keep-alive comments written.",
    (s) => s.keepAlives,
  ],
  ["sse_errors_total", "counter", "Sources, tails or clients that failed.", (
    s,
  ) => s.errors],
  [
    "sse_slow_consumer_disconnects_total",
    "counter",
    "Hub subscriptions ended for falling behind.",
    (s) => s.slowConsumerDisconnects,
  ],
  [
    "sse_slow_consumer_drops_total",
    "counter",
    "Events dropped for slow hub subscribers.",
    (s) => s.slowConsumerDrops,
  ],
  [
    "sse_resets_served_total",
    "counter",
    "Reset events served.",
    (s) => s.resetsServed,
  ],
  [
    "sse_resumes_total",
    "counter",
    "Resumes from a Last-Event-ID.",
    (s) => s.resumes,
  ],
  [
    "sse_replayed_events_total",
    "counter",
    "Events replayed on resume.",
    (s) => s.replayedEvents,
  ],
  ["sse_resume_gaps_total", "counter", "Resumes past what history kept.", (
    s,
  ) => s.resumeGaps],
  [
    "sse_open_connections",
    "gauge",
    "connectSSE connections open now.",
    (s) => s.openConnections,
  ],
  ["sse_client_reconnects_total", "counter", "connectSSE reconnections.", (
    s,
  ) => s.clientReconnects],
  [
    "sse_redis_reconnects_total",
    "counter",
    "Redis tail reconnection attempts.",
    (s) => s.redisReconnects,
  ],
  [
    "sse_redis_tail_lag_seconds",
    "gauge",
    "Last Redis tail lag, append to delivery.",
    (s) => s.tailLag / 1000,
  ],
];

/** The snapshot in the Prometheus text format. */
export function prometheusText(snapshot: SSEMetricsSnapshot): string {
  const lines: string[] = [];
  for (const [name, kind, help, read] of FAMILIES) {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${kind}`);
    lines.push(`${name} ${read(snapshot)}`);
  }
  const closed = "sse_streams_closed_total";
  lines.push(
    `# HELP ${closed} Server streams closed, by reason.`,
    `# TYPE ${closed} counter`,
  );
  for (const reason of Object.keys(snapshot.closed) as SSECloseReason[]) {
    lines.push(`${closed}{reason="${reason}"} ${snapshot.closed[reason]}`);
  }
  return lines.join("\n") + "\n";
}

/** A hub and its /metrics endpoint, as one fetch handler. */
export function createApp(): {
  handler: (request: Request) => Promise<Response>;
  hub: ReturnType<typeof createHub>;
} {
  const metrics = sseMetrics();
  // The same hooks go to redisStore({ hooks }) and connectSSE(url, { hooks }).
  const hub = createHub({ hooks: metrics.hooks });
  const handler = async (request: Request) => {
    const { pathname } = new URL(request.url);
    if (pathname === "/metrics") {
      return new Response(prometheusText(metrics.snapshot()), {
        headers: { "Content-Type": "text/plain; version=0.0.4; charset=utf-8" },
      });
    }
    return await hub.response(request, pathname.slice(1) || "news");
  };
  return { handler, hub };
}

if (import.meta.main) {
  const { handler, hub } = createApp();
  setInterval(() => hub.publish("news", new Date().toISOString()), 1_000);
  await serve(handler, { port: 8000 });
}
