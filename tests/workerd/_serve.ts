// In the workerd bundle of the core tests this module stands in for
// src/node.ts, whose `serve` tests/support/server.ts uses, so the test servers keep
// their one definition there. A worker cannot listen on a port, but workerd
// listens for it: every request to workerd's socket that is not the
// harness's goes to the newest open server here (see _worker.ts). The client
// under test is thus workerd's own fetch on a real socket, with real
// redirects, headers and disconnects.
import type { FetchHandler, ServeOptions } from "../../src/node.ts";

interface Server {
  handler: FetchHandler;
  /** How to reset each request in flight: abort it, error its body. */
  open: Set<(reason: unknown) => void>;
}

/** Open servers, newest last: requests go to the newest. */
const servers: Server[] = [];
/** workerd's socket, as the harness's requests arrive on it. */
let origin = "http://127.0.0.1/";

/** Notes where workerd listens, from a request that reached it. */
export function listeningAt(url: string): void {
  origin = new URL("/", url).href;
}

/**
 * Answers `request` with the newest open server. The server's request has
 * a signal of its own (a worker's never aborts by default), aborted when
 * the client leaves (workerd cancels the body) or the server resets.
 */
export async function dispatch(request: Request): Promise<Response> {
  const server = servers.at(-1);
  if (!server) return new Response("no test server is open", { status: 503 });
  const aborter = new AbortController();
  let response: Response;
  try {
    response = await server.handler(
      new Request(request, { signal: aborter.signal }),
    );
  } catch (error) {
    // As ssekit/node answers a failing handler.
    console.error("workerd serve: a request failed:", error);
    return new Response("Internal Server Error", { status: 500 });
  }
  if (!response.body) return response;
  const reader = response.body.getReader();
  let reset: (reason: unknown) => void = () => {};
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      reset = (reason) => {
        server.open.delete(reset);
        aborter.abort(reason);
        controller.error(reason);
        reader.cancel(reason).catch(() => {});
      };
      server.open.add(reset);
    },
    async pull(controller) {
      const chunk = await reader.read();
      if (chunk.done) {
        server.open.delete(reset);
        controller.close();
      } else controller.enqueue(chunk.value);
    },
    cancel(reason) {
      server.open.delete(reset);
      aborter.abort(
        reason ?? new DOMException("The client disconnected", "AbortError"),
      );
      return reader.cancel(reason);
    },
  }, { highWaterMark: 0 });
  return new Response(body, response);
}

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
  const { hostname, port } = new URL(origin);
  options.onListen?.({ hostname, port: Number(port), url: origin });
  // Like closeAllConnections() on node:http: the signal aborts, the body is
  // cancelled (so a producer's `finally` runs) and the connection drops.
  const closeAll = () => {
    const reason = new DOMException("The server is closing", "AbortError");
    for (const reset of [...server.open]) reset(reason);
  };
  return Promise.resolve({
    url: origin,
    server: { closeAllConnections: closeAll },
    close() {
      const index = servers.indexOf(server);
      if (index !== -1) servers.splice(index, 1);
      closeAll();
      return Promise.resolve();
    },
  });
}
