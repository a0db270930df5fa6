/**
 * Relay throughput: an OpenAI-style upstream stream fetched over loopback
 * and relayed by `relaySSE` (parse → map → re-encode), against piping the
 * upstream bytes through unchanged, in the same run. Target: relaying keeps
 * at least half the raw pipe's throughput.
 *
 * Run: `deno run -A bench/relay.ts`, `bun bench/relay.ts`, or compiled for
 * Node (`npm run bench` does all three). `--events=N`, `--rounds=N` shrink
 * a run. `--in-memory` reads the upstream from memory instead of a loopback
 * server: the relays' own CPU time, without the sockets' share and noise.
 * Prints markdown.
 *
 * @module
 */

import { relaySSE, type SSEEvent } from "../mod.ts";
import {
  drain,
  fixed,
  median,
  numberArg,
  rotate,
  runtimeVersion,
  scriptArgs,
  table,
} from "./_util.ts";
import { serve } from "./_serve.ts";
import { openAIChunk } from "../tests/support/corpus.ts";

const EVENTS = numberArg("events", 50_000);
// A relay of the whole corpus takes 10 to 35 ms, so one garbage collection
// moves a median of a few rounds; rounds are cheap.
const ROUNDS = numberArg("rounds", 15);
const TIMEOUT_MS = 60_000;
const IN_MEMORY = scriptArgs().includes("--in-memory");

// The upstream events' data: OpenAI-style chunks, then [DONE].
const upstreamData = Array.from({ length: EVENTS }, (_, i) =>
  JSON.stringify(
    openAIChunk("chatcmpl-bench", { content: `tok${i % 100} ` }, null, {
      model: "bench-model",
      created: 1700000000,
    }),
  )).concat("[DONE]");

// What a relay of an LLM API typically does with each event: the user's
// code, not ssekit's, and most of its cost is JSON.parse.
function toTokenDelta(message: { data: string }): SSEEvent | undefined {
  if (message.data === "[DONE]") return { event: "done", data: "" };
  const token = JSON.parse(message.data).choices[0]?.delta?.content;
  return token ? { data: JSON.stringify(token) } : undefined;
}

// The upstream body, encoded once and served in 16 KiB chunks as fast as
// the socket takes them, so the relays, not the upstream, set the pace.
function upstreamBody(): Uint8Array[] {
  let text = "";
  for (const data of upstreamData) text += `data: ${data}\n\n`;
  const bytes = new TextEncoder().encode(text);
  const chunks: Uint8Array[] = [];
  for (let i = 0; i < bytes.length; i += 16_384) {
    chunks.push(bytes.subarray(i, i + 16_384));
  }
  return chunks;
}

/** Starts the upstream request. */
type Upstream = (signal?: AbortSignal) => Promise<Response>;

interface Contender {
  name: string;
  relay(upstream: Upstream): Promise<Response>;
  /** The events a client of this contender sees. */
  events: number;
}

const contenders: Contender[] = [
  {
    name: "raw pipe (bytes unchanged)",
    events: EVENTS + 1,
    relay: async (upstream) => {
      const response = await upstream();
      return new Response(response.body, { headers: response.headers });
    },
  },
  {
    name: "relaySSE, pass-through",
    events: EVENTS + 1,
    relay: (upstream) => Promise.resolve(relaySSE(upstream)),
  },
  {
    // ssekit's own cost of the mapping path: every message parsed into an
    // object, handed to a map that costs next to nothing, and its event
    // formatted (its data line taken as the upstream sent it).
    name: "relaySSE, map renaming the event",
    events: EVENTS + 1,
    relay: (upstream) =>
      Promise.resolve(relaySSE(upstream, {
        map: (message) => ({ event: "chunk", data: message.data }),
      })),
  },
  {
    name: "relaySSE, map to token deltas",
    events: EVENTS + 1,
    relay: (upstream) =>
      Promise.resolve(relaySSE(upstream, {
        map: toTokenDelta,
      })),
  },
];

function countEvents(bytes: Uint8Array): number {
  let count = 0;
  for (let i = 1; i < bytes.length; i++) {
    if (bytes[i] === 10 && bytes[i - 1] === 10) count++;
  }
  return count;
}

async function check(
  contender: Contender,
  upstream: Upstream,
): Promise<string> {
  const body = new Uint8Array(
    await (await contender.relay(upstream)).arrayBuffer(),
  );
  const events = countEvents(body);
  return events === contender.events
    ? `✓ ${fixed(events, 0)} events`
    : `✗ ${events} events`;
}

const chunks = upstreamBody();
const upstreamBytes = chunks.reduce((sum, chunk) => sum + chunk.length, 0);
// Each response gets its own copies: a server may transfer chunks.
const body = () =>
  new Response(
    new ReadableStream<Uint8Array>({
      start(controller) {
        for (const chunk of chunks) controller.enqueue(chunk.slice());
        controller.close();
      },
    }),
    { headers: { "Content-Type": "text/event-stream" } },
  );
const server = IN_MEMORY ? undefined : await serve(body);
const upstream: Upstream = server
  ? (signal) => fetch(`http://127.0.0.1:${server.port}/`, { signal })
  : () => Promise.resolve(body());

const checks = new Map<string, string>();
for (const contender of contenders) {
  checks.set(contender.name, await check(contender, upstream));
}
const times = new Map<string, number[]>(contenders.map((c) => [c.name, []]));
for (let round = 0; round < ROUNDS; round++) {
  console.error(
    `[${runtimeVersion()}] relay round ${round + 1}/${ROUNDS}`,
  );
  for (const contender of rotate(contenders, round)) {
    const start = performance.now();
    const response = await contender.relay(upstream);
    const { ms } = await drain(response.body!, start, TIMEOUT_MS);
    times.get(contender.name)!.push(ms);
  }
}
await server?.close();

// The map function alone, over the same data with no I/O: the part of the
// mapping relay's time that is the user's code.
const mapTimes: number[] = [];
for (let round = 0; round < ROUNDS; round++) {
  const start = performance.now();
  for (const data of upstreamData) toTokenDelta({ data });
  mapTimes.push(performance.now() - start);
}
const mapMs = median(mapTimes);

const raw = median(times.get(contenders[0].name)!);
const rows = contenders.map((contender) => {
  const all = times.get(contender.name)!;
  const ms = median(all);
  const ratio = raw / ms;
  return [
    contender.name,
    fixed(ms),
    `${fixed(Math.min(...all))}–${fixed(Math.max(...all))}`,
    fixed(upstreamBytes / 1048576 / (ms / 1000)),
    fixed(EVENTS / (ms / 1000), 0),
    `${fixed(ratio, 2)}×`,
    // From memory, the raw pipe only hands over chunks: no target there.
    contender === contenders[0] || IN_MEMORY ? "—" : ratio >= 0.5 ? "✓" : "✗",
    checks.get(contender.name)!,
  ];
});
console.log(`## Relay throughput (${runtimeVersion()})

${fixed(EVENTS, 0)} OpenAI-style chunks (${
  fixed(upstreamBytes / 1048576, 1)
} MiB) ${
  IN_MEMORY ? "read from memory" : "fetched from a loopback upstream"
} and relayed; median of ${ROUNDS} interleaved rounds. "× raw" is throughput relative to piping the upstream bytes unchanged; ${
  IN_MEMORY
    ? "without sockets, the times are the relays' own CPU time, and the ≥ 0.5× target applies to the loopback run only."
    : "target ≥ 0.5×."
}

${
  table(
    [
      "relay",
      "median ms",
      "min–max ms",
      "upstream MiB/s",
      "events/s",
      "× raw",
      "≥ 0.5×",
      "check",
    ],
    rows,
  )
}

${IN_MEMORY ? "" : mapShare()}`);

function mapShare(): string {
  return `The map function alone (JSON.parse of every event's data, JSON.stringify of its token, no I/O) takes ${
    fixed(mapMs)
  } ms, ${fixed(mapMs / raw, 2)}× the raw pipe's whole time: ${
    mapMs < 2 * raw
      ? `with that map, the ≥ 0.5× budget leaves ${
        fixed(2 * raw - mapMs)
      } ms for fetching, parsing, re-encoding and sending`
      : `that map alone is over the ≥ 0.5× budget (${fixed(2 * raw)} ms)`
  }.
`;
}
