/**
 * The memory-topics benchmark (issue 13, "topics cost nothing once they are
 * gone"): what a million one-event topics cost the memory store while they
 * live, and what they still cost once their history expired and the sweep
 * passed over them.
 *
 * One store with `ttl` 1 s on a fake clock: a topic "sweeper" is first
 * filled to its `max` (1,000 events) so its steady size is in the baseline;
 * then one event goes to each of `--topics` topics; the clock moves past
 * the ttl, and appends to "sweeper" (each expires two other topics,
 * round-robin) run until the sweep has passed over every topic. The heap is
 * read after full collections at the baseline, with the topics live, and
 * after the sweep; per-topic figures are the growth over the baseline
 * divided by the topic count. A sample of topics is read back to tell
 * whether the store forgot them (they read like a topic never used).
 *
 * Run it with a collector the script can force:
 * `deno run -A --v8-flags=--expose-gc bench/memory_topics.ts`,
 * `bun bench/memory_topics.ts`, or on Node
 * `tsc -p bench && node --expose-gc .build/bench-out/bench/memory_topics.js`.
 * `--topics=N` changes the count (default 1,000,000); `--json` prints JSON.
 *
 * @module
 */

import { memoryStore } from "../src/memory_store.ts";
import {
  fixed,
  heapUsed,
  numberArg,
  printResults,
  runtimeVersion,
  table,
} from "./_util.ts";

const TOPICS = numberArg("topics", 1_000_000);
const TTL = 1_000;
const SWEEPER_MAX = 1_000;
const SAMPLE = 1_000;

function log(message: string): void {
  console.error(`[${runtimeVersion()}] ${message}`);
}

const mib = (bytes: number) => `${fixed(bytes / 2 ** 20, 1)} MiB`;

let time = 0;
const store = memoryStore({ max: SWEEPER_MAX, ttl: TTL, now: () => time });
for (let i = 0; i < SWEEPER_MAX; i++) {
  await store.append("sweeper", { data: "tick" });
}
const baseline = await heapUsed();
log(`baseline ${mib(baseline)}`);

let started = performance.now();
for (let i = 0; i < TOPICS; i++) {
  await store.append(`topic:${i}`, { data: "x" });
}
const appendMs = performance.now() - started;
const live = await heapUsed();
log(`${TOPICS} topics live: ${mib(live)} (${fixed(appendMs, 0)} ms)`);

// Past the ttl; the sweep visits two topics per append and restarts its
// round at the end of the map, so this is enough for a full round.
time += 2 * TTL;
started = performance.now();
for (let i = 0; i < Math.ceil(TOPICS / 2) + 4; i++) {
  await store.append("sweeper", { data: "tick" });
}
const sweepMs = performance.now() - started;
const after = await heapUsed();
log(`after expiry and the sweep: ${mib(after)} (${fixed(sweepMs, 0)} ms)`);

// Forgotten topics read like one never used (same cursor).
const absent = (await store.read("never used", "nope", 1)).cursor;
let forgotten = 0;
for (let i = 0; i < SAMPLE; i++) {
  const topic = `topic:${Math.floor(i * TOPICS / SAMPLE)}`;
  if ((await store.read(topic, "nope", 1)).cursor === absent) forgotten++;
}
await store.close();

const results = {
  runtime: runtimeVersion(),
  topics: TOPICS,
  baseline,
  live,
  after,
  bytesPerLiveTopic: (live - baseline) / TOPICS,
  bytesPerExpiredTopic: (after - baseline) / TOPICS,
  forgottenOfSample: forgotten / SAMPLE,
  appendMs,
  sweepMs,
};

printResults({
  ...results,
  markdown: `${TOPICS.toLocaleString("en-US")} one-event topics, \`ttl\` ${
    TTL / 1000
  } s (fake clock), then expiry and a full sweep. Heap after full collections; per-topic bytes are the growth over the baseline divided by the topic count.

${
    table(
      [
        "runtime",
        "baseline",
        "live",
        "after expiry",
        "B / live topic",
        "B / expired topic",
        "forgotten (sample)",
        "appends ms",
        "sweep ms",
      ],
      [[
        results.runtime,
        mib(baseline),
        mib(live),
        mib(after),
        fixed(results.bytesPerLiveTopic, 0),
        fixed(results.bytesPerExpiredTopic, 1),
        `${fixed(results.forgottenOfSample * 100, 0)} %`,
        fixed(appendMs, 0),
        fixed(sweepMs, 0),
      ]],
    )
  }`,
}, "Memory store: topics after expiry");
