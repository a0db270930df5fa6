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
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
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

function deno(args, env = process.env) {
  const { status, signal } = spawnSync("deno", args, {
    cwd: root,
    env,
    stdio: "inherit",
  });
  if (status !== 0) process.exit(status ?? (signal ? 1 : 0));
}

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
