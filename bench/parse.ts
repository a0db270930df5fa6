/**
 * The parse benchmark: how fast `text/event-stream` bytes become events
 * through ssekit's `SSEDecoderStream`, next to eventsource-parser (its
 * `createParser` behind a `TextDecoderStream`, and its
 * `EventSourceParserStream`) and raw baselines that do no spec work, in
 * the same run; ssekit's `parseSSE` and its synchronous
 * `EventStreamInterpreter` (against `createParser` fed by hand) show each
 * layer's cost. Two floors show what any stream of messages pays before
 * parsing: reading as many pre-made messages from a `ReadableStream`, one
 * per read, and piping the bytes through an identity `TransformStream`.
 * Every parser's events are checked against the corpus.
 *
 * Run it with `deno run -A bench/parse.ts`, `bun bench/parse.ts`, or for
 * all three runtimes and `bench/results.md`, `npm run bench`. `--json`
 * prints machine-readable results instead of markdown; `--rounds=N` and
 * `--mib=N` (the size of the large corpus) shrink a run.
 *
 * @module
 */

import { createParser, type EventSourceMessage } from "eventsource-parser";
import { EventSourceParserStream } from "eventsource-parser/stream";
import {
  EventStreamInterpreter,
  parseSSE,
  SSEDecoderStream,
  type SSEMessage,
} from "../mod.ts";
import {
  checkEvents,
  collectGarbage,
  drain,
  fixed,
  median,
  numberArg,
  printResults,
  rotate,
  runtimeVersion,
  table,
} from "./_util.ts";
import { longLine, mixedCorpus } from "../tests/support/corpus.ts";

// `npm run bench` forwards its arguments to every bench file; numberArg
// ignores the ones this file does not read (`--events`).
const MIB = 1024 * 1024;
const LARGE_BYTES = numberArg("mib", 32) * MIB;
const SMALL_BYTES = MIB;
const LINE_BYTES = 8 * MIB;
// One checked warm-up round, then this many timed rounds; fewer only when a
// section overruns its budget, which keeps a runtime near two minutes.
const ROUNDS = numberArg("rounds", 5);
const MIN_ROUNDS = Math.min(3, ROUNDS);
const BUDGET_MS = { large: 50_000, small: 35_000, line: 10_000 };
const RUN_TIMEOUT_MS = 30_000;
const LINE_TARGET_MS = 50;

function log(message: string): void {
  console.error(`[${runtimeVersion()}] ${message}`);
}

// ---------------------------------------------------------------------------
// Corpus

// FNV-1a over every event's type, id and data, in order.
const FNV_OFFSET = 0x811c9dc5;
function mix(hash: number, text: string): number {
  for (let i = 0; i < text.length; i++) {
    hash = Math.imul(hash ^ text.charCodeAt(i), 16777619);
  }
  // A separator, so "ab" + "c" and "a" + "bc" differ.
  return Math.imul(hash ^ 0x1f, 16777619);
}

/** What the consumer of every implementation sees, identically. */
class Sink {
  events = 0;
  chars = 0;
  hash = FNV_OFFSET;
  constructor(readonly check: boolean) {}
  add(type: string, id: string | undefined, data: string): void {
    this.events++;
    this.chars += data.length;
    if (this.check) this.hash = mix(mix(mix(this.hash, type), id ?? ""), data);
  }
}

// Whole-buffer bytes: Node's types give `TextDecoderStream` `BufferSource`
// chunks, which excludes views of a `SharedArrayBuffer`.
type Bytes = Uint8Array<ArrayBuffer>;

interface Corpus {
  bytes: Bytes;
  /** Events an `EventSource` dispatches. */
  events: number;
  /** Blank-line-terminated blocks, comment-only ones included. */
  blocks: number;
  /** UTF-16 code units of all events' data. */
  chars: number;
  hash: number;
}

/** Whole blocks of the mix, at least `size` bytes of them. */
async function corpus(size: number): Promise<Corpus> {
  const { bytes, blocks, events: expected } = mixedCorpus(size);
  let chars = 0;
  let hash = FNV_OFFSET;
  for (const event of expected) {
    chars += event.data.length;
    hash = mix(mix(mix(hash, event.type), event.id ?? ""), event.data);
  }
  // The expected events are checked once against an independent reading of
  // the bytes by the EventSource rules; the parsers then against the hash.
  const check = await checkEvents(
    source(split(bytes, 65_536)),
    expected.length,
    (index) => expected[index],
    RUN_TIMEOUT_MS,
  );
  if (check.error !== undefined) throw new Error(`corpus: ${check.error}`);
  return { bytes, events: expected.length, blocks, chars, hash };
}

// One event whose single data line is `size` bytes long.
function oneLine(size: number): Corpus {
  const { bytes, data } = longLine(size);
  return {
    bytes,
    events: 1,
    blocks: 1,
    chars: data.length,
    hash: mix(mix(mix(FNV_OFFSET, "message"), ""), data),
  };
}

function split(bytes: Bytes, size: number): Bytes[] {
  const chunks: Bytes[] = [];
  for (let start = 0; start < bytes.length; start += size) {
    chunks.push(bytes.subarray(start, start + size));
  }
  return chunks;
}

// The same body for every implementation: one chunk per pull.
function source(chunks: readonly Bytes[]): ReadableStream<Bytes> {
  let next = 0;
  return new ReadableStream<Bytes>({
    pull(controller) {
      if (next < chunks.length) controller.enqueue(chunks[next++]);
      else controller.close();
    },
  });
}

// The same body decoded by a `TextDecoderStream`, for eventsource-parser.
function decoded(chunks: readonly Bytes[]): ReadableStream<string> {
  return source(chunks).pipeThrough(new TextDecoderStream());
}

// ---------------------------------------------------------------------------
// Implementations

interface Impl {
  name: string;
  /**
   * What its output is checked for: events, `\n\n` blocks, bytes, or (for
   * the floor that reads pre-made messages) only the count of events.
   */
  kind: "events" | "blocks" | "bytes" | "reads";
  run(chunks: readonly Bytes[], sink: Sink): Promise<number | void>;
}

const SSEKIT_STREAM = "ssekit `SSEDecoderStream`";
const CREATE_PARSER = "eventsource-parser `createParser` ← `TextDecoderStream`";
const PARSER_STREAM =
  "eventsource-parser `TextDecoderStream` → `EventSourceParserStream`";
const RAW_SPLIT = "raw: `TextDecoderStream` + split on `\\n\\n`";
const RAW_DRAIN = "raw: drain the bytes";
const RAW_PIPE = "raw: pipe the bytes through an identity `TransformStream`";
const FLOOR_READS =
  "floor: the events' count of pre-made messages read from a `ReadableStream`";

// How many events each chunk completes, for the floor that reads pre-made
// messages: counted once per case, outside the timed rounds.
const eventsPerChunk = new WeakMap<readonly Bytes[], number[]>();

function countEventsPerChunk(chunks: readonly Bytes[]): number[] {
  const counts: number[] = [];
  let count = 0;
  const interpreter = new EventStreamInterpreter(undefined, () => count++);
  for (const chunk of chunks) {
    interpreter.push(chunk);
    counts.push(count);
    count = 0;
  }
  return counts;
}

async function readAll<T>(
  stream: ReadableStream<T>,
  each: (value: T) => void,
): Promise<void> {
  const reader = stream.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return;
    each(value);
  }
}

const impls: Impl[] = [
  {
    name: SSEKIT_STREAM,
    kind: "events",
    run: (chunks, sink) =>
      readAll(
        source(chunks).pipeThrough(new SSEDecoderStream()),
        (m: SSEMessage) => sink.add(m.type, m.id, m.data),
      ),
  },
  {
    name: CREATE_PARSER,
    kind: "events",
    run(chunks, sink) {
      const parser = createParser({
        onEvent: (e) => sink.add(e.event ?? "message", e.id, e.data),
      });
      return readAll(
        decoded(chunks),
        (text: string) => parser.feed(text),
      );
    },
  },
  {
    name: PARSER_STREAM,
    kind: "events",
    run: (chunks, sink) =>
      readAll(
        decoded(chunks).pipeThrough(new EventSourceParserStream()),
        (e: EventSourceMessage) => sink.add(e.event ?? "message", e.id, e.data),
      ),
  },
  {
    name: "ssekit `parseSSE`",
    kind: "events",
    async run(chunks, sink) {
      for await (const m of parseSSE(source(chunks))) {
        sink.add(m.type, m.id, m.data);
      }
    },
  },
  {
    name: "ssekit `EventStreamInterpreter`, fed by hand",
    kind: "events",
    // deno-lint-ignore require-await
    async run(chunks, sink) {
      const interpreter = new EventStreamInterpreter(
        undefined,
        (m) => sink.add(m.type, m.id, m.data),
      );
      for (const chunk of chunks) interpreter.push(chunk);
      interpreter.end();
    },
  },
  {
    name: "eventsource-parser `createParser` ← `TextDecoder`, by hand",
    kind: "events",
    // deno-lint-ignore require-await
    async run(chunks, sink) {
      const parser = createParser({
        onEvent: (e) => sink.add(e.event ?? "message", e.id, e.data),
      });
      const decoder = new TextDecoder();
      for (const chunk of chunks) {
        parser.feed(decoder.decode(chunk, { stream: true }));
      }
      parser.feed(decoder.decode());
    },
  },
  {
    name: RAW_SPLIT,
    kind: "blocks",
    async run(chunks, sink) {
      let rest = "";
      await readAll(
        decoded(chunks),
        (value: string) => {
          const text = rest + value;
          let from = 0;
          for (let end; (end = text.indexOf("\n\n", from)) !== -1;) {
            sink.add("", undefined, text.slice(from, end));
            from = end + 2;
          }
          rest = text.slice(from);
        },
      );
    },
  },
  {
    name: RAW_DRAIN,
    kind: "bytes",
    run: async (chunks) =>
      (await drain(source(chunks), performance.now(), RUN_TIMEOUT_MS)).bytes,
  },
  {
    // The per-chunk cost of any transform stream, before it does anything.
    name: RAW_PIPE,
    kind: "bytes",
    run: async (chunks) =>
      (await drain(
        source(chunks).pipeThrough(new TransformStream<Bytes, Bytes>()),
        performance.now(),
        RUN_TIMEOUT_MS,
      )).bytes,
  },
  {
    // The per-message cost of any stream of messages, one per read, before
    // any parsing: each pull enqueues as many messages as that chunk of the
    // corpus completes (the same object, so none is built or kept), and the
    // consumer reads them one by one, as it reads the parsers' events.
    name: FLOOR_READS,
    kind: "reads",
    run(chunks, sink) {
      const counts = eventsPerChunk.get(chunks)!;
      const message: SSEMessage = {
        type: "message",
        data: "",
        lastEventId: "",
      };
      let next = 0;
      const messages = new ReadableStream<SSEMessage>({
        pull(controller) {
          // A pull that enqueues nothing is not called again.
          while (next < counts.length && counts[next] === 0) next++;
          if (next === counts.length) return controller.close();
          for (let n = counts[next++]; n > 0; n--) controller.enqueue(message);
        },
      }, { highWaterMark: 0 });
      return readAll(messages, (m) => sink.add(m.type, m.id, m.data));
    },
  },
];

// ---------------------------------------------------------------------------
// Measuring

interface CaseResult {
  impl: string;
  kind: Impl["kind"];
  /** Median, min and max over the timed rounds, in milliseconds. */
  ms: number;
  minMs: number;
  maxMs: number;
  samples: number[];
  /** Events (or blocks) the checked warm-up round saw. */
  events: number;
  error?: string;
}

interface Case {
  name: "large" | "small" | "line";
  label: string;
  corpus: Corpus;
  chunkSize: number;
  impls: Impl[];
}

// Why a run's output differs from the corpus, if it does.
function verify(
  impl: Impl,
  corpus: Corpus,
  sink: Sink,
  bytes: number | void,
): string | undefined {
  if (impl.kind === "bytes") {
    return bytes === corpus.bytes.length
      ? undefined
      : `${bytes} bytes, want ${corpus.bytes.length}`;
  }
  const want = impl.kind === "blocks" ? corpus.blocks : corpus.events;
  if (sink.events !== want) return `${sink.events} ${impl.kind}, want ${want}`;
  if (impl.kind === "events") {
    if (sink.chars !== corpus.chars) {
      return `${sink.chars} data characters, want ${corpus.chars}`;
    }
    if (sink.check && sink.hash !== corpus.hash) {
      return `data checksum ${sink.hash.toString(16)}, want ${
        corpus.hash.toString(16)
      }`;
    }
  }
  return undefined;
}

async function measure(
  testCase: Case,
): Promise<CaseResult[]> {
  const chunks = split(testCase.corpus.bytes, testCase.chunkSize);
  eventsPerChunk.set(chunks, countEventsPerChunk(chunks));
  const results = testCase.impls.map((impl): CaseResult => ({
    impl: impl.name,
    kind: impl.kind,
    ms: NaN,
    minMs: NaN,
    maxMs: NaN,
    samples: [],
    events: 0,
  }));
  const started = performance.now();
  // Round 0 is the checked warm-up; its times are dropped.
  for (let round = 0; round <= ROUNDS; round++) {
    if (
      round > MIN_ROUNDS &&
      performance.now() - started > BUDGET_MS[testCase.name]
    ) {
      log(`${testCase.name}: time budget spent after ${round - 1} rounds`);
      break;
    }
    log(`${testCase.label}: round ${round}/${ROUNDS}`);
    for (const impl of rotate(testCase.impls, round)) {
      const result = results.find((r) => r.impl === impl.name)!;
      if (result.error !== undefined) continue;
      const sink = new Sink(round === 0);
      collectGarbage();
      const start = performance.now();
      try {
        const bytes = await impl.run(chunks, sink);
        const ms = performance.now() - start;
        result.error = verify(impl, testCase.corpus, sink, bytes);
        if (round === 0) result.events = sink.events;
        else result.samples.push(ms);
      } catch (error) {
        result.error = (error as Error).message;
      }
    }
  }
  for (const result of results) {
    if (result.samples.length === 0) continue;
    result.ms = median(result.samples);
    result.minMs = Math.min(...result.samples);
    result.maxMs = Math.max(...result.samples);
  }
  return results;
}

// ---------------------------------------------------------------------------
// Report

/** A target from the issue, checked against this run. */
export interface ParseTarget {
  label: string;
  /** What was measured: a time ratio (`×`) or milliseconds. */
  value: number;
  unit: "×" | "ms";
  /** The bound, e.g. `≥ 1.3×` or `< 50 ms`. */
  goal: string;
  met: boolean;
}

/** Everything one runtime measured; `scripts/bench.mjs` reads this. */
export interface ParseResults {
  runtime: string;
  cases: {
    name: Case["name"];
    label: string;
    bytes: number;
    chunks: number;
    events: number;
    results: CaseResult[];
  }[];
  targets: ParseTarget[];
  /** The same results rendered for people. */
  markdown: string;
}

function targetsOf(cases: ParseResults["cases"]): ParseTarget[] {
  const of = (name: Case["name"], impl: string) =>
    cases.find((c) => c.name === name)!.results.find((r) => r.impl === impl)!;
  const ratio = (
    label: string,
    name: Case["name"],
    other: string,
    bound: number,
  ): ParseTarget => {
    const ssekit = of(name, SSEKIT_STREAM);
    const them = of(name, other);
    const value = them.ms / ssekit.ms;
    return {
      label,
      value,
      unit: "×",
      goal: `≥ ${bound}×`,
      met: value >= bound && ssekit.error === undefined &&
        them.error === undefined,
    };
  };
  const line = of("line", SSEKIT_STREAM);
  return [
    ratio(
      "`SSEDecoderStream` vs `createParser` ← `TextDecoderStream`, 16 KiB chunks",
      "large",
      CREATE_PARSER,
      1.3,
    ),
    ratio(
      "`SSEDecoderStream` vs `EventSourceParserStream` pipeline, 16 KiB chunks",
      "large",
      PARSER_STREAM,
      2,
    ),
    ratio(
      "`SSEDecoderStream` vs `createParser` ← `TextDecoderStream`, 7-byte chunks",
      "small",
      CREATE_PARSER,
      1,
    ),
    {
      label: "`SSEDecoderStream`, one 8 MiB `data:` line in 1 KiB chunks",
      value: line.ms,
      unit: "ms",
      goal: `< ${LINE_TARGET_MS} ms`,
      met: line.ms < LINE_TARGET_MS && line.error === undefined,
    },
  ];
}

function ms(value: number): string {
  return Number.isFinite(value) ? fixed(value, value < 100 ? 1 : 0) : "—";
}

function times(ratio: number): string {
  return Number.isFinite(ratio) ? `${fixed(ratio, 2)}×` : "—";
}

function render(results: Omit<ParseResults, "markdown">): string {
  const out: string[] = [];
  for (const c of results.cases) {
    const rounds = Math.max(...c.results.map((r) => r.samples.length));
    const base = (impl: string) =>
      c.results.find((r) => r.impl === impl)?.ms ?? NaN;
    out.push(
      `### ${c.label}`,
      "",
      `${fixed(c.bytes / MIB, 1)} MiB, ${fixed(c.chunks, 0)} chunks, ${
        fixed(c.events, 0)
      } events. Median of ${rounds} interleaved rounds after a checked warm-up; ` +
        "× is how many times faster than that row (time ratio).",
      "",
      table(
        [
          "implementation",
          "median ms",
          "min–max ms",
          "MB/s",
          "× createParser pipeline",
          "check",
        ],
        c.results.map((r) => [
          r.impl,
          ms(r.ms),
          `${ms(r.minMs)}–${ms(r.maxMs)}`,
          Number.isFinite(r.ms) ? fixed(c.bytes / r.ms / 1000, 1) : "—",
          times(base(CREATE_PARSER) / r.ms),
          r.error !== undefined
            ? "✗"
            : r.kind === "bytes"
            ? "✓ bytes"
            : `✓ ${fixed(r.events, 0)} ${r.kind}`,
        ]),
      ),
      "",
    );
    for (const r of c.results) {
      if (r.error !== undefined) out.push(`- ✗ ${r.impl}: ${r.error}`);
    }
    if (c.results.some((r) => r.error !== undefined)) out.push("");
  }
  out.push(
    "### Targets",
    "",
    table(
      ["target", "measured", "goal", "met"],
      results.targets.map((t) => [
        t.label,
        t.unit === "×" ? times(t.value) : `${ms(t.value)} ms`,
        t.goal,
        t.met ? "✓" : "✗",
      ]),
    ),
  );
  return out.join("\n").trimEnd() + "\n";
}

async function main(): Promise<void> {
  const started = performance.now();
  log("building the corpora");
  const large = await corpus(LARGE_BYTES);
  const small = await corpus(SMALL_BYTES);
  const line = oneLine(LINE_BYTES);
  // Not the split baseline: its `rest + value` rescans the whole line on
  // every chunk, quadratic in a line this long.
  const lineImpls = impls.filter((impl) =>
    [SSEKIT_STREAM, CREATE_PARSER, PARSER_STREAM, RAW_DRAIN, RAW_PIPE]
      .includes(impl.name)
  );
  const cases: Case[] = [
    {
      name: "large",
      label: `${LARGE_BYTES / MIB} MiB of mixed events in 16 KiB chunks`,
      corpus: large,
      chunkSize: 16_384,
      impls,
    },
    {
      name: "small",
      label: "1 MiB of mixed events in 7-byte chunks",
      corpus: small,
      chunkSize: 7,
      impls,
    },
    {
      name: "line",
      label: "One 8 MiB `data:` line in 1 KiB chunks",
      corpus: line,
      chunkSize: 1024,
      impls: lineImpls,
    },
  ];
  const measured: ParseResults["cases"] = [];
  for (const testCase of cases) {
    measured.push({
      name: testCase.name,
      label: testCase.label,
      bytes: testCase.corpus.bytes.length,
      chunks: Math.ceil(testCase.corpus.bytes.length / testCase.chunkSize),
      events: testCase.corpus.events,
      results: await measure(testCase),
    });
  }
  const partial = {
    runtime: runtimeVersion(),
    cases: measured,
    targets: targetsOf(measured),
  };
  const results: ParseResults = { ...partial, markdown: render(partial) };
  log(`done in ${fixed((performance.now() - started) / 1000, 1)} s`);
  printResults(results, results.runtime);
}

await main();
