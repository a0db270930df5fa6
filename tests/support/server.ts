// Real servers on 127.0.0.1 for the tests: the runtime's own server, and
// node:http (through ssekit/node) wherever it exists.
import { serve as serveNode } from "../../src/node.ts";
import { runtimeName } from "./runtime.ts";

export type Handler = (request: Request) => Response | Promise<Response>;
export type ServerKind = "deno" | "bun" | "node:http";

export interface TestServer {
  kind: ServerKind;
  url: string;
  close(): Promise<void>;
}

interface DenoServer {
  addr: { port: number };
  shutdown(): Promise<void>;
}
interface DenoGlobal {
  serve(
    options: { hostname: string; port: number; onListen(): void },
    handler: Handler,
  ): DenoServer;
}
interface BunServer {
  port: number;
  stop(closeActiveConnections?: boolean): Promise<void> | void;
}
interface BunGlobal {
  serve(options: { hostname: string; port: number; fetch: Handler }): BunServer;
}

const globals = globalThis as { Deno?: DenoGlobal; Bun?: BunGlobal };

/** The servers this runtime can run: its native one first, then node:http. */
export const serverKinds: ServerKind[] = runtimeName === "node"
  ? ["node:http"]
  : [runtimeName, "node:http"];

/** Serves on 127.0.0.1, on `port` or (0) a free port. */
export async function serve(
  handler: Handler,
  kind: ServerKind = serverKinds[0],
  port = 0,
): Promise<TestServer> {
  if (kind === "deno") {
    const server = globals.Deno!.serve(
      { hostname: "127.0.0.1", port, onListen() {} },
      handler,
    );
    return {
      kind,
      url: `http://127.0.0.1:${server.addr.port}/`,
      close: () => server.shutdown(),
    };
  }
  if (kind === "bun") {
    const server = globals.Bun!.serve({
      hostname: "127.0.0.1",
      port,
      fetch: handler,
    });
    return {
      kind,
      url: `http://127.0.0.1:${server.port}/`,
      close: async () => void await server.stop(true),
    };
  }
  const server = await serveNode(handler, {
    hostname: "127.0.0.1",
    port,
    onListen() {},
  });
  return {
    kind,
    url: server.url,
    close: () => {
      // Like Bun's stop(true): no waiting for a stream a test left open.
      server.server.closeAllConnections();
      return server.close();
    },
  };
}

/** Runs `body` against a server of `kind` serving `handler`, then closes it. */
export async function withServer(
  kind: ServerKind,
  handler: Handler,
  body: (url: string) => Promise<void>,
): Promise<void> {
  const server = await serve(handler, kind);
  try {
    await body(server.url);
  } finally {
    await server.close();
  }
}
