// The whole test suite, as `npm test` runs it on a fresh clone where only
// Node and npm exist: install, static checks, the one test suite on Deno,
// Bun and Node, the JSR dry run, and the npm package checked as users get it.
// Every step runs even after a failure, so one run shows everything wrong.
import { spawn } from "node:child_process";
import { once } from "node:events";
import { setTimeout as sleep } from "node:timers/promises";
import {
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
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

async function run(command, args, { cwd = root, timeout = 5 * MINUTE } = {}) {
  const child = spawn(command, args, {
    cwd,
    env,
    stdio: ["inherit", "pipe", "pipe"],
  });
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
    child.kill("SIGKILL");
  }, timeout);
  const [status, signal] = await once(child, "exit").finally(() =>
    clearTimeout(timer)
  );
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

function testFiles(dir, suffix) {
  return readdirSync(dir).filter((name) => name.endsWith(suffix)).sort()
    .map((name) => join(dir, name));
}

// Installs the packed tarball into a scratch project and imports it the way
// users do, from each runtime.
async function smokeTestPackage() {
  const scratch = mkdtempSync(join(tmpdir(), "ssekit-pack-"));
  try {
    await run(
      "npm",
      ["pack", join(root, "npm"), "--pack-destination", scratch],
      {
        cwd: scratch,
      },
    );
    const tarball = readdirSync(scratch).find((name) => name.endsWith(".tgz"));
    writeFileSync(
      join(scratch, "package.json"),
      JSON.stringify({ name: "smoke", private: true, type: "module" }),
    );
    await run("npm", [
      "install",
      "--no-audit",
      "--no-fund",
      "--no-save",
      `./${tarball}`,
    ], { cwd: scratch });
    writeFileSync(
      join(scratch, "smoke.mjs"),
      `import { createSSEStream, formatEvent } from "ssekit";
const text = await createSSEStream([{ event: "hi", data: [1] }]).text();
if (text !== ":\\n" + formatEvent({ event: "hi", data: [1] })) {
  throw new Error("unexpected body " + JSON.stringify(text));
}
console.log("smoke: imported ssekit and streamed", JSON.stringify(text));
`,
    );
    await run("node", ["smoke.mjs"], { cwd: scratch });
    await run("bun", ["smoke.mjs"], { cwd: scratch });
    await run("deno", ["run", "-A", "smoke.mjs"], { cwd: scratch });
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

const steps = [
  ["deno fmt --check", () => run("deno", ["fmt", "--check"])],
  ["deno lint", () => run("deno", ["lint"])],
  ["deno check", () => run("deno", ["check", "."])],
  [
    "tsc: core without runtime types",
    () => run("tsc", ["-p", "tsconfig.json"]),
  ],
  ["deno test", () => run("deno", ["test", "-A", "tests/"])],
  ["bun test", () => run("bun", ["test", "--timeout", "60000", "./tests/"])],
  ["node test (compiled)", async () => {
    rmSync(join(root, ".build"), { recursive: true, force: true });
    await run("tsc", ["-p", "tsconfig.test.json"]);
    await run("node", [
      "--test",
      ...testFiles(join(root, ".build", "tests"), ".test.js"),
    ]);
  }],
  // Runs on the output the step above compiled; the .browser.ts files drive
  // Chromium from Node and start servers on every runtime themselves.
  ["browser tests (Chromium)", async () => {
    const files = testFiles(
      join(root, ".build", "tests", "browser"),
      ".browser.js",
    );
    if (files.length === 0) throw new Error("no browser test files compiled");
    await run("node", ["--test", "--test-concurrency=1", ...files], {
      timeout: 20 * MINUTE,
    });
  }],
  [
    "deno publish --dry-run",
    () => run("deno", ["publish", "--dry-run", "--allow-dirty"]),
  ],
  ["deno doc --lint (every entry point)", async () => {
    const { exports } = JSON.parse(
      readFileSync(join(root, "deno.json"), "utf8"),
    );
    await run("deno", ["doc", "--lint", ...Object.values(exports)]);
  }],
  ["npm run build", () => run("npm", ["run", "build"])],
  ["publint", () => run("publint", ["npm"])],
  [
    "attw --profile esm-only",
    () => run("attw", ["--pack", "npm", "--profile", "esm-only"]),
  ],
  ["npm pack + import from node, bun, deno", smokeTestPackage],
];

setup();
const failed = [];
// The Redis store's tests read SSEKIT_REDIS_URL; without it they skip, or
// fail under CI, so a Redis that cannot start shows up there.
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
