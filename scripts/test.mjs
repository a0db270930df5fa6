// The whole test suite, as `npm test` runs it on a fresh clone where only
// Node and npm exist: install, static checks, the one test suite on Deno,
// Bun and Node, the JSR dry run, and the npm package checked as users get it.
// Every step runs even after a failure, so one run shows everything wrong.
import { spawnSync } from "node:child_process";
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

function run(command, args, { cwd = root, timeout = 5 * MINUTE } = {}) {
  const result = spawnSync(command, args, {
    cwd,
    env,
    stdio: ["inherit", "pipe", "pipe"],
    encoding: "utf8",
    maxBuffer: 256 * 1024 * 1024,
    timeout,
  });
  process.stdout.write(result.stdout ?? "");
  process.stderr.write(result.stderr ?? "");
  if (result.error) throw result.error;
  if (result.status !== 0) {
    // deno-lint-ignore no-control-regex
    const plain = (result.stdout + result.stderr).replace(/\x1b\[[\d;]*m/g, "");
    const lines = plain.split("\n");
    failures.push(
      `--- ${command} ${args.join(" ")}`,
      ...[
        ...lines.filter((line) => FAILED_TEST.test(line)),
        ...lines.filter((line) => FAILURE_DETAIL.test(line)),
      ].slice(0, MAX_FAILURE_LINES),
    );
    throw new Error(
      `${command} ${args.join(" ")} exited with ${
        result.status ?? result.signal
      }`,
    );
  }
}

function testFiles(dir, suffix) {
  return readdirSync(dir).filter((name) => name.endsWith(suffix)).sort()
    .map((name) => join(dir, name));
}

// Installs the packed tarball into a scratch project and imports it the way
// users do, from each runtime.
function smokeTestPackage() {
  const scratch = mkdtempSync(join(tmpdir(), "ssekit-pack-"));
  try {
    run("npm", ["pack", join(root, "npm"), "--pack-destination", scratch], {
      cwd: scratch,
    });
    const tarball = readdirSync(scratch).find((name) => name.endsWith(".tgz"));
    writeFileSync(
      join(scratch, "package.json"),
      JSON.stringify({ name: "smoke", private: true, type: "module" }),
    );
    run("npm", [
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
    run("node", ["smoke.mjs"], { cwd: scratch });
    run("bun", ["smoke.mjs"], { cwd: scratch });
    run("deno", ["run", "-A", "smoke.mjs"], { cwd: scratch });
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
  ["node test (compiled)", () => {
    rmSync(join(root, ".build"), { recursive: true, force: true });
    run("tsc", ["-p", "tsconfig.test.json"]);
    run("node", [
      "--test",
      ...testFiles(join(root, ".build", "tests"), ".test.js"),
    ]);
  }],
  // Runs on the output the step above compiled; the .browser.ts files drive
  // Chromium from Node and start servers on every runtime themselves.
  ["browser tests (Chromium)", () => {
    const files = testFiles(
      join(root, ".build", "tests", "browser"),
      ".browser.js",
    );
    if (files.length === 0) throw new Error("no browser test files compiled");
    run("node", ["--test", "--test-concurrency=1", ...files], {
      timeout: 20 * MINUTE,
    });
  }],
  [
    "deno publish --dry-run",
    () => run("deno", ["publish", "--dry-run", "--allow-dirty"]),
  ],
  ["deno doc --lint (every entry point)", () => {
    const { exports } = JSON.parse(
      readFileSync(join(root, "deno.json"), "utf8"),
    );
    run("deno", ["doc", "--lint", ...Object.values(exports)]);
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
    step();
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
