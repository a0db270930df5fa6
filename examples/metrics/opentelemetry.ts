// sseMetrics() fed to OpenTelemetry: observable counters and gauges read
// one snapshot per collection (a batch callback), through the
// @opentelemetry/api package only. Whichever MeterProvider the app
// registers (the SDK's, with an OTLP or a Prometheus exporter) collects
// them; ssekit itself depends on none of it.
//
//   import { metrics } from "@opentelemetry/api";
//   const sse = sseMetrics();
//   observeSSEMetrics(metrics.getMeter("ssekit"), sse);
//   createHub({ hooks: sse.hooks });
import type {
  Meter,
  ObservableCounter,
  ObservableGauge,
} from "@opentelemetry/api";
import type {
  SSECloseReason,
  SSEMetrics,
  SSEMetricsSnapshot,
} from "../../mod.ts"; // "ssekit"

type Read = (s: SSEMetricsSnapshot) => number;

const COUNTERS: [string, string, string, Read][] = [
  [
    "sse.streams.opened",
    "{stream}",
    "Server streams opened",
    (s) => s.streamsOpened,
  ],
  [
    "sse.events.sent",
    "{event}",
    "Events written by server streams",
    (s) => s.eventsSent,
  ],
  [
    "sse.bytes.sent",
    "By",
    "Bytes written by server streams",
    (s) => s.bytesSent,
  ],
  [
    "sse.keep_alives",
    "{comment}",
    "Keep-alive comments written",
    (s) => s.keepAlives,
  ],
  [
    "sse.errors",
    "{error}",
    "Sources, tails or clients that failed",
    (s) => s.errors,
  ],
  [
    "sse.slow_consumer.disconnects",
    "{subscription}",
    "Hub subscriptions ended for falling behind",
    (s) => s.slowConsumerDisconnects,
  ],
  [
    "sse.slow_consumer.drops",
    "{event}",
    "Events dropped for slow hub subscribers",
    (s) => s.slowConsumerDrops,
  ],
  ["sse.resets", "{event}", "Reset events served", (s) => s.resetsServed],
  ["sse.resumes", "{resume}", "Resumes from a Last-Event-ID", (s) => s.resumes],
  [
    "sse.replayed",
    "{event}",
    "Events replayed on resume",
    (s) => s.replayedEvents,
  ],
  [
    "sse.client.reconnects",
    "{reconnect}",
    "connectSSE reconnections",
    (s) => s.clientReconnects,
  ],
  [
    "sse.redis.reconnects",
    "{reconnect}",
    "Redis tail reconnection attempts",
    (s) => s.redisReconnects,
  ],
];

const GAUGES: [string, string, string, Read][] = [
  [
    "sse.streams.open",
    "{stream}",
    "Server streams sending now",
    (s) => s.openStreams,
  ],
  [
    "sse.client.connections.open",
    "{connection}",
    "connectSSE connections open",
    (
      s,
    ) => s.openConnections,
  ],
  [
    "sse.redis.tail_lag",
    "ms",
    "Last Redis tail lag, append to delivery",
    (s) => s.tailLag,
  ],
];

/**
 * Registers sseMetrics' counters and gauges on `meter`; each collection
 * reads one snapshot. Closes by reason are one counter with a `reason`
 * attribute.
 */
export function observeSSEMetrics(meter: Meter, sse: SSEMetrics): void {
  const counters = COUNTERS.map(([name, unit, description, read]) =>
    [meter.createObservableCounter(name, { unit, description }), read] as [
      ObservableCounter,
      Read,
    ]
  );
  const gauges = GAUGES.map(([name, unit, description, read]) =>
    [meter.createObservableGauge(name, { unit, description }), read] as [
      ObservableGauge,
      Read,
    ]
  );
  const closed = meter.createObservableCounter("sse.streams.closed", {
    unit: "{stream}",
    description: "Server streams closed, by reason",
  });
  meter.addBatchObservableCallback((observer) => {
    const snapshot = sse.snapshot();
    for (const [instrument, read] of [...counters, ...gauges]) {
      observer.observe(instrument, read(snapshot));
    }
    for (const reason of Object.keys(snapshot.closed) as SSECloseReason[]) {
      observer.observe(closed, snapshot.closed[reason], { reason });
    }
  }, [...counters.map(([i]) => i), ...gauges.map(([i]) => i), closed]);
}
