// The whole test suite, as `npm test` runs it on a fresh clone where only
// Node and npm exist: install, static checks, the one test suite on Deno,
// Bun, Node, in Chromium and in workerd, and the package as users get it.
// One Redis serves every step. A summary of what failed ends the run.
import { spawn } from "node:child_process";
import { once } from "node:events";
import { setTimeout as sleep } from "node:timers/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { setup } from "./setup.mjs";
import { startRedis } from "./redis.mjs";

const root = fileURLToPath(new URL("..", import.meta.url));
const bin = join(root, "node_modules", ".bin");
const env = { ...process.env, PATH: `${bin}:${process.env.PATH}` };
const MINUTE = 60_000;

// Lines of a failed step that name what failed, in the reporters of deno
// test, bun test, node --test and the linters; repeated at the end of the
// run, where a log that keeps only its tail still shows them.
const FAILED_TEST = /\(fail\)|FAILED|^\s*not ok/;
const FAILURE_DETAIL = /^error|Error:|^\s*at .*\.test\.|expected|actual/i;
const MAX_FAILURE_LINES = 80;
const failures = [];

// Output kept per step for the summary; a step that says more keeps its end.
const MAX_OUTPUT = 32 * 1024 * 1024;
// How long to wait, once a command has exited, for the rest of its output:
// a process it left behind may hold its pipes open for good.
const OUTPUT_GRACE_MS = 2_000;

// The steps' process groups, while they run.
const running = new Set();

function killGroup(child) {
  try {
    process.kill(-child.pid, "SIGKILL");
  } catch {
    // Gone already.
  }
}

for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => {
    for (const child of running) killGroup(child);
    process.exit(130);
  });
}

async function run(command, args, { cwd = root, timeout = 5 * MINUTE } = {}) {
  const child = spawn(command, args, {
    cwd,
    env,
    stdio: ["inherit", "pipe", "pipe"],
    // A group of its own: a step is npm and what it runs, and a timeout
    // or an interrupt must end all of them, not npm alone.
    detached: true,
  });
  running.add(child);
  let output = "";
  const keep = (sink) => (chunk) => {
    sink.write(chunk);
    output += chunk.toString("utf8");
    // Cut back only at twice the limit, so keeping the end stays linear.
    if (output.length > 2 * MAX_OUTPUT) output = output.slice(-MAX_OUTPUT);
  };
  child.stdout.on("data", keep(process.stdout));
  child.stderr.on("data", keep(process.stderr));
  // once() rejects on "error", e.g. a command that does not exist.
  const closed = once(child, "close").catch(() => {});
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    killGroup(child);
  }, timeout);
  const [status, signal] = await once(child, "exit").finally(() => {
    clearTimeout(timer);
    running.delete(child);
  });
  // Unref'd: once the pipes close, this timer must not hold the run open.
  await Promise.race([
    closed,
    sleep(OUTPUT_GRACE_MS, undefined, { ref: false }),
  ]);
  child.stdout.destroy();
  child.stderr.destroy();
  if (status === 0) return;
  const kept = output.slice(-MAX_OUTPUT);
  // deno-lint-ignore no-control-regex
  const lines = kept.replace(/\x1b\[[\d;]*m/g, "").split("\n");
  failures.push(
    `--- ${command} ${args.join(" ")}`,
    ...[
      ...lines.filter((line) => FAILED_TEST.test(line)),
      // A line that matches both (`not ok 3 - rejects an Error`) once.
      ...lines.filter((line) =>
        !FAILED_TEST.test(line) && FAILURE_DETAIL.test(line)
      ),
    ].slice(0, MAX_FAILURE_LINES),
  );
  throw new Error(
    `${command} ${args.join(" ")} ${
      timedOut
        ? `did not finish within ${timeout / 1000} s`
        : `exited with ${status ?? signal}`
    }`,
  );
}

// Each step is a package.json script that also runs alone
// (`npm run test:deno`); this runs them all, in order, even after a
// failure, so one run shows everything wrong.
const steps = [
  ["check (fmt, lint, deno check, tsc)", "check"],
  ["deno test", "test:deno"],
  ["bun test", "test:bun"],
  ["node test (compiled)", "test:node"],
  // Drives Chromium from Node and starts servers on every runtime.
  ["browser tests (Chromium)", "test:browser", 20 * MINUTE],
  // The core suite and the Durable Object store inside Cloudflare's workerd.
  ["workerd tests", "test:workerd"],
  [
    "package (JSR dry run, doc lint, npm build, publint, attw, import)",
    "package",
  ],
].map(([name, script, timeout = 5 * MINUTE]) => [
  name,
  () => run("npm", ["run", "--silent", script], { timeout }),
]);

setup();
const failed = [];
// The Redis store's tests read SSEKIT_REDIS_URL (scripts/with-redis.mjs
// starts a Redis only without it); without it they skip, or fail under CI,
// so a Redis that cannot start shows up there.
let redis;
try {
  redis = await startRedis();
  env.SSEKIT_REDIS_URL = redis.url;
  console.log(`redis: ${redis.url}`);
} catch (error) {
  console.log(`redis: not started: ${error.message}`);
}
const started = Date.now();
for (const [name, step] of steps) {
  console.log(`\n=== ${name}`);
  const t0 = Date.now();
  try {
    await step();
    console.log(`=== ${name}: ok (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  } catch (error) {
    failed.push(name);
    console.log(`=== ${name}: FAILED: ${error.message}`);
  }
}
if (failures.length) {
  console.log("\nWhat the failed steps reported:\n" + failures.join("\n"));
}
console.log(
  `\nAll steps took ${((Date.now() - started) / 1000).toFixed(0)} s.${
    failed.length ? ` Failed: ${failed.join(", ")}` : ""
  }`,
);
console.log(
  `checks: ${steps.length - failed.length} passed, ${failed.length} failed`,
);
await redis?.stop();
process.exitCode = failed.length ? 1 : 0;
