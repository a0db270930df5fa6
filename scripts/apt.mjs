// System services the tests need (redis-server, nginx, chromium) come from
// Debian packages; a fresh machine may lack them, so the scripts install them
// on first use rather than asking for a manual step.
import { spawnSync } from "node:child_process";

function runs(command, args) {
  return spawnSync(command, args, { stdio: "ignore" }).status === 0;
}

/**
 * Makes sure `command` exists (checked by running it with `args`), installing
 * the Debian package `pkg` with apt-get when it does not. Throws when it still
 * cannot run.
 */
export function ensureDebianPackage(pkg, command, args = ["--version"]) {
  if (runs(command, args)) return;
  console.log(`${pkg}: installing with apt-get`);
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  for (
    const step of [["update"], [
      "install",
      "-y",
      "--no-install-recommends",
      pkg,
    ]]
  ) {
    const result = spawnSync("apt-get", step, {
      stdio: "inherit",
      env,
      timeout: 10 * 60_000,
    });
    if (result.status !== 0) {
      throw new Error(
        `apt-get ${step.join(" ")} failed (${
          result.error?.message ?? result.status
        })`,
      );
    }
  }
  if (!runs(command, args)) {
    throw new Error(`${command} is still missing after installing ${pkg}`);
  }
}
