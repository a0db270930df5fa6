/**
 * Serves a fetch-style handler on 127.0.0.1 with the runtime's own HTTP
 * server, and a raw-socket client that times the first SSE event.
 *
 * @module
 */

import { once } from "node:events";
import {
  createServer,
  type IncomingMessage,
  type ServerResponse,
} from "node:http";
import { connect } from "node:net";
import type { AddressInfo } from "node:net";

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

// Node frames the body itself; a handler's framing headers would conflict.
const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "transfer-encoding",
  "upgrade",
]);

// What a Node adapter does for a fetch handler: the body is forwarded chunk
// by chunk as it is read, so the adapter adds no buffering of its own that
// would hide an implementation holding events back.
async function bridge(
  handler: Handler,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const aborter = new AbortController();
  res.once("close", () => aborter.abort());
  // The benchmark's handlers route on the URL only, so headers stay behind.
  const request = new Request(`http://127.0.0.1${req.url}`, {
    method: req.method,
    signal: aborter.signal,
  });
  const response = await handler(request);
  const headers: Record<string, string> = {};
  response.headers.forEach((value, name) => {
    if (!HOP_BY_HOP.has(name)) headers[name] = value;
  });
  res.writeHead(response.status, headers);
  res.flushHeaders();
  if (!response.body) return void res.end();
  const reader = response.body.getReader();
  const cancel = () => reader.cancel(aborter.signal.reason).catch(() => {});
  aborter.signal.addEventListener("abort", cancel, { once: true });
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done || aborter.signal.aborted) break;
      if (!res.write(value)) {
        await Promise.race([once(res, "drain"), once(res, "close")]);
      }
    }
  } catch {
    // The client left or the body failed: either way the response is over.
  }
  res.end();
}

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
  const server = createServer({ noDelay: true }, (req, res) => {
    bridge(handler, req, res).catch(() => res.destroy());
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return {
    port: (server.address() as AddressInfo).port,
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
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
