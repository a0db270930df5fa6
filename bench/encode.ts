/**
 * The encode benchmark: how fast ssekit turns an async generator of events
 * into response bytes, next to Hono's `streamSSE`, better-sse and a
 * hand-written one-chunk-per-event stream; which encoding stage suits each
 * runtime; and how soon the first event reaches a client over loopback.
 *
 * Run it with `deno run -A bench/encode.ts`, `bun bench/encode.ts`, or for
 * all three runtimes and `bench/results.md`, `npm run bench`. `--json`
 * prints machine-readable results instead of markdown.
 *
 * @module
 */

import { formatEvent } from "../mod.ts";
import {
  type BenchEvent,
  type Impl,
  impls,
  type Payload,
  payloads,
  TOKEN,
} from "./_impls.ts";
import { serve, timeToFirstEvent } from "./_serve.ts";
import { generate } from "../tests/support/corpus.ts";
import {
  checkEvents,
  type CheckResult,
  collectGarbage,
  drain,
  fixed,
  median,
  numberArg,
  printResults,
  quantile,
  rotate,
  runtimeVersion,
  sleep,
  table,
} from "./_util.ts";

// `--events=N` and `--rounds=N` shrink a run for trying changes quickly.
const EVENTS = numberArg("events", 100_000);
// One checked warm-up round, then this many timed rounds; fewer only when a
// section overruns its time budget, so a slow machine still finishes.
const ROUNDS = numberArg("rounds", 5);
const MIN_ROUNDS = Math.min(3, ROUNDS);
const RUN_TIMEOUT_MS = 30_000;
const THROUGHPUT_BUDGET_MS = 60_000;
const STAGE_BUDGET_MS = 15_000;
const TTFB_REQUESTS = 50;
const TTFB_WARMUP = 5;
const TTFB_TIMEOUT_MS = 2_000;
const TTFB_BUDGET_MS = 20_000;
// The first-event generator waits this long after its event, so a stream
// that holds events back until the next one (or the end) shows it plainly.
const TTFB_HOLD_MS = 200;
// ssekit's coalescing limit, mirrored for the encoding-stage inputs.
const CHUNK_CHARS = 16_384;
const URL_BASE = "http://127.0.0.1/";

function log(message: string): void {
  console.error(`[${runtimeVersion()}] ${message}`);
}

// ---------------------------------------------------------------------------
// Throughput

interface ThroughputResult {
  payload: Payload["name"];
  impl: string;
  /** Median, min and max over the timed rounds, in milliseconds. */
  ms: number;
  minMs: number;
  maxMs: number;
  samples: number[];
  bytes: number;
  chunks: number;
  /** Events the checker parsed in the warm-up round. */
  events: number;
  /** Why the output is not to be trusted, if it is not. */
  error?: string;
}

async function throughput(): Promise<ThroughputResult[]> {
  const results = new Map<string, ThroughputResult>();
  const key = (payload: Payload, impl: Impl) => `${payload.name}/${impl.name}`;
  for (const payload of payloads) {
    for (const impl of impls) {
      log(`checking ${impl.name} with ${payload.name}`);
      collectGarbage();
      let check: CheckResult;
      try {
        const response = await impl.respond(
          new Request(URL_BASE),
          () => generate(payload.event, EVENTS),
        );
        check = await checkEvents(
          response.body!,
          EVENTS,
          (index) => impl.expect(payload.event(index)),
          RUN_TIMEOUT_MS,
        );
      } catch (error) {
        check = { events: 0, bytes: 0, error: (error as Error).message };
      }
      results.set(key(payload, impl), {
        payload: payload.name,
        impl: impl.name,
        ms: NaN,
        minMs: NaN,
        maxMs: NaN,
        samples: [],
        bytes: check.bytes,
        chunks: 0,
        events: check.events,
        error: check.error,
      });
    }
  }
  const started = performance.now();
  for (let round = 0; round < ROUNDS; round++) {
    if (
      round >= MIN_ROUNDS &&
      performance.now() - started > THROUGHPUT_BUDGET_MS
    ) {
      log(`throughput: time budget spent after ${round} rounds`);
      break;
    }
    log(`throughput round ${round + 1}/${ROUNDS}`);
    for (const payload of payloads) {
      for (const impl of rotate(impls, round)) {
        const result = results.get(key(payload, impl))!;
        collectGarbage();
        const start = performance.now();
        try {
          const response = await impl.respond(
            new Request(URL_BASE),
            () => generate(payload.event, EVENTS),
          );
          const run = await drain(response.body!, start, RUN_TIMEOUT_MS);
          result.samples.push(run.ms);
          result.chunks = run.chunks;
          if (run.bytes !== result.bytes) {
            result.error ??=
              `${run.bytes} bytes in a timed round, ${result.bytes} when checked`;
          }
        } catch (error) {
          result.error ??= (error as Error).message;
        }
      }
    }
  }
  for (const result of results.values()) {
    if (result.samples.length === 0) continue;
    result.ms = median(result.samples);
    result.minMs = Math.min(...result.samples);
    result.maxMs = Math.max(...result.samples);
  }
  return [...results.values()];
}

// ---------------------------------------------------------------------------
// Encoding stage

interface StageResult {
  stage: string;
  input: string;
  ms: number;
  samples: number[];
  chunksIn: number;
  bytes: number;
  error?: string;
}

interface Stage {
  name: string;
  body(strings: readonly string[]): ReadableStream<Uint8Array>;
}

function stringStream(strings: readonly string[]): ReadableStream<string> {
  let next = 0;
  return new ReadableStream<string>({
    pull(controller) {
      if (next < strings.length) controller.enqueue(strings[next++]);
      else controller.close();
    },
  });
}

const stages: Stage[] = [
  {
    name: "TextEncoder.encode in pull (ssekit)",
    body(strings) {
      const encoder = new TextEncoder();
      let next = 0;
      return new ReadableStream<Uint8Array>({
        pull(controller) {
          if (next < strings.length) {
            controller.enqueue(encoder.encode(strings[next++]));
          } else controller.close();
        },
      });
    },
  },
  {
    name: "pipeThrough(new TextEncoderStream())",
    body: (strings) =>
      stringStream(strings).pipeThrough(new TextEncoderStream()),
  },
  {
    name: "pipeThrough(TransformStream + TextEncoder.encode)",
    body(strings) {
      const encoder = new TextEncoder();
      return stringStream(strings).pipeThrough(
        new TransformStream<string, Uint8Array>({
          transform(chunk, controller) {
            controller.enqueue(encoder.encode(chunk));
          },
        }),
      );
    },
  },
];

function coalesce(strings: readonly string[]): string[] {
  const chunks: string[] = [];
  let pending = "";
  for (const piece of strings) {
    pending += piece;
    if (pending.length >= CHUNK_CHARS) {
      chunks.push(pending);
      pending = "";
    }
  }
  if (pending !== "") chunks.push(pending);
  return chunks;
}

async function encodingStages(): Promise<StageResult[]> {
  const inputs: { name: string; strings: string[] }[] = [];
  for (const payload of payloads.filter((p) => p.name !== "multiline")) {
    const perEvent = Array.from(
      { length: EVENTS },
      (_, index) => formatEvent(payload.event(index)),
    );
    inputs.push({ name: `${payload.name}, one per event`, strings: perEvent });
    inputs.push({
      name: `${payload.name}, 16 KiB`,
      strings: coalesce(perEvent),
    });
  }
  const results: StageResult[] = [];
  for (const input of inputs) {
    // Every payload here is ASCII, so characters are bytes.
    const bytes = input.strings.reduce((sum, piece) => sum + piece.length, 0);
    for (const stage of stages) {
      results.push({
        stage: stage.name,
        input: input.name,
        ms: NaN,
        samples: [],
        chunksIn: input.strings.length,
        bytes,
      });
    }
  }
  const started = performance.now();
  // Round 0 is a warm-up whose times are dropped.
  for (let round = 0; round <= ROUNDS; round++) {
    if (
      round > MIN_ROUNDS && performance.now() - started > STAGE_BUDGET_MS
    ) {
      log(`encoding stages: time budget spent after ${round - 1} rounds`);
      break;
    }
    log(`encoding stages round ${round}/${ROUNDS}`);
    for (const input of inputs) {
      for (const stage of rotate(stages, round)) {
        const result = results.find((r) =>
          r.stage === stage.name && r.input === input.name
        )!;
        collectGarbage();
        const start = performance.now();
        try {
          const run = await drain(
            stage.body(input.strings),
            start,
            RUN_TIMEOUT_MS,
          );
          if (round > 0) result.samples.push(run.ms);
          if (run.bytes !== result.bytes) {
            result.error ??= `${run.bytes} bytes, want ${result.bytes}`;
          }
        } catch (error) {
          result.error ??= (error as Error).message;
        }
      }
    }
  }
  for (const result of results) {
    if (result.samples.length > 0) result.ms = median(result.samples);
  }
  return results;
}

// ---------------------------------------------------------------------------
// Time to first event

interface FirstEventResult {
  impl: string;
  ms: number;
  p90Ms: number;
  minMs: number;
  samples: number[];
  failures: number;
  error?: string;
}

async function* firstThenHold(): AsyncGenerator<BenchEvent> {
  yield { data: TOKEN };
  await sleep(TTFB_HOLD_MS);
}

async function timeToFirst(): Promise<FirstEventResult[]> {
  const byName = new Map(impls.map((impl) => [impl.name, impl]));
  const server = await serve((request) => {
    const impl = byName.get(new URL(request.url).pathname.slice(1));
    if (!impl) return new Response("not found", { status: 404 });
    return impl.respond(request, firstThenHold);
  });
  const results = impls.map((impl): FirstEventResult => ({
    impl: impl.name,
    ms: NaN,
    p90Ms: NaN,
    minMs: NaN,
    samples: [],
    failures: 0,
  }));
  const started = performance.now();
  try {
    for (let request = 0; request < TTFB_WARMUP + TTFB_REQUESTS; request++) {
      if (performance.now() - started > TTFB_BUDGET_MS) {
        log(`first event: time budget spent after ${request} requests each`);
        break;
      }
      for (const result of rotate(results, request)) {
        try {
          const ms = await timeToFirstEvent(
            server.port,
            `/${result.impl}`,
            TTFB_TIMEOUT_MS,
          );
          if (request >= TTFB_WARMUP) result.samples.push(ms);
        } catch (error) {
          result.failures++;
          result.error ??= (error as Error).message;
        }
      }
    }
  } finally {
    // Let the held generators finish so the server can shut down cleanly.
    await sleep(TTFB_HOLD_MS + 50);
    await server.close();
  }
  for (const result of results) {
    if (result.samples.length === 0) continue;
    result.ms = median(result.samples);
    result.p90Ms = quantile(result.samples, 0.9);
    result.minMs = Math.min(...result.samples);
  }
  return results;
}

// ---------------------------------------------------------------------------
// Report

/** A target from the issue, checked against this run. */
export interface TargetResult {
  payload: string;
  label: string;
  /** How many times faster ssekit was than Hono (median time ratio). */
  ratio: number;
  target: number;
  met: boolean;
}

/** Everything one runtime measured; `scripts/bench.mjs` reads this. */
export interface BenchResults {
  runtime: string;
  events: number;
  throughput: ThroughputResult[];
  targets: TargetResult[];
  stages: StageResult[];
  firstEvent: FirstEventResult[];
  /** The same results rendered for people. */
  markdown: string;
}

function targetsOf(results: readonly ThroughputResult[]): TargetResult[] {
  return payloads.map((payload) => {
    const of = (impl: string) =>
      results.find((r) => r.payload === payload.name && r.impl === impl)!;
    const ssekit = of("ssekit");
    const ratio = of("hono").ms / ssekit.ms;
    return {
      payload: payload.name,
      label: payload.label,
      ratio,
      target: payload.target,
      met: ratio >= payload.target && ssekit.error === undefined,
    };
  });
}

function times(ratio: number): string {
  return Number.isFinite(ratio) ? `${fixed(ratio, 2)}×` : "—";
}

function ms(value: number, decimals = 1): string {
  return Number.isFinite(value) ? fixed(value, decimals) : "—";
}

function render(
  results: Omit<BenchResults, "markdown">,
): string {
  const out: string[] = [];
  const rounds = Math.max(...results.throughput.map((r) => r.samples.length));
  out.push(
    `### Throughput: ${fixed(EVENTS, 0)} events from an async generator`,
    "",
    `Median of ${rounds} interleaved rounds after a checked warm-up; ` +
      "× Hono and × raw are how many times faster than those (time ratio).",
    "",
  );
  for (const payload of payloads) {
    const rows = results.throughput.filter((r) => r.payload === payload.name);
    const of = (impl: string) => rows.find((r) => r.impl === impl)!.ms;
    out.push(
      `**${payload.label}**`,
      "",
      table(
        [
          "implementation",
          "median ms",
          "min–max ms",
          "events/s",
          "MB/s",
          "chunks",
          "× Hono",
          "× raw",
          "check",
        ],
        rows.map((r) => [
          r.impl,
          ms(r.ms),
          `${ms(r.minMs)}–${ms(r.maxMs)}`,
          Number.isFinite(r.ms) ? fixed(EVENTS / r.ms * 1000, 0) : "—",
          Number.isFinite(r.ms) ? fixed(r.bytes / r.ms / 1000, 1) : "—",
          fixed(r.chunks, 0),
          times(of("hono") / r.ms),
          times(of("raw") / r.ms),
          r.error === undefined ? `✓ ${fixed(r.events, 0)} events` : "✗",
        ]),
      ),
      "",
    );
    for (const r of rows) {
      if (r.error !== undefined) out.push(`- ✗ ${r.impl}: ${r.error}`);
    }
    if (rows.some((r) => r.error !== undefined)) out.push("");
  }
  out.push(
    "**Targets (ssekit vs Hono)**",
    "",
    table(
      ["payload", "ssekit × Hono", "target", "met"],
      results.targets.map((t) => [
        t.label,
        times(t.ratio),
        `≥ ${t.target}×`,
        t.met ? "✓" : "✗",
      ]),
    ),
    "",
  );

  const inputs = [...new Set(results.stages.map((s) => s.input))];
  out.push(
    "### Encoding stage",
    "",
    `Pre-formatted event text (${
      fixed(EVENTS, 0)
    } events; one string per event, or coalesced into 16 KiB strings as ssekit does) turned into bytes by each stage; median ms.`,
    "",
    table(
      ["stage", ...inputs],
      stages.map((stage) => [
        stage.name,
        ...inputs.map((input) => {
          const r = results.stages.find((s) =>
            s.stage === stage.name && s.input === input
          )!;
          return r.error === undefined ? ms(r.ms) : "✗";
        }),
      ]),
    ),
    "",
  );
  for (const r of results.stages) {
    if (r.error !== undefined) {
      out.push(`- ✗ ${r.stage}, ${r.input}: ${r.error}`);
    }
  }
  const endToEnd = results.throughput.filter((r) =>
    r.impl === "ssekit" && r.payload !== "multiline"
  );
  out.push(
    `For scale, ssekit end to end (generator, formatting, coalescing, encoding): ${
      endToEnd.map((r) => `${r.payload} ${ms(r.ms)} ms`).join(", ")
    }.`,
    "",
  );

  const raw = results.firstEvent.find((r) => r.impl === "raw")!;
  const requests = Math.max(...results.firstEvent.map((r) => r.samples.length));
  out.push(
    "### Time to first event over loopback HTTP",
    "",
    `The generator yields one event, then waits ${TTFB_HOLD_MS} ms; a raw socket times request sent → first \`data:\` line. ` +
      `Median of ${requests} interleaved requests each, server and client in one process.`,
    "",
    table(
      [
        "implementation",
        "median ms",
        "p90 ms",
        "min ms",
        "Δ median vs raw",
        "failures",
      ],
      results.firstEvent.map((r) => [
        r.impl,
        ms(r.ms, 3),
        ms(r.p90Ms, 3),
        ms(r.minMs, 3),
        Number.isFinite(r.ms - raw.ms)
          ? `${r.ms >= raw.ms ? "+" : "-"}${fixed(Math.abs(r.ms - raw.ms), 3)}`
          : "—",
        String(r.failures),
      ]),
    ),
    "",
  );
  for (const r of results.firstEvent) {
    if (r.error !== undefined) out.push(`- ✗ ${r.impl}: ${r.error}`);
  }
  return out.join("\n").trimEnd() + "\n";
}

async function main(): Promise<void> {
  const started = performance.now();
  const throughputResults = await throughput();
  const stageResults = await encodingStages();
  const firstEvent = await timeToFirst();
  const partial = {
    runtime: runtimeVersion(),
    events: EVENTS,
    throughput: throughputResults,
    targets: targetsOf(throughputResults),
    stages: stageResults,
    firstEvent,
  };
  const results: BenchResults = { ...partial, markdown: render(partial) };
  log(`done in ${fixed((performance.now() - started) / 1000, 1)} s`);
  printResults(results, results.runtime);
}

await main();
