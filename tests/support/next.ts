// examples/next/ as its users run it: `next build`, then `next start`, for
// tests/frameworks.test.ts. Built in a copy of the files it imports, in a
// folder of its own (.build-next-*, ignored by git), so that the build writes
// nothing into examples/next/ (.next/, next-env.d.ts) and two test runs
// don't share one build.
import { execFile } from "node:child_process";
import { cpSync, mkdtempSync, realpathSync, rmSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { promisify } from "node:util";
import { type Child, root, spawnChild } from "./child.ts";

const run = promisify(execFile);

// What examples/next/ imports, beside the folder itself.
const SOURCES = [
  "mod.ts",
  "src",
  "examples/recipe.ts",
  "examples/openai_relay.ts",
  "examples/replies.ts",
  "examples/next",
];
// Left by a build in place.
const BUILT = /[/\\](\.next|next-env\.d\.ts|[^/\\]*\.tsbuildinfo)$/;

/**
 * Builds examples/next/ and starts it on a free port of 127.0.0.1, with
 * `upstream` as the URL its relay reads; stopping it removes the build.
 */
export async function startNext(upstream: string): Promise<Child> {
  // Inside the repository, whose package-lock.json makes it the root of
  // what Next.js builds (its routes import ../../), and on node_modules'
  // file system, for the hard links below.
  const dir = mkdtempSync(join(root(), ".build-next-"));
  try {
    for (const path of SOURCES) {
      cpSync(join(root(), path), join(dir, path), {
        recursive: true,
        filter: (source) => !BUILT.test(source),
      });
    }
    // Hard links, not a symbolic link: Turbopack reads nothing outside its
    // root, and a worktree's node_modules may be a link to another
    // checkout's. Found before the repository's by Node's resolution.
    await run("cp", [
      "-al",
      realpathSync(join(root(), "node_modules")),
      join(dir, "node_modules"),
    ]);
    const next = [join(dir, "node_modules/next/dist/bin/next")];
    const app = join(dir, "examples/next");
    const env = { ...process.env, NEXT_TELEMETRY_DISABLED: "1" };
    await run(process.execPath, [...next, "build", app], { env }).catch(
      (error) => {
        throw new Error(`next build: ${error.stdout}${error.stderr}`, {
          cause: error,
        });
      },
    );
    const child = await spawnChild(
      process.execPath,
      [...next, "start", app, "--hostname", "127.0.0.1", "--port", "0"],
      { env: { ...env, UPSTREAM: upstream }, stopWith: "SIGTERM" },
    );
    return {
      ...child,
      async stop() {
        await child.stop();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}
