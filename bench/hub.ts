/**
 * The hub benchmark: one publish fanned out to 10,000 subscribers in one
 * process, consumed through `subscribe()` iterators and through `response()`
 * bodies read with readers: delivery latency (publish → each subscriber has
 * the event) and heap per subscriber; then the sustained publish rate with
 * 1,000 subscribers.
 *
 * Run it with `deno run -A bench/hub.ts` or `bun bench/hub.ts` (Node: compile
 * with `tsc -p bench` first). `--subscribers=N`, `--rounds=N` and
 * `--events=N` shrink a run. Prints markdown.
 *
 * @module
 */

import { createHub, type Hub } from "../src/hub.ts";
import type { SSEEvent } from "../src/types.ts";
import {
  fixed,
  heapUsed,
  median,
  numberArg,
  quantile,
  runtimeVersion,
  sleep,
  table,
} from "./_util.ts";

const SUBSCRIBERS = numberArg("subscribers", 10_000);
const ROUNDS = numberArg("rounds", 20);
const SUSTAINED_SUBSCRIBERS = 1_000;
const SUSTAINED_EVENTS = numberArg("events", 20_000);
// Publishing stops at SUSTAINED_EVENTS or after this long, whichever is first.
const SUSTAINED_BUDGET_MS = 5_000;
// Events in flight at once in the sustained run: well under the default
// maxQueue (256), so a healthy subscriber is never cut off.
const SUSTAINED_WINDOW = 128;
const ROUND_TIMEOUT_MS = 10_000;
const TARGET_P99_MS = 50;

function log(message: string): void {
  console.error(`[${runtimeVersion()}] ${message}`);
}

// ---------------------------------------------------------------------------
// Fan-out latency

interface Consumer {
  /** When each subscriber last received an event, ms (performance.now()). */
  times: Float64Array;
  /** How many subscribers have the current round's event. */
  arrived: number;
  /** Resolves the round once every subscriber has the event. */
  done?: () => void;
  /** Subscribers whose stream ended or that saw something unexpected. */
  errors: string[];
}

function consumer(count: number): Consumer {
  return { times: new Float64Array(count), arrived: 0, errors: [] };
}

function arrive(state: Consumer, index: number, count: number): void {
  state.times[index] = performance.now();
  if (++state.arrived === count) state.done?.();
}

async function iteratorReader(
  sub: AsyncIterableIterator<SSEEvent>,
  state: Consumer,
  index: number,
  count: number,
): Promise<void> {
  for (;;) {
    const { done, value } = await sub.next();
    if (done) return;
    if (value.data === undefined) continue; // the close() retry hint
    arrive(state, index, count);
  }
}

async function bodyReader(
  body: ReadableStream<Uint8Array>,
  state: Consumer,
  index: number,
  count: number,
): Promise<void> {
  const reader = body.getReader();
  // The first chunk is the ":\n" that flushes the headers.
  await reader.read();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return;
    // One event per round: a chunk holds it whole (≥ "data: r0\n\n").
    if (value.byteLength < 10 || value[value.byteLength - 1] !== 10) {
      state.errors.push(`subscriber ${index}: odd chunk`);
    }
    if (value[0] === 114 /* "r" of "retry:" */) return;
    arrive(state, index, count);
  }
}

interface FanOutResult {
  mode: string;
  p50: number[];
  p99: number[];
  max: number[];
  /** How long the publish() call itself took (the synchronous fan-out). */
  publishCall: number[];
  bytesPerSubscriber: number;
  errors: string[];
}

type FanOutMode =
  | "subscribe()"
  | "response()"
  | "response(), keepAlive: false";

async function fanOut(mode: FanOutMode): Promise<FanOutResult> {
  const hub = createHub();
  const state = consumer(SUBSCRIBERS);
  const before = await heapUsed();
  const readers: Promise<void>[] = [];
  for (let i = 0; i < SUBSCRIBERS; i++) {
    if (mode === "subscribe()") {
      readers.push(iteratorReader(hub.subscribe("t"), state, i, SUBSCRIBERS));
    } else {
      const response = await hub.response(
        new Request("http://bench/"),
        "t",
        mode === "response()" ? {} : { keepAlive: false },
      );
      readers.push(bodyReader(response.body!, state, i, SUBSCRIBERS));
    }
  }
  // Let every reader reach its first pending read.
  await sleep(50);
  const bytesPerSubscriber = ((await heapUsed()) - before) / SUBSCRIBERS;
  const result: FanOutResult = {
    mode,
    p50: [],
    p99: [],
    max: [],
    publishCall: [],
    bytesPerSubscriber,
    errors: state.errors,
  };
  // Round 0 warms up and is not counted.
  for (let round = 0; round <= ROUNDS; round++) {
    state.arrived = 0;
    const all = new Promise<void>((resolve) => state.done = resolve);
    const start = performance.now();
    // Only the synchronous part: awaiting would let the readers run first.
    const publishing = hub.publish("t", `r${round}`);
    const called = performance.now() - start;
    await publishing;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = await Promise.race([
      all.then(() => false),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), ROUND_TIMEOUT_MS);
      }),
    ]);
    clearTimeout(timer);
    if (timedOut) {
      state.errors.push(
        `round ${round}: ${state.arrived} of ${SUBSCRIBERS} within ${ROUND_TIMEOUT_MS} ms`,
      );
      break;
    }
    if (round === 0) continue;
    const latencies = Array.from(state.times, (time) => time - start);
    result.p50.push(quantile(latencies, 0.5));
    result.p99.push(quantile(latencies, 0.99));
    result.max.push(Math.max(...latencies));
    result.publishCall.push(called);
    // Lets keep-alive timers and garbage collection run between rounds.
    await sleep(5);
  }
  await hub.close();
  await Promise.race([Promise.all(readers), sleep(5_000)]);
  return result;
}

// ---------------------------------------------------------------------------
// Sustained publishing

interface SustainedResult {
  mode: string;
  events: number;
  ms: number;
  errors: string[];
}

/**
 * Publishes as fast as the slowest of 1,000 subscribers allows, keeping at
 * most SUSTAINED_WINDOW events in flight, and checks each subscriber saw
 * every event, in order.
 */
async function sustained(mode: "subscribe()" | "response()"): Promise<
  SustainedResult
> {
  const hub: Hub = createHub({ history: { max: 1_000 } });
  const count = SUSTAINED_SUBSCRIBERS;
  const seen = new Uint32Array(count);
  let slowest = 0;
  let wake: (() => void) | undefined;
  const errors: string[] = [];
  const advance = () => {
    let least = seen[0];
    for (let i = 1; i < count; i++) if (seen[i] < least) least = seen[i];
    slowest = least;
    wake?.();
  };
  const readers: Promise<void>[] = [];
  for (let i = 0; i < count; i++) {
    if (mode === "subscribe()") {
      const sub = hub.subscribe("t");
      readers.push((async () => {
        for (;;) {
          const { done, value } = await sub.next();
          if (done || value.data === undefined) return;
          if (value.data !== String(seen[i])) {
            errors.push(`subscriber ${i}: got ${value.data}, want ${seen[i]}`);
            return;
          }
          if (++seen[i] % 32 === 0 && seen[i] > slowest) advance();
        }
      })());
    } else {
      const body = (await hub.response(new Request("http://bench/"), "t"))
        .body!;
      readers.push((async () => {
        const reader = body.getReader();
        const decoder = new TextDecoder();
        let rest = "";
        for (;;) {
          const { done, value } = await reader.read();
          if (done) return;
          const text = rest + decoder.decode(value, { stream: true });
          let from = 0;
          for (
            let end;
            (end = text.indexOf("\n\n", from)) !== -1;
            from = end + 2
          ) {
            const data = text.slice(text.indexOf("data: ", from) + 6, end);
            if (data !== String(seen[i])) {
              errors.push(`subscriber ${i}: got ${data}, want ${seen[i]}`);
              return;
            }
            if (++seen[i] % 32 === 0 && seen[i] > slowest) advance();
          }
          rest = text.slice(from);
          if (rest.startsWith(":\n")) rest = rest.slice(2);
        }
      })());
    }
  }
  await sleep(50);
  const start = performance.now();
  let published = 0;
  while (published < SUSTAINED_EVENTS && errors.length === 0) {
    if (performance.now() - start > SUSTAINED_BUDGET_MS) break;
    if (published - slowest >= SUSTAINED_WINDOW) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        wake = resolve;
        // A lagging reader that is one short of a multiple of 32 never
        // calls advance(): look again after a while.
        timer = setTimeout(() => (advance(), resolve()), 5);
      });
      clearTimeout(timer);
      wake = undefined;
      continue;
    }
    await hub.publish("t", String(published++));
  }
  // Wait for the tail end to arrive everywhere.
  const deadline = performance.now() + 5_000;
  while (errors.length === 0 && performance.now() < deadline) {
    advance();
    if (slowest >= published) break;
    await sleep(1);
  }
  const ms = performance.now() - start;
  if (errors.length === 0 && slowest < published) {
    errors.push(`slowest subscriber at ${slowest} of ${published}`);
  }
  if (hub.stats().subscribers !== count) {
    errors.push(`${count - hub.stats().subscribers} subscribers cut off`);
  }
  await hub.close();
  await Promise.race([Promise.all(readers), sleep(5_000)]);
  return { mode, events: published, ms, errors };
}

// ---------------------------------------------------------------------------

const fanOuts: FanOutResult[] = [];
for (
  const mode of [
    "subscribe()",
    "response()",
    "response(), keepAlive: false",
  ] as const
) {
  log(`fan-out to ${SUBSCRIBERS} subscribers via ${mode}, ${ROUNDS} rounds`);
  fanOuts.push(await fanOut(mode));
}
const rates: SustainedResult[] = [];
for (const mode of ["subscribe()", "response()"] as const) {
  log(`sustained publishing to ${SUSTAINED_SUBSCRIBERS} via ${mode}`);
  rates.push(await sustained(mode));
}

const ms = (values: number[]) => values.length ? fixed(median(values), 2) : "—";
const check = (errors: string[]) =>
  errors.length === 0
    ? "✓"
    : `✗ ${errors[0]}${errors.length > 1 ? ` (+${errors.length - 1})` : ""}`;

console.log(`# Hub benchmark (${runtimeVersion()})

One \`publish()\` fanned out to ${
  SUBSCRIBERS.toLocaleString("en-US")
} subscribers of one topic in one process; latency is from just before \`publish()\` to each subscriber holding the event (an iterator's \`next()\` resolved, or a body reader's \`read()\` returned the chunk). Medians over ${ROUNDS} rounds after a warm-up. "publish() sync" is the synchronous part of the call (store append and fan-out to the queues). Heap per subscriber is the heap growth (after a full GC) from opening the subscriptions and starting their readers, divided by their count. Target: p99 ≤ ${TARGET_P99_MS} ms.

${
  table(
    [
      "consumers",
      "subscribers",
      "p50 ms",
      "p99 ms",
      "max ms",
      "publish() sync ms",
      "heap / subscriber",
      "p99 target",
      "check",
    ],
    fanOuts.map((result) => [
      result.mode,
      SUBSCRIBERS.toLocaleString("en-US"),
      ms(result.p50),
      ms(result.p99),
      ms(result.max),
      ms(result.publishCall),
      `${fixed(result.bytesPerSubscriber / 1024, 2)} KiB`,
      result.p99.length && median(result.p99) <= TARGET_P99_MS ? "✓" : "✗",
      check(result.errors),
    ]),
  )
}

Sustained publishing to ${
  SUSTAINED_SUBSCRIBERS.toLocaleString("en-US")
} subscribers: \`await publish()\` in a loop (${
  SUSTAINED_EVENTS.toLocaleString("en-US")
} events or ${
  SUSTAINED_BUDGET_MS / 1000
} s, whichever comes first), at most ${SUSTAINED_WINDOW} events ahead of the slowest subscriber (default \`maxQueue\` 256, so nobody is cut off); every subscriber checks it got every event in order.

${
  table(
    [
      "consumers",
      "subscribers",
      "events",
      "seconds",
      "events/s",
      "deliveries/s",
      "check",
    ],
    rates.map((result) => [
      result.mode,
      SUSTAINED_SUBSCRIBERS.toLocaleString("en-US"),
      result.events.toLocaleString("en-US"),
      fixed(result.ms / 1000, 2),
      fixed(result.events / (result.ms / 1000), 0),
      fixed(result.events * SUSTAINED_SUBSCRIBERS / (result.ms / 1000), 0),
      check(result.errors),
    ]),
  )
}`);
