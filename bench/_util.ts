/**
 * Helpers shared by the benchmarks: runtime detection, statistics, draining
 * and checking SSE bodies, and markdown tables.
 *
 * @module
 */

import process from "node:process";

export {
  type RuntimeName,
  runtimeName as runtime,
  runtimeVersion,
} from "../tests/support/runtime.ts";
import { collectGarbage } from "../tests/support/gc.ts";
import { sleep } from "../tests/support/time.ts";

export { collectGarbage, sleep };

/** Command-line arguments after the script, on any runtime. */
export function scriptArgs(): string[] {
  return process.argv.slice(2);
}

/**
 * The heap in use after full collections (three, a tick apart, so that
 * finalizers' garbage goes too), in bytes.
 */
export async function heapUsed(): Promise<number> {
  for (let i = 0; i < 3; i++) {
    collectGarbage();
    await sleep(10);
  }
  return process.memoryUsage().heapUsed;
}

/** The value of `--name=text` among the script's arguments, if given. */
export function textArg(name: string): string | undefined {
  return scriptArgs().find((arg) => arg.startsWith(`--${name}=`))
    ?.slice(name.length + 3);
}

/** The value of `--name=N` among the script's arguments: a positive integer, or `fallback`. */
export function numberArg(name: string, fallback: number): number {
  const given = scriptArgs().find((arg) => arg.startsWith(`--${name}=`));
  const value = given ? Number(given.slice(name.length + 3)) : fallback;
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new RangeError(`--${name} must be a positive integer`);
  }
  return value;
}

/** The median of a non-empty list. */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2
    ? sorted[middle]
    : (sorted[middle - 1] + sorted[middle]) / 2;
}

/** The `p`-th quantile (0…1) of a non-empty list, nearest rank. */
export function quantile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)];
}

/** Rotates a list by `by` places, so each round starts with a different entry. */
export function rotate<T>(items: readonly T[], by: number): T[] {
  const start = by % items.length;
  return [...items.slice(start), ...items.slice(0, start)];
}

/** What reading a body to its end saw. */
export interface Drained {
  ms: number;
  bytes: number;
  chunks: number;
}

/**
 * Reads a body to its end, counting bytes and chunks and nothing else so
 * the reader costs every implementation the same. Gives up (cancelling the
 * body) after `timeoutMs`, so a stalled implementation cannot hang the run.
 */
export async function drain(
  body: ReadableStream<Uint8Array>,
  start: number,
  timeoutMs: number,
): Promise<Drained> {
  const reader = body.getReader();
  const deadline = start + timeoutMs;
  let bytes = 0;
  let chunks = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return { ms: performance.now() - start, bytes, chunks };
    bytes += value.byteLength;
    // Checking the clock on every chunk would cost the per-event
    // implementations more than the coalescing ones.
    if ((++chunks & 1023) === 0 && performance.now() > deadline) {
      await reader.cancel(new Error("benchmark timeout")).catch(() => {});
      throw new Error(`no end of stream after ${timeoutMs} ms`);
    }
  }
}

/** An event as a client should see it, to compare with what it parsed. */
export interface ExpectedEvent {
  type: string;
  data: string;
  /** Checked only when given. */
  id?: string;
}

/** The outcome of {@linkcode checkEvents}. */
export interface CheckResult {
  events: number;
  bytes: number;
  /** The first difference from the expected events, if any. */
  error?: string;
}

/**
 * Parses a body as an `EventSource` would (the WHATWG "interpreting an event
 * stream" rules, for LF and CRLF line ends) and compares every dispatched
 * event with `expected(index)`, so an implementation that drops, merges or
 * mangles events is caught instead of looking fast.
 */
export async function checkEvents(
  body: ReadableStream<Uint8Array>,
  count: number,
  expected: (index: number) => ExpectedEvent,
  timeoutMs: number,
): Promise<CheckResult> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  const deadline = performance.now() + timeoutMs;
  let events = 0;
  let bytes = 0;
  let error: string | undefined;
  let rest = "";
  let data = "";
  let type = "";
  let lastId = "";
  const dispatch = () => {
    if (data === "") {
      type = "";
      return;
    }
    const got = { type: type || "message", data: data.slice(0, -1), lastId };
    data = "";
    type = "";
    const index = events++;
    if (error !== undefined) return;
    if (index >= count) {
      error = `more than ${count} events`;
      return;
    }
    const want = expected(index);
    if (
      got.type !== want.type || got.data !== want.data ||
      (want.id !== undefined && got.lastId !== want.id)
    ) {
      error = `event ${index} differs: got ${
        JSON.stringify(got).slice(0, 200)
      }, want ${JSON.stringify(want).slice(0, 200)}`;
    }
  };
  const line = (text: string) => {
    if (text === "") return dispatch();
    const colon = text.indexOf(":");
    if (colon === 0) return;
    const field = colon === -1 ? text : text.slice(0, colon);
    let value = colon === -1 ? "" : text.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "data") data += value + "\n";
    else if (field === "event") type = value;
    else if (field === "id" && !value.includes("\0")) lastId = value;
  };
  const feed = (text: string) => {
    text = rest + text;
    let from = 0;
    for (let end; (end = text.indexOf("\n", from)) !== -1; from = end + 1) {
      line(text.slice(from, text[end - 1] === "\r" ? end - 1 : end));
    }
    rest = text.slice(from);
  };
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    bytes += value.byteLength;
    feed(decoder.decode(value, { stream: true }));
    if (performance.now() > deadline) {
      await reader.cancel(new Error("benchmark timeout")).catch(() => {});
      return { events, bytes, error: `no end of stream after ${timeoutMs} ms` };
    }
  }
  feed(decoder.decode());
  if (error === undefined && events !== count) {
    error = `${events} events, want ${count}`;
  }
  return { events, bytes, error };
}

/** Renders rows as a GitHub markdown table; numeric-looking cells align right. */
export function table(
  header: readonly string[],
  rows: readonly (readonly string[])[],
): string {
  const numeric = header.map((_, column) =>
    rows.length > 0 &&
    rows.every((row) => /^[-+]?[\d.,]+[^|]*$|^—$/.test(row[column]))
  );
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => row[column].length), 3)
  );
  const cells = (row: readonly string[]) =>
    "| " +
    row.map((cell, column) =>
      numeric[column]
        ? cell.padStart(widths[column])
        : cell.padEnd(widths[column])
    ).join(" | ") + " |";
  const rule = "| " +
    widths.map((width, column) =>
      numeric[column] ? "-".repeat(width - 1) + ":" : "-".repeat(width)
    ).join(" | ") + " |";
  return [cells(header), rule, ...rows.map(cells)].join("\n");
}

/** Formats a number with a fixed count of decimals and thousands separators. */
export function fixed(value: number, decimals = 1): string {
  return value.toLocaleString("en-US", {
    minimumFractionDigits: decimals,
    maximumFractionDigits: decimals,
  });
}

/**
 * Prints a benchmark's results as the last line of stdout: JSON under
 * `--json` (what scripts/bench.mjs reads), else the markdown under `title`.
 */
export function printResults(
  results: { markdown: string },
  title: string,
): void {
  console.log(
    scriptArgs().includes("--json")
      ? JSON.stringify(results)
      : `## ${title}\n\n${results.markdown}`,
  );
}
