/**
 * What every server process of bench/fanout.ts shares: the clock events
 * are stamped with, and the loop that answers bench/fanout.ts's JSON-line
 * commands on stdin (see bench/_proc.ts startJsonWorker).
 *
 * @module
 */

import process from "node:process";
import { createInterface } from "node:readline";

/** Microseconds since the epoch, the clock the C client reads too. */
export function nowMicros(): number {
  return Math.round((performance.timeOrigin + performance.now()) * 1_000);
}

/** A server's answers to bench/fanout.ts's commands. */
export interface FanoutCommands {
  /** Its URL, the pid whose CPU counts, and what runs it. */
  info(): { url: string; pid: number; runtime: string };
  /** Open streams and memory, after a full collection with `gc`. */
  stats(gc: boolean): Promise<Record<string, unknown>>;
  /** Publishes `count` events, `rate` per second (0: back to back). */
  publish(count: number, rate: number): Promise<Record<string, unknown>>;
}

/**
 * Answers each command line on stdin with `{ id, ok, … }`, and calls
 * `done` when stdin ends; says it is ready first.
 */
export function answerCommands(
  commands: FanoutCommands,
  done: () => void,
): void {
  const answer = async (line: string): Promise<Record<string, unknown>> => {
    const { id, cmd, ...rest } = JSON.parse(line);
    try {
      if (cmd === "info") return { id, ok: true, ...commands.info() };
      if (cmd === "stats") {
        return { id, ok: true, ...await commands.stats(rest.gc) };
      }
      if (cmd === "publish") {
        return {
          id,
          ok: true,
          ...await commands.publish(rest.count, rest.rate),
        };
      }
      return { id, ok: false, error: `unknown command ${cmd}` };
    } catch (error) {
      return { id, ok: false, error: String(error) };
    }
  };
  createInterface({ input: process.stdin }).on("line", async (line) => {
    console.log(JSON.stringify(await answer(line)));
  }).on("close", done);
  console.log(JSON.stringify({ ready: true }));
}
