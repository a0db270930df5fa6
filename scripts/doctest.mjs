// `npm run test:doc`: the `@example` blocks of the published modules
// (mod.ts and src/) as tests, so that the documentation cannot go stale.
//
// Two passes, because the type checker of `deno test --doc` puts each
// example in a `Deno.test` wrapper, while src/ is checked with the DOM
// library alone (tsconfig.json: the core must not use Deno's globals):
// `deno check --doc` type-checks every example as the module's own code
// is checked, then `deno test --doc --no-check` runs them.
//
// The Redis examples connect to `process.env.REDIS_URL`, as an app would:
// run under scripts/with-redis.mjs, it is the throwaway Redis of
// SSEKIT_REDIS_URL. Without one they are checked, not run (CI fails).
//
// First of all, every export of every entry point (deno.json `exports`)
// must have an `@example` (the house rule), so that none goes missing.
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
// Listed one by one: `--ignore` does not keep a file's examples out.
const MODULES = [
  "mod.ts",
  ...readdirSync(`${root}src`).filter((name) => name.endsWith(".ts")).map((
    name,
  ) => `src/${name}`),
];
const NEEDS_REDIS = ["src/redis.ts"];

// Examples that read a stream wait for its events, so a broken one could
// wait forever: the whole run is bounded instead of each example.
const TIMEOUT_MS = 300_000;

function deno(args, env = process.env) {
  const { status, signal } = spawnSync("deno", args, {
    cwd: root,
    env,
    stdio: "inherit",
    timeout: TIMEOUT_MS,
    killSignal: "SIGKILL",
  });
  if (signal) console.error(`doctest: deno ${args[0]} ended by ${signal}`);
  if (status !== 0) process.exit(status ?? 1);
}

function checkExamples() {
  const entries = Object.values(
    JSON.parse(readFileSync(`${root}deno.json`, "utf8")).exports,
  );
  // stderr ignored: `deno doc` warns about every file of @types/node.
  const { status, stdout } = spawnSync(
    "deno",
    ["doc", "--json", ...entries],
    { cwd: root, encoding: "utf8", maxBuffer: 1 << 28, stdio: "pipe" },
  );
  if (status !== 0) {
    console.error(`doctest: deno doc --json ${entries.join(" ")} failed`);
    process.exit(1);
  }
  const modules = Object.entries(JSON.parse(stdout).nodes);
  // A declaration re-exported by several entry points carries its JSDoc
  // once in the output; the others refer to its place in the source.
  const place = (declaration) => {
    const { filename, line, col } = declaration.kind === "reference"
      ? declaration.def.target
      : declaration.location;
    return `${filename}:${line}:${col}`;
  };
  const withExample = new Set(
    modules.flatMap(([, { symbols }]) =>
      symbols.flatMap(({ declarations }) =>
        declarations.filter(({ jsDoc }) =>
          jsDoc?.tags?.some((tag) => tag.kind === "example")
        ).map(place)
      )
    ),
  );
  const problems = [];
  for (const [file, { symbols }] of modules) {
    for (const { name, declarations } of symbols) {
      // An overloaded function or a merged declaration needs one example.
      const documented = declarations.some((d) => withExample.has(place(d)));
      const where = `${name} (exported by ${
        file.slice(`file://${root}`.length)
      })`;
      if (!documented) problems.push(`${where} has no @example`);
    }
  }
  if (problems.length > 0) {
    console.error(`doctest:\n  ${problems.join("\n  ")}`);
    process.exit(1);
  }
}

checkExamples();
deno(["check", "--doc", ...MODULES]);
const redis = process.env.SSEKIT_REDIS_URL;
if (!redis) {
  const message = `doctest: no SSEKIT_REDIS_URL: the examples of ${
    NEEDS_REDIS.join(", ")
  } are checked, not run`;
  if (process.env.CI) {
    console.error(`${message} (CI needs them run)`);
    process.exit(1);
  }
  console.warn(message);
}
deno(
  [
    "test",
    "--doc",
    "--no-check",
    "--allow-env",
    "--allow-net=127.0.0.1",
    "--allow-read",
    ...MODULES.filter((path) => redis || !NEEDS_REDIS.includes(path)),
  ],
  { ...process.env, REDIS_URL: redis ?? "" },
);
