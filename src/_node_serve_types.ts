/**
 * What {@linkcode serve} takes and gives back: its options, the address
 * it listens on, and the server it starts.
 *
 * @module
 */

import type { Server } from "node:http";
import type { NodeListenerOptions } from "./_node_report.ts";

/**
 * Where a server started by {@linkcode serve} listens.
 *
 * @example Logging where the server listens
 * ```ts
 * import type { ServeAddress } from "@ssekit/ssekit/node";
 *
 * const onListen = ({ hostname, port, url }: ServeAddress) => console.log(`${hostname}:${port}`, url);
 * ```
 */
export interface ServeAddress {
  /** The bound address, e.g. `"127.0.0.1"`, `"0.0.0.0"` or `"::1"`. */
  hostname: string;
  /** The bound port: the one asked for, or the one the system chose for `0`. */
  port: number;
  /**
   * The server's root URL, e.g. `http://127.0.0.1:8000/`; an unspecified
   * address (`0.0.0.0`, `::`) shows as `localhost`, so the URL can be opened.
   */
  url: string;
}

/**
 * Options for {@linkcode serve}.
 *
 * @example Loopback only, on a port the system picks, until aborted
 * ```ts
 * import type { ServeOptions } from "@ssekit/ssekit/node";
 *
 * const options: ServeOptions = { hostname: "127.0.0.1", port: 0, signal: AbortSignal.timeout(60_000) };
 * ```
 */
export interface ServeOptions extends NodeListenerOptions {
  /** The port to listen on; `0` lets the system choose one. @default {8000} */
  port?: number;
  /** The address to listen on. @default {"0.0.0.0"} */
  hostname?: string;
  /** Closes the server, as {@linkcode NodeServer.close} does, when aborted. */
  signal?: AbortSignal;
  /**
   * Called once the server listens. The default logs
   * `Listening on <url>` with `console.log`, as `Deno.serve` does.
   */
  onListen?: (address: ServeAddress) => void;
}

/**
 * A listening server started by {@linkcode serve}.
 *
 * @example Closing a server
 * ```ts
 * import assert from "node:assert/strict";
 * import { type NodeServer, serve } from "@ssekit/ssekit/node";
 *
 * const server: NodeServer = await serve(() => new Response("OK"), {
 *   hostname: "127.0.0.1",
 *   port: 0,
 *   onListen() {},
 * });
 * assert.equal(await (await fetch(server.url)).text(), "OK");
 * await server.close();
 * ```
 */
export interface NodeServer extends ServeAddress {
  /** The underlying `node:http` server, for its settings and events. */
  readonly server: Server;
  /** Resolves when the server has closed and every connection has ended. */
  readonly finished: Promise<void>;
  /**
   * Closes the server: it stops accepting connections, closes idle ones,
   * and aborts the `request.signal` of every request in flight, so streams
   * built with `{ signal: request.signal }` end cleanly (a long-lived event
   * stream would otherwise keep the server open forever). Each connection
   * closes as soon as its response ends. Calling it again is harmless.
   *
   * @returns {@linkcode NodeServer.finished}
   */
  close(): Promise<void>;
}
