/**
 * Serves a fetch-style handler on 127.0.0.1 with the runtime's own HTTP
 * server (node:http through ssekit/node on Node), and a raw-socket client
 * that times the first SSE event.
 *
 * @module
 */

import { connect } from "node:net";
import { type Handler, serve as serveTest } from "../tests/support/server.ts";

/** A listening server. */
export interface Served {
  port: number;
  close(): Promise<void>;
}

/**
 * Starts `handler` on 127.0.0.1 and a free port with the runtime's own
 * server, the one the tests use (node:http through ssekit/node on Node).
 */
export async function serve(handler: Handler): Promise<Served> {
  const server = await serveTest(handler);
  return { port: Number(new URL(server.url).port), close: server.close };
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
