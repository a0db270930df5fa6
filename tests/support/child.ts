// Child processes for the tests that need a server of their own (another
// runtime, another instance, a Redis to stop and restart).
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import process from "node:process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { within } from "./time.ts";
import { runtimeName } from "./runtime.ts";

/** The repository root, from tests/ or from the compiled .build/tests/. */
export function root(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, "deno.json"))) {
    if (dir === dirname(dir)) throw new Error("no deno.json above the tests");
    dir = dirname(dir);
  }
  return dir;
}

export interface SpawnOptions {
  /** Added to this process's environment. */
  env?: Record<string, string>;
  /**
   * How `stop()` asks it to end: by closing its stdin (test servers), or
   * with SIGTERM (the demo, which a person runs from a terminal).
   * @default {"stdin"}
   */
  stopWith?: "stdin" | "SIGTERM";
}

export interface Child {
  /** The first URL the child printed: the one it serves (http://, redis://). */
  url: string;
  /** Closes its stdin and waits for it to exit (SIGKILL after 5 s). */
  stop(): Promise<void>;
  /** Kills it with SIGKILL, as a crash would, and waits for it to exit. */
  kill(): Promise<void>;
  /** How it ended (`"exit 70"`, `"SIGSEGV"`), or undefined while it runs. */
  ended(): string | undefined;
}

/** Spawns a process that prints its URL, then runs until told to stop. */
export async function spawnChild(
  command: string,
  args: string[],
  { env = {}, stopWith = "stdin" }: SpawnOptions = {},
): Promise<Child> {
  const child: ChildProcess = spawn(command, args, {
    cwd: root(),
    env: { ...process.env, ...env },
    stdio: ["pipe", "pipe", "inherit"],
  });
  const exited = new Promise((resolve) => child.once("exit", resolve));
  const running = () => child.exitCode === null && child.signalCode === null;
  const stop = async () => {
    if (!running()) return;
    if (stopWith === "stdin") child.stdin!.end();
    else child.kill(stopWith);
    const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
    await exited;
    clearTimeout(timer);
  };
  const kill = async () => {
    if (!running()) return;
    child.kill("SIGKILL");
    await exited;
  };
  try {
    const lines = createInterface({ input: child.stdout! });
    const first = new Promise<string>((resolve, reject) => {
      // Lines before it (an install step's, say) are passed over.
      lines.on("line", (line) => {
        const url = /\b[a-z][a-z\d+.-]*:\/\/\S+/i.exec(line);
        if (url) resolve(url[0]);
      });
      child.once("exit", (code) => reject(new Error(`exited with ${code}`)));
      child.once("error", reject); // e.g. ENOENT: no such command
    });
    return {
      url: await within(first, 30_000, `${command} ${args}`),
      stop,
      kill,
      ended: () =>
        running() ? undefined : child.signalCode ?? `exit ${child.exitCode}`,
    };
  } catch (error) {
    child.kill("SIGKILL");
    throw error;
  }
}

/**
 * Spawns a script of this folder (`name` without extension) in the
 * runtime running the tests: `deno run -A` or `bun` on its .ts file, or
 * Node on its compiled .js file beside this one.
 */
export function spawnScript(
  name: string,
  options?: SpawnOptions,
): Promise<Child> {
  const here = dirname(fileURLToPath(import.meta.url));
  const file = join(here, `${name}.${runtimeName === "node" ? "js" : "ts"}`);
  const args = runtimeName === "deno" ? ["run", "-A", file] : [file];
  return spawnChild(process.execPath, args, options);
}
