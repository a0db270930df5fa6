// In the browser bundle of the core tests this module stands in for
// src/node.ts, whose `serve` tests/support/server.ts uses, so the test servers keep
// their one definition there. A page cannot listen on a port, so the Node
// side (core.browser.ts) does: its node:http server, the one that serves the
// page, forwards every request to the newest open server here and writes
// the response back chunk by chunk as the body yields it. The client under
// test is thus Chromium's own fetch on a real socket to the page's origin
// (no CORS in the way), with real redirects, headers and disconnects.
import type { FetchHandler, ServeOptions } from "../../src/node.ts";

/** A request as the Node side hands it over; the body is base64. */
export interface BridgedRequest {
  id: number;
  method: string;
  url: string;
  headers: [string, string][];
  body: string;
}

export interface BridgedHead {
  status: number;
  statusText: string;
  headers: [string, string][];
  /** False when there is no body to pull. */
  body: boolean;
}

/** One pull of a body; `reset` tells the Node side to drop the connection. */
export interface BridgedChunk {
  done: boolean;
  reset?: boolean;
  data?: string;
}

/** Installed on globalThis as `__ssekitBridge`. */
export interface Bridge {
  /** Null when no server is open: the Node side then drops the connection. */
  handle(request: BridgedRequest): Promise<BridgedHead | null>;
  next(id: number): Promise<BridgedChunk>;
  /** The client went away. */
  abort(id: number): void;
}

interface Server {
  handler: FetchHandler;
  open: Set<number>;
}

interface InFlight {
  server: Server;
  aborter: AbortController;
  reader?: ReadableStreamDefaultReader<Uint8Array>;
  /** The client left: the body is cancelled, not read. */
  gone: boolean;
  /** The server closed under it: the connection is to be dropped. */
  reset: boolean;
}

/** Open servers, newest last: requests go to the newest. */
const servers: Server[] = [];
const inFlight = new Map<number, InFlight>();

function toBase64(bytes: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

function fromBase64(text: string): Uint8Array<ArrayBuffer> {
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}

function end(id: number, flight: InFlight): void {
  inFlight.delete(id);
  flight.server.open.delete(id);
}

// Like closeAllConnections() on node:http: the signal aborts, the body is
// cancelled (so a producer's `finally` runs) and the socket is dropped.
function reset(id: number): void {
  const flight = inFlight.get(id);
  if (!flight) return;
  flight.reset = true;
  const reason = new DOMException("The server is closing", "AbortError");
  flight.aborter.abort(reason);
  flight.reader?.cancel(reason).catch(() => {});
}

const bridge: Bridge = {
  async handle(r) {
    const server = servers.at(-1);
    if (!server) return null;
    const flight: InFlight = {
      server,
      aborter: new AbortController(),
      gone: false,
      reset: false,
    };
    inFlight.set(r.id, flight);
    server.open.add(r.id);
    let response: Response;
    try {
      response = await server.handler(
        new Request(r.url, {
          method: r.method,
          headers: r.headers,
          body: r.method === "GET" || r.method === "HEAD" || !r.body
            ? undefined
            : fromBase64(r.body),
          signal: flight.aborter.signal,
        }),
      );
      if (!(response instanceof Response)) {
        throw new TypeError("the handler did not return a Response");
      }
    } catch (error) {
      // As ssekit/node answers a failing handler.
      console.error("server bridge: a request failed:", error);
      response = new Response("Internal Server Error", { status: 500 });
    }
    const body = response.body && r.method !== "HEAD" &&
        response.status !== 204 && response.status !== 304
      ? response.body.getReader()
      : undefined;
    if (!body || flight.gone || flight.reset) {
      end(r.id, flight);
      response.body?.cancel().catch(() => {});
    } else flight.reader = body;
    if (flight.reset) return null;
    return {
      status: response.status,
      statusText: response.statusText,
      headers: [...response.headers],
      body: body !== undefined,
    };
  },

  async next(id) {
    const flight = inFlight.get(id);
    if (!flight?.reader) return { done: true, reset: true };
    let chunk: ReadableStreamReadResult<Uint8Array>;
    try {
      chunk = await flight.reader.read();
    } catch (error) {
      // As ssekit/node does with a body that errors: cut the response.
      console.error("server bridge: a response body failed:", error);
      end(id, flight);
      return { done: true, reset: true };
    }
    if (flight.reset) {
      end(id, flight);
      return { done: true, reset: true };
    }
    if (chunk.done) {
      end(id, flight);
      return { done: true };
    }
    return { done: false, data: toBase64(chunk.value) };
  },

  abort(id) {
    const flight = inFlight.get(id);
    if (!flight) return;
    flight.gone = true;
    end(id, flight);
    const reason = new DOMException("The client disconnected", "AbortError");
    flight.aborter.abort(reason);
    flight.reader?.cancel(reason).catch(() => {});
  },
};
(globalThis as { __ssekitBridge?: Bridge }).__ssekitBridge = bridge;

/** The subset of ssekit/node's `serve` that tests/support/server.ts uses. */
export function serve(
  handler: FetchHandler,
  options: ServeOptions = {},
): Promise<{
  url: string;
  server: { closeAllConnections(): void };
  close(): Promise<void>;
}> {
  const server: Server = { handler, open: new Set() };
  servers.push(server);
  const url = `${location.origin}/`;
  const { hostname, port } = location;
  options.onListen?.({ hostname, port: Number(port), url });
  const closeAll = () => {
    for (const id of [...server.open]) reset(id);
  };
  return Promise.resolve({
    url,
    server: { closeAllConnections: closeAll },
    close() {
      const index = servers.indexOf(server);
      if (index !== -1) servers.splice(index, 1);
      closeAll();
      return Promise.resolve();
    },
  });
}
