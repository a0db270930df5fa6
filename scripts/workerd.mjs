// workerd, Cloudflare's Workers runtime (the `workerd` devDependency), for
// the tests that run ssekit inside it: writes a capnp config and the files
// it embeds to a directory of their own, starts `workerd serve` on it, and
// resolves once its socket listens. workerd tells its port through
// --control-fd, so a config may listen on port 0.
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

// The binary of the `workerd` devDependency, found from the repository's
// root: the Node tests run a copy of this file from under .build/.
const WORKERD = join(repositoryRoot(), "node_modules", ".bin", "workerd");
const START_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 5_000;

/**
 * Starts workerd on `config` (capnp text; `files` are written beside it,
 * for its `embed`s) in `dir`, a new temporary directory by default.
 * Resolves to `{ url, dir, stop() }`: the URL of the config's first socket,
 * and a stop that ends workerd (SIGTERM, SIGKILL after 5 s) and removes a
 * directory it made. Durable Objects kept on disk (`localDisk`) outlive a
 * stop when `dir` is given: start again on it to restart the objects.
 *
 * @param {string} config
 * @param {{ files?: Record<string, string>, dir?: string }} [options]
 * @returns {Promise<{ url: string, dir: string, stop(): Promise<void> }>}
 */
export async function startWorkerd(config, { files = {}, dir } = {}) {
  const own = dir === undefined;
  dir ??= mkdtempSync(join(tmpdir(), "ssekit-workerd-"));
  for (
    const [name, text] of Object.entries({ ...files, "config.capnp": config })
  ) {
    writeFileSync(join(dir, name), text);
  }
  const child = spawn(
    WORKERD,
    ["serve", "config.capnp", "--control-fd=3", "--experimental"],
    { cwd: dir, stdio: ["ignore", "inherit", "inherit", "pipe"] },
  );
  const exited = new Promise((resolve) => child.once("exit", resolve));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), STOP_TIMEOUT_MS);
      await exited;
      clearTimeout(timer);
    }
    if (own) rmSync(dir, { recursive: true, force: true });
  };
  try {
    const port = await new Promise((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new Error(`workerd did not listen within ${START_TIMEOUT_MS} ms`),
          ),
        START_TIMEOUT_MS,
      );
      // One JSON line per socket: {"event":"listen","socket":"http","port":N}.
      createInterface({ input: child.stdio[3] }).on("line", (line) => {
        const message = JSON.parse(line);
        if (message.event !== "listen") return;
        clearTimeout(timer);
        resolve(message.port);
      });
      child.once("exit", (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`workerd exited with ${code ?? signal}`));
      });
      child.once("error", reject);
    });
    return { url: `http://127.0.0.1:${port}/`, dir, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/**
 * A capnp string literal.
 *
 * @param {string} text
 * @returns {string}
 */
export function capnpString(text) {
  return JSON.stringify(text);
}

function repositoryRoot() {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, "deno.json"))) {
    if (dir === dirname(dir)) {
      throw new Error("workerd.mjs: no deno.json above");
    }
    dir = dirname(dir);
  }
  return dir;
}
