// A throwaway nginx for the tests: installs the Debian package when it is
// missing, and runs docs/nginx.conf (the config the README tells users to
// copy) in the foreground on 127.0.0.1, from a temporary directory, in front
// of a given upstream. It never reads /etc/nginx or touches the system
// service.
//
// `const nginx = await startNginx({ upstream: "127.0.0.1:8000" }); ...
// await nginx.stop()`
import { spawn } from "node:child_process";
import {
  chmodSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { ensureDebianPackage, freePort, probe } from "./services.mjs";

/** Where Debian installs nginx. */
export const NGINX = "/usr/sbin/nginx";
/** nchan, nginx's pub/sub module, as Debian ships it for `load_module`. */
export const NCHAN_MODULE = "/usr/lib/nginx/modules/ngx_nchan_module.so";
const HOST = "127.0.0.1";
// The example addresses in docs/nginx.conf, the only text the tests change.
const SHIPPED_LISTEN = "listen 80;";
const SHIPPED_UPSTREAM = "127.0.0.1:8000";
const READY_HOST = "ssekit-nginx-ready";

// The repository root, from scripts/ or from a compiled copy such as
// .build/scripts/, where docs/ is not copied.
function root() {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, "docs", "nginx.conf"))) {
    if (dir === dirname(dir)) {
      throw new Error("no docs/nginx.conf above scripts/");
    }
    dir = dirname(dir);
  }
  return dir;
}

/** The config users are told to copy, as shipped. */
function shippedConfig() {
  return readFileSync(join(root(), "docs", "nginx.conf"), "utf8");
}

// Comments are left alone: they may quote the example addresses.
function replaceOnce(text, from, to) {
  let count = 0;
  const lines = text.split("\n").map((line) => {
    if (line.trimStart().startsWith("#") || !line.includes(from)) return line;
    count += line.split(from).length - 1;
    return line.replaceAll(from, to);
  });
  if (count !== 1) {
    throw new Error(
      `nginx config: expected "${from}" once outside comments, found it ${count} times (docs/nginx.conf and scripts/nginx.mjs disagree)`,
    );
  }
  return lines.join("\n");
}

/**
 * The whole nginx.conf for a run: `config` (server-level text in the form
 * of docs/nginx.conf) with its listen address, and its upstream address
 * when `upstream` is given, replaced, inside a minimal main and http
 * context whose every path is in `dir`; `main` goes first in the main
 * context (a `load_module`), and each worker takes `connections`.
 */
function renderConfig(
  { config = shippedConfig(), port, upstream, dir, main = "", connections },
) {
  let server = replaceOnce(config, SHIPPED_LISTEN, `listen ${HOST}:${port};`);
  if (upstream !== undefined) {
    server = replaceOnce(server, SHIPPED_UPSTREAM, upstream);
  }
  return `${main}
worker_processes 1;
pid ${join(dir, "nginx.pid")};
error_log stderr warn;

events {
    worker_connections ${connections};
}

http {
    access_log off;
    client_body_temp_path ${join(dir, "client_body")};
    proxy_temp_path ${join(dir, "proxy")};
    fastcgi_temp_path ${join(dir, "fastcgi")};
    uwsgi_temp_path ${join(dir, "uwsgi")};
    scgi_temp_path ${join(dir, "scgi")};

${server}

    # Answers the readiness probe without touching the upstream.
    server {
        listen ${HOST}:${port};
        server_name ${READY_HOST};
        location / {
            return 204;
        }
    }
}
`;
}

// A connection alone proves little: the kernel accepts it on the master's
// socket before any worker runs. A response proves a worker is serving.
function answers(port) {
  return probe(
    HOST,
    port,
    `GET / HTTP/1.1\r\nHost: ${READY_HOST}\r\nConnection: close\r\n\r\n`,
    (reply) => reply.startsWith("HTTP/1.1 204"),
  );
}

/** Installs nginx when it is missing; throws when that is impossible. */
export function ensureNginx() {
  ensureDebianPackage("nginx", NGINX, ["-v"]);
}

/** Installs nginx and its nchan module when they are missing. */
export function ensureNchan() {
  ensureNginx();
  ensureDebianPackage("libnginx-mod-nchan", "test", ["-f", NCHAN_MODULE]);
}

/**
 * Starts nginx in front of `upstream` ("host:port"), with docs/nginx.conf
 * or `config` (server-level text with `listen 80;` once, and the example
 * upstream once when `upstream` is given); `main` and `connections` (128)
 * as in renderConfig. Resolves to `{ url, port, pid, stop }` once it
 * serves requests: `pid` is the shell whose child is nginx's master, and
 * `stop()` ends it and removes its directory.
 *
 * @param {{ upstream?: string, config?: string, main?: string, connections?: number }} [options]
 */
export async function startNginx(
  { upstream, config, main, connections = 128 } = {},
) {
  if (config === undefined && !upstream) {
    throw new TypeError("startNginx: upstream is required");
  }
  ensureNginx();
  const port = await freePort(HOST);
  const dir = mkdtempSync(join(tmpdir(), "ssekit-nginx-"));
  const file = join(dir, "nginx.conf");
  try {
    // As root, nginx's workers run as nobody and must reach the temp paths.
    chmodSync(dir, 0o755);
    writeFileSync(
      file,
      renderConfig({ config, port, upstream, dir, main, connections }),
    );
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  // nginx runs under a shell that stops it and removes its directory once
  // the shell's stdin ends: when stop() closes it, or when this process dies,
  // however it dies. Test runners kill the children they know of, and a
  // killed nginx master leaves its workers serving. Its own process group
  // lets a last resort kill them all.
  const child = spawn("/bin/sh", [
    "-c",
    'dir=$1; shift; "$@" & read -r _; kill $! 2>/dev/null; wait $!; rm -rf "$dir"',
    "sh",
    dir,
    NGINX,
    "-p",
    dir,
    "-e",
    "stderr",
    "-c",
    file,
    "-g",
    "daemon off;",
  ], { stdio: ["pipe", "ignore", "pipe"], detached: true });
  let log = "";
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (text) => {
    log += text;
    process.stderr.write(text);
  });
  const exited = new Promise((resolve) => child.once("close", resolve));
  const stop = async () => {
    // nginx gets SIGTERM, its fast shutdown: open streams are cut.
    child.stdin.end();
    // Armed even when the shell is gone: if it was killed, nginx still holds
    // the stderr pipe and "close" waits for it.
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid, "SIGKILL");
      } catch {
        // Already gone.
      }
    }, 5_000);
    // Also after an exit of its own: its last words are still in the pipe.
    await exited;
    clearTimeout(timer);
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 10_000;
  while (!(await answers(port))) {
    // nginx reports a fatal error as [emerg] and exits; the shell stays.
    if (
      log.includes("[emerg]") || child.exitCode !== null ||
      Date.now() > deadline
    ) {
      await stop();
      throw new Error(
        `nginx did not start on ${HOST}:${port}${log ? `: ${log.trim()}` : ""}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return { url: `http://${HOST}:${port}/`, port, pid: child.pid, stop };
}
