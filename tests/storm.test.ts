// Clients that leave abruptly, in every way a socket can, against
// createSSEStream, relaySSE and hub.response on each server this runtime
// has, each in a process of its own that turns an uncaught error or an
// unhandled rejection into its exit. README: "the server never crashes";
// issue 12.1: Deno.serve crashed on the abort of a closed body's request.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { connect, type Socket } from "node:net";
import { spawnScript } from "./support/child.ts";
import { serverKinds } from "./support/server.ts";
import { until } from "./support/time.ts";

/** How a storm client leaves. */
const LEAVES = [
  "reset-mid-request",
  "close-mid-request",
  "reset-right-after-request",
  "reset-after-head",
  "close-after-head",
  "reset-mid-burst",
  "close-mid-burst",
  "stop-reading-then-reset",
] as const;
type Leave = (typeof LEAVES)[number];

function leave(socket: Socket, how: Leave): void {
  if (how.startsWith("reset") || how.endsWith("reset")) {
    socket.resetAndDestroy();
  } else {
    // A half-close: the server may go on writing until it notices.
    socket.end();
    setTimeout(() => socket.destroy(), 100);
  }
}

/** One client that connects to `path` and leaves as `how` says. */
function visit(port: number, path: string, how: Leave): Promise<void> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    // Every client is gone within a second, whatever the server does.
    const deadline = setTimeout(() => socket.destroy(), 1_000);
    socket.on("error", () => {});
    socket.on("close", () => {
      clearTimeout(deadline);
      resolve();
    });
    socket.on("connect", () => {
      if (how.endsWith("mid-request")) {
        socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n`);
        setTimeout(() => leave(socket, how), Math.random() * 5);
        return;
      }
      socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
      if (how === "reset-right-after-request") return leave(socket, how);
      let received = 0;
      socket.on("data", (chunk: Uint8Array) => {
        received += chunk.length;
        if (how.endsWith("after-head")) leave(socket, how);
        else if (how === "stop-reading-then-reset") {
          socket.pause();
          setTimeout(() => leave(socket, how), 50 + Math.random() * 100);
        } else if (received > 4_000 + Math.random() * 60_000) {
          leave(socket, how);
        }
      });
    });
  });
}

interface Stats {
  producers: number;
  relays: number;
  subscribers: number;
}

const ROUNDS = 12;
const PATHS = ["/stream", "/relay", "/hub"];

describe("a storm of abrupt disconnects", () => {
  for (const kind of serverKinds) {
    test(`${kind}: never crashes the server and frees every producer`, async () => {
      const server = await spawnScript("storm_server", {
        env: { SSEKIT_SERVER: kind },
      });
      try {
        const { port } = new URL(server.url);
        // 12 rounds × 3 paths × 8 ways to leave = 288 clients, 24 at once.
        for (let round = 0; round < ROUNDS; round++) {
          await Promise.all(
            PATHS.flatMap((path) =>
              LEAVES.map((how) => visit(Number(port), path, how))
            ),
          );
        }
        assert.equal(server.ended(), undefined, "the server crashed");
        const stats = () =>
          fetch(`${server.url}stats`).then((r) => r.json() as Promise<Stats>);
        const left = await until(
          stats,
          (s) => s.producers === 0 && s.relays === 0 && s.subscribers === 0,
          "every producer, relay and subscriber freed after the storm",
        );
        assert.deepEqual(left, { producers: 0, relays: 0, subscribers: 0 });
      } finally {
        await server.stop();
      }
    });
  }
});
