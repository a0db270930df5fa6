/**
 * {@linkcode serve}: a `node:http` server for a fetch-style handler, in
 * the manner of `Deno.serve`.
 *
 * @module
 */

import { createServer, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { NodeHandler } from "./_node_handler.ts";
import { reporter } from "./_node_report.ts";
import { listener } from "./_node_respond.ts";
import type { NodeServer, ServeOptions } from "./_node_serve_types.ts";

function formatURL(address: string, port: number): string {
  const host = address === "0.0.0.0" || address === "::"
    ? "localhost"
    : address.includes(":")
    ? `[${address}]`
    : address;
  return `http://${host}:${port}/`;
}

/**
 * Starts a `node:http` server that answers every request with `handler`
 * through {@linkcode toNodeListener}, in the manner of `Deno.serve`: port
 * 8000 on `0.0.0.0` unless told otherwise, a log line once listening, and a
 * `signal` that closes it.
 *
 * Closing (through {@linkcode NodeServer.close} or `options.signal`) stops
 * accepting connections and aborts the `request.signal` of the requests in
 * flight, so event streams end and the server finishes instead of waiting
 * for them forever.
 *
 * @example Serving events until Ctrl-C
 * ```ts
 * import assert from "node:assert/strict";
 * import process from "node:process";
 * import { createSSEStream, parseSSE } from "@ssekit/ssekit"; // "ssekit" from npm
 * import { serve } from "@ssekit/ssekit/node"; // "ssekit/node" from npm
 *
 * const stop = new AbortController();
 * const ctrlC = () => stop.abort();
 * process.once("SIGINT", ctrlC);
 * const server = await serve(
 *   (request) =>
 *     createSSEStream(async function* () {
 *       for (let i = 0; ; i++) {
 *         yield { id: i, data: new Date().toISOString() };
 *         await new Promise((resolve) => setTimeout(resolve, 1000));
 *       }
 *     }(), { signal: request.signal }),
 *   { hostname: "127.0.0.1", port: 0, signal: stop.signal },
 * );
 * console.log(`curl -N ${server.url}`);
 *
 * // A client is reading when Ctrl-C comes (here, a call of its listener):
 * const messages = parseSSE(await fetch(server.url));
 * assert.equal((await messages.next()).value?.lastEventId, "0");
 * process.off("SIGINT", ctrlC);
 * ctrlC();
 * await server.finished; // the open stream ended instead of holding it
 * assert.equal((await messages.next()).done, true);
 * ```
 *
 * @param handler Answers each request with a `Response`.
 * @param options Address, shutdown signal, and listen and error callbacks.
 * @returns The listening server, once it listens; the promise rejects
 * with the error of `listen` instead (e.g. `EADDRINUSE`).
 * @throws {TypeError} When `handler` is not a function (as a rejection).
 * @throws {RangeError} When `port` is not an integer in [0, 65535] (as a
 * rejection).
 */
export async function serve(
  handler: NodeHandler,
  options: ServeOptions = {},
): Promise<NodeServer> {
  const { port = 8000, hostname = "0.0.0.0", signal } = options;
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new RangeError(
      `Invalid port: expected an integer in [0, 65535], got ${String(port)}`,
    );
  }
  const onError = reporter(options);
  const open = new Map<ServerResponse, AbortController>();
  const server = createServer(listener(handler, onError, open));
  const finished = new Promise<void>((resolve) =>
    server.once("close", () => resolve())
  );
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, hostname, () => {
      server.off("error", reject);
      resolve();
    });
  });
  // Later errors (e.g. EMFILE while accepting) must not crash the process.
  server.on("error", (error) => onError(error));

  let closing = false;
  // A connection whose response ends during shutdown would otherwise stay
  // open, idle, until the keep-alive timeout.
  const closeIdle = () => server.closeIdleConnections();
  const close = (): Promise<void> => {
    if (closing) return finished;
    closing = true;
    signal?.removeEventListener("abort", close);
    server.close();
    server.closeIdleConnections();
    const reason = new DOMException("The server is closing", "AbortError");
    for (const [res, aborter] of open) {
      res.once("close", closeIdle);
      aborter.abort(reason);
    }
    return finished;
  };
  const address = server.address() as AddressInfo;
  const served: NodeServer = {
    server,
    hostname: address.address,
    port: address.port,
    url: formatURL(address.address, address.port),
    finished,
    close,
  };
  if (signal?.aborted) close();
  else signal?.addEventListener("abort", close);
  if (options.onListen) {
    options.onListen({
      hostname: served.hostname,
      port: served.port,
      url: served.url,
    });
  } else console.log(`Listening on ${served.url}`);
  return served;
}
