// What the scripts that run the tests' system services (redis-server, nginx,
// chromium) share. They come from Debian packages; a fresh machine may lack
// them, so the scripts install them on first use rather than asking for a
// manual step.
import { spawnSync } from "node:child_process";
import { connect, createServer } from "node:net";

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

/** Resolves to a port on `host` that was free a moment ago. */
export function freePort(host) {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on("error", reject);
    server.listen(0, host, () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/**
 * Sends `request` to `host:port` and resolves to whether the first reply
 * passes `ok`; false on an error, a close, or 500 ms of silence.
 */
export function probe(host, port, request, ok) {
  return new Promise((resolve) => {
    const socket = connect(port, host);
    let reply = "";
    const done = (result) => {
      socket.destroy();
      resolve(result);
    };
    socket.setTimeout(500, () => done(false));
    socket.on("error", () => done(false));
    socket.on("close", () => done(false));
    socket.on("data", (data) => {
      reply += data.toString("latin1");
      if (reply.includes("\r\n")) done(ok(reply));
    });
    socket.on("connect", () => socket.write(request));
  });
}
