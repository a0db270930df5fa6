/**
 * Serves a fetch-style handler on 127.0.0.1 with the runtime's own HTTP
 * server (node:http through ssekit/node on Node), and a raw-socket client
 * that times the first SSE event.
 *
 * @module
 */

import { connect } from "node:net";
import { serve as serveNode } from "../src/node.ts";

/** A fetch-style request handler. */
export type Handler = (request: Request) => Response | Promise<Response>;

/** A listening server. */
export interface Served {
  port: number;
  close(): Promise<void>;
}

interface DenoServeLike {
  serve(
    options: { hostname: string; port: number; onListen(): void },
    handler: Handler,
  ): { addr: { port: number }; shutdown(): Promise<void> };
}
interface BunServeLike {
  serve(options: {
    hostname: string;
    port: number;
    fetch: Handler;
  }): { port: number; stop(force: boolean): Promise<void> | void };
}

const runtimeGlobals = globalThis as unknown as {
  Deno?: DenoServeLike;
  Bun?: BunServeLike;
};

/** Starts `handler` on 127.0.0.1 and a free port with the native server. */
export async function serve(handler: Handler): Promise<Served> {
  const { Deno, Bun } = runtimeGlobals;
  if (Deno) {
    const server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen() {} },
      handler,
    );
    return { port: server.addr.port, close: () => server.shutdown() };
  }
  if (Bun) {
    const server = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch: handler,
    });
    return {
      port: server.port,
      close: async () => void await server.stop(true),
    };
  }
  const server = await serveNode(handler, {
    hostname: "127.0.0.1",
    port: 0,
    onListen() {},
  });
  return {
    port: server.port,
    close: () => {
      server.server.closeAllConnections();
      return server.close();
    },
  };
}

/**
 * Connects to `port`, then times from sending `GET path` to the arrival of
 * the first `data:` line, and hangs up. A raw socket keeps the client's own
 * buffering and parsing out of the number.
 */
export function timeToFirstEvent(
  port: number,
  path: string,
  timeoutMs: number,
): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port, noDelay: true });
    let start = 0;
    let received = "";
    let settled = false;
    const decoder = new TextDecoder();
    const settle = (error: Error | undefined, ms = 0) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (error) reject(error);
      else resolve(ms);
    };
    const timer = setTimeout(
      () => settle(new Error(`no event from ${path} within ${timeoutMs} ms`)),
      timeoutMs,
    );
    socket.once("connect", () => {
      start = performance.now();
      socket.write(
        `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAccept: text/event-stream\r\n\r\n`,
      );
    });
    socket.on("data", (chunk: Uint8Array) => {
      const end = performance.now();
      received += decoder.decode(chunk, { stream: true });
      const body = received.indexOf("\r\n\r\n");
      if (body !== -1 && received.indexOf("data:", body) !== -1) {
        settle(undefined, end - start);
      }
    });
    socket.once("error", (error: Error) => settle(error));
    socket.once(
      "close",
      () => settle(new Error(`${path} closed before its first event`)),
    );
  });
}
