// A throwaway Redis Cluster for the tests: three masters, each with one
// replica (a failover needs one), six redis-server processes on 127.0.0.1
// without persistence, in a temporary directory. Installs redis-server (and
// with it redis-cli, which creates the cluster) with apt when it is missing.
//
// As a module: `const cluster = await startRedisCluster(); ...
// await cluster.failover(); ... await cluster.stop()`.
// As a command (`node scripts/redis-cluster.mjs`): prints the URL of the
// first node, then runs until stdin closes or it is signalled.
import { execFile, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ensureDebianPackage, probe } from "./services.mjs";

const HOST = "127.0.0.1";
const NODES = 6;
// Each node also listens on its port + 10000 (the cluster bus), so ports
// come from a range where both fit, not from the ephemeral range.
const PORT_MIN = 20_000;
const PORT_MAX = 29_999;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function canListen(port) {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen(port, HOST, () => server.close(() => resolve(true)));
  });
}

/** `count` ports that were free a moment ago, each with its bus port. */
async function freePorts(count) {
  const ports = [];
  for (let tries = 0; ports.length < count; tries++) {
    if (tries === 200) throw new Error("no free ports for a Redis Cluster");
    const port = PORT_MIN +
      Math.floor(Math.random() * (PORT_MAX - PORT_MIN + 1));
    if (ports.includes(port)) continue;
    if (await canListen(port) && await canListen(port + 10_000)) {
      ports.push(port);
    }
  }
  return ports;
}

/** redis-cli against one node; resolves to its output, within `ms`. */
function cli(port, args, ms = 5_000) {
  return new Promise((resolve, reject) => {
    execFile(
      "redis-cli",
      ["-h", HOST, "-p", String(port), ...args],
      { timeout: ms },
      (error, stdout, stderr) => {
        if (error) {
          reject(new Error(`redis-cli ${args.join(" ")}: ${stderr || error}`));
        } else resolve(stdout);
      },
    );
  });
}

/**
 * Polls `check` until it holds; throws naming `what` after `ms`, with what
 * `state` (if given) reports then.
 */
async function until(check, what, ms, state) {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) {
      const now = state ? `; ${await state().catch((e) => e.message)}` : "";
      throw new Error(`Redis Cluster: ${what}, not within ${ms} ms${now}`);
    }
    await sleep(100);
  }
}

/** `{ port → master port }` for replicas, and the masters, per CLUSTER NODES. */
async function topology(port) {
  const lines = (await cli(port, ["cluster", "nodes"])).trim().split("\n");
  const byId = new Map();
  const nodes = lines.map((line) => {
    const [id, address, flags, master] = line.split(" ");
    const node = {
      id,
      port: Number(/:(\d+)@/.exec(address)[1]),
      role: flags.includes("master") ? "master" : "replica",
      failed: /\bfail\b|\bfail\?/.test(flags),
      master,
    };
    byId.set(id, node);
    return node;
  });
  return nodes.map((node) => ({
    port: node.port,
    role: node.role,
    failed: node.failed,
    master: node.role === "replica" ? byId.get(node.master)?.port : undefined,
  }));
}

/**
 * Makes sure redis-server and redis-cli can run, installing them with apt
 * when they are missing; throws when they still cannot.
 */
export function ensureRedisCluster() {
  ensureDebianPackage("redis-server", "redis-server");
  ensureDebianPackage("redis-tools", "redis-cli");
}

/**
 * Starts the cluster; resolves once every node reports `cluster_state:ok`,
 * agrees on three masters, and every replica's link to its master is up.
 * Returns:
 * - `nodes`: the six `{ host, port }`;
 * - `masters()`: the ports of the current masters, per the first live node;
 * - `failover(port?)`: makes a replica of the master on `port` (default:
 *   the first master) take over with `CLUSTER FAILOVER` (coordinated: the
 *   master hands over everything it acknowledged first), and resolves to
 *   `{ from, to }` once every node sees the new master;
 * - `kill(port?)`: kills the master on `port` (default: the first master)
 *   with SIGKILL, and resolves to `{ from, to }` once every live node sees
 *   its replica as the master instead (after `nodeTimeout` and a vote);
 * - `stop()`: ends every node and removes the directory.
 */
export async function startRedisCluster({ nodeTimeout = 2_000 } = {}) {
  ensureRedisCluster();
  const ports = await freePorts(NODES);
  const dir = mkdtempSync(join(tmpdir(), "ssekit-redis-cluster-"));
  const children = ports.map((port) =>
    spawn("redis-server", [
      "--bind",
      HOST,
      "--port",
      String(port),
      "--cluster-enabled",
      "yes",
      "--cluster-config-file",
      `nodes-${port}.conf`,
      "--cluster-node-timeout",
      String(nodeTimeout),
      "--save",
      "",
      "--appendonly",
      "no",
      // A replica's first sync starts at once instead of after 5 s.
      "--repl-diskless-sync-delay",
      "0",
      "--dir",
      dir,
      "--loglevel",
      "warning",
    ], { stdio: ["ignore", "ignore", "inherit"] })
  );
  const exits = children.map((child) =>
    new Promise((resolve) => child.once("exit", resolve))
  );
  const running = (child) =>
    child.exitCode === null && child.signalCode === null;
  let stopping;
  const stop = () =>
    stopping ??= (async () => {
      for (const child of children) if (running(child)) child.kill("SIGTERM");
      const timer = setTimeout(() => {
        for (const child of children) if (running(child)) child.kill("SIGKILL");
      }, 5_000);
      await Promise.all(exits);
      clearTimeout(timer);
      rmSync(dir, { recursive: true, force: true });
    })();
  const live = () => ports.filter((_, i) => running(children[i]));
  // What each live node thinks, for a timeout's message.
  const describe = async () =>
    (await Promise.all(
      live().map(async (port) => {
        const state = /cluster_state:(\w+)/.exec(
          await cli(port, ["cluster", "info"]),
        )?.[1];
        const nodes = (await topology(port)).map((node) =>
          `${node.port}${node.role === "master" ? "M" : "R"}${
            node.failed ? "!" : ""
          }`
        );
        return `${port} (${state}) sees ${nodes.join(" ")}`;
      }),
    )).join("; ");
  const agreed = async (port, masters) => {
    const info = await cli(port, ["cluster", "info"]);
    if (!info.includes("cluster_state:ok")) return false;
    const nodes = await topology(port);
    const seen = nodes.filter((node) => node.role === "master" && !node.failed)
      .map((node) => node.port).sort();
    return seen.length === 3 &&
      (masters === undefined || seen.join() === [...masters].sort().join());
  };
  const linked = async (port) => {
    const info = await cli(port, ["info", "replication"]);
    return info.includes("role:master") ||
      info.includes("master_link_status:up");
  };

  try {
    await until(
      async () => {
        if (children.some((child) => !running(child))) {
          throw new Error("a redis-server exited");
        }
        const answers = await Promise.all(
          ports.map((port) =>
            probe(HOST, port, "PING\r\n", (reply) => reply.startsWith("+PONG"))
          ),
        );
        return answers.every(Boolean);
      },
      "every node answers PING",
      10_000,
    );
    await cli(ports[0], [
      "--cluster",
      "create",
      ...ports.map((port) => `${HOST}:${port}`),
      "--cluster-replicas",
      "1",
      "--cluster-yes",
    ], 30_000);
    await until(
      async () =>
        (await Promise.all(ports.map((p) => agreed(p)))).every(Boolean),
      "cluster_state:ok with three masters on every node",
      20_000,
    );
    await until(
      async () => (await Promise.all(ports.map(linked))).every(Boolean),
      "every replica linked to its master",
      20_000,
    );
  } catch (error) {
    await stop();
    throw error;
  }

  const masters = async () =>
    (await topology(live()[0])).filter((node) =>
      node.role === "master" && !node.failed
    ).map((node) => node.port);

  const failover = async (port) => {
    const nodes = await topology(live()[0]);
    const from = port ?? (await masters())[0];
    const replica = nodes.find((node) =>
      node.role === "replica" && node.master === from && !node.failed
    );
    if (replica === undefined) {
      throw new Error(`Redis Cluster: no replica of a master on port ${from}`);
    }
    await until(
      () => linked(replica.port),
      `the replica on ${replica.port} linked to its master`,
      10_000,
    );
    const expected = (await masters()).map((p) =>
      p === from ? replica.port : p
    );
    // A manual failover gives up after 5 s (Redis's CLUSTER_MF_TIMEOUT) when
    // the replica cannot catch up or win the vote in time, as happens on a
    // busy machine; it is then asked again, up to three times.
    for (let attempt = 1;; attempt++) {
      const reply = await cli(replica.port, ["cluster", "failover"]);
      if (!reply.startsWith("OK")) {
        throw new Error(`Redis Cluster: CLUSTER FAILOVER answered ${reply}`);
      }
      const promoted = await until(
        async () => (await cli(replica.port, ["role"])).startsWith("master"),
        `the replica on ${replica.port} took over from ${from}`,
        8_000,
      ).then(() => true, (error) => {
        if (attempt === 3) throw error;
        return false;
      });
      if (promoted) break;
    }
    await until(
      async () =>
        (await Promise.all(live().map((p) => agreed(p, expected)))).every(
          Boolean,
        ),
      `every node sees ${replica.port} as the master instead of ${from}`,
      20_000,
      describe,
    );
    return { from, to: replica.port };
  };

  const kill = async (port) => {
    const nodes = await topology(live()[0]);
    const from = port ?? (await masters())[0];
    const replica = nodes.find((node) =>
      node.role === "replica" && node.master === from && !node.failed
    );
    if (replica === undefined) {
      throw new Error(`Redis Cluster: no replica of a master on port ${from}`);
    }
    const expected = (await masters()).map((p) =>
      p === from ? replica.port : p
    );
    const child = children[ports.indexOf(from)];
    child.kill("SIGKILL");
    await exits[ports.indexOf(from)];
    await until(
      async () =>
        (await Promise.all(live().map((p) => agreed(p, expected)))).every(
          Boolean,
        ),
      `every live node sees ${replica.port} as the master instead of ${from}`,
      30_000,
      describe,
    );
    return { from, to: replica.port };
  };

  return {
    nodes: ports.map((port) => ({ host: HOST, port })),
    masters,
    failover,
    kill,
    stop,
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const cluster = await startRedisCluster();
  let stopping;
  const shutdown = () => {
    stopping ??= cluster.stop().then(() => process.exit(0));
  };
  process.on("SIGTERM", shutdown);
  process.on("SIGINT", shutdown);
  process.stdin.on("end", shutdown);
  process.stdin.on("close", shutdown);
  process.stdin.resume();
  const [first] = cluster.nodes;
  console.log(`redis://${first.host}:${first.port}`);
}
