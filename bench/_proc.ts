// What the multi-process benchmarks (relays.ts, topics.ts) read from the
// machine and from Redis, and how they drive their client processes: one
// copy of each, for the benchmarks that run child processes on Linux.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import type { Readable } from "node:stream";
import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import type { Redis } from "ioredis";
import { root } from "../tests/support/child.ts";
import { within } from "../tests/support/time.ts";

const CLOCK_TICKS = Number(
  spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).stdout,
) || 100;

/** CPU seconds (user + system, every thread) a process has used. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // Fields after the command name, which may hold spaces: utime is [11],
  // stime [12].
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}

/** The machine's busy and total CPU seconds, over every core. */
export function machineSeconds(): { busy: number; total: number } {
  const line = readFileSync("/proc/stat", "utf8").split("\n")[0];
  const [user, nice, system, idle, iowait, irq, softirq, steal] = line
    .split(/\s+/).slice(1, 9).map(Number);
  const busy = user + nice + system + irq + softirq + steal;
  return {
    busy: busy / CLOCK_TICKS,
    total: (busy + idle + iowait) / CLOCK_TICKS,
  };
}

/** Calls and microseconds per command, from `INFO commandstats`. */
export type CommandStats = Map<string, { calls: number; usec: number }>;

export async function commandStats(admin: Redis): Promise<CommandStats> {
  const info = await admin.info("commandstats");
  const result: CommandStats = new Map();
  for (const match of info.matchAll(/cmdstat_(\S+):calls=(\d+),usec=(\d+)/g)) {
    result.set(match[1], { calls: Number(match[2]), usec: Number(match[3]) });
  }
  return result;
}

/** A child process driven by JSON lines: `{ id, … }` in, `{ id, ok, … }` out. */
export interface JsonWorker {
  pid: number;
  call<T>(command: object, timeoutMs: number): Promise<T>;
  stop(): Promise<void>;
}

/**
 * Starts `command` in the repository root and waits (30 s at most) for its
 * first line, `ready` (or `{"ready":true}`).
 */
export async function startJsonWorker(
  command: string,
  args: string[],
  env: Record<string, string>,
  what: string,
): Promise<JsonWorker> {
  const child: ChildProcess = spawn(command, args, {
    cwd: root(),
    env: { ...process.env, ...env },
    stdio: ["pipe", "pipe", "inherit"],
  });
  const exited = new Promise((resolve) => child.once("exit", resolve));
  const waiting = new Map<number, (reply: Record<string, unknown>) => void>();
  let ready!: () => void;
  const started = new Promise<void>((resolve) => ready = resolve);
  createInterface({ input: child.stdout! }).on("line", (line) => {
    if (line === "ready") return ready();
    const reply = JSON.parse(line) as Record<string, unknown>;
    if (reply.ready) return ready();
    waiting.get(reply.id as number)?.(reply);
  });
  let ids = 0;
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.stdin!.end();
    const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
    await exited;
    clearTimeout(timer);
  };
  try {
    await within(
      Promise.race([
        started,
        exited.then(() => {
          throw new Error(`the ${what} exited before it was ready`);
        }),
      ]),
      30_000,
      `${what} start`,
    );
  } catch (error) {
    child.kill("SIGKILL");
    throw error;
  }
  return {
    pid: child.pid!,
    stop,
    async call<T>(command: object, timeoutMs: number): Promise<T> {
      const id = ++ids;
      const reply = new Promise<Record<string, unknown>>((resolve) =>
        waiting.set(id, resolve)
      );
      child.stdin!.write(JSON.stringify({ id, ...command }) + "\n");
      try {
        const result = await within(reply, timeoutMs, JSON.stringify(command));
        if (!result.ok) throw new Error(`${what}: ${result.error}`);
        return result as T;
      } finally {
        waiting.delete(id);
      }
    },
  };
}

/**
 * Reads `stream` (a child's stdout) line by line: `next()` is the next
 * line, rejecting naming `what` when none comes within `timeoutMs`.
 */
export function lineReader(
  stream: Readable,
  timeoutMs: number,
  what: string,
): { next(): Promise<string> } {
  const lines: string[] = [];
  const waiting: ((line: string) => void)[] = [];
  createInterface({ input: stream }).on("line", (line) => {
    const waiter = waiting.shift();
    if (waiter) waiter(line);
    else lines.push(line);
  });
  return {
    next: () =>
      new Promise<string>((resolve, reject) => {
        const line = lines.shift();
        if (line !== undefined) return resolve(line);
        const timer = setTimeout(() => {
          waiting.splice(waiting.indexOf(waiter), 1);
          reject(new Error(`${what} did not answer`));
        }, timeoutMs);
        const waiter = (line: string) => {
          clearTimeout(timer);
          resolve(line);
        };
        waiting.push(waiter);
      }),
  };
}
