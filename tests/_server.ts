// Real servers on 127.0.0.1 for the tests: the runtime's own server, and
// node:http (bridged by a minimal fetch-handler adapter) wherever it exists.
import { once } from "node:events";
import {
  createServer,
  type IncomingMessage,
  type ServerResponse,
} from "node:http";
import type { AddressInfo } from "node:net";

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

const runtime = globalThis as { Deno?: DenoGlobal; Bun?: BunGlobal };

export const runtimeName: "deno" | "bun" | "node" = runtime.Deno
  ? "deno"
  : runtime.Bun
  ? "bun"
  : "node";

/** The servers this runtime can run: its native one first, then node:http. */
export const serverKinds: ServerKind[] = runtimeName === "node"
  ? ["node:http"]
  : [runtimeName, "node:http"];

function nodeListener(handler: Handler) {
  return async (req: IncomingMessage, res: ServerResponse) => {
    const aborter = new AbortController();
    res.on("close", () => aborter.abort());
    const request = new Request(`http://${req.headers.host}${req.url}`, {
      method: req.method,
      headers: req.headers as Record<string, string>,
      signal: aborter.signal,
    });
    const response = await handler(request);
    res.writeHead(response.status, [...response.headers].flat());
    res.flushHeaders();
    if (!response.body) return void res.end();
    const reader = response.body.getReader();
    res.on("close", () => void reader.cancel().catch(() => {}));
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        if (!res.write(value)) {
          await Promise.race([once(res, "drain"), once(res, "close")]);
        }
      }
      res.end();
    } catch {
      res.destroy();
    }
  };
}

export async function serve(
  handler: Handler,
  kind: ServerKind = serverKinds[0],
): Promise<TestServer> {
  if (kind === "deno") {
    const server = runtime.Deno!.serve(
      { hostname: "127.0.0.1", port: 0, onListen() {} },
      handler,
    );
    return {
      kind,
      url: `http://127.0.0.1:${server.addr.port}/`,
      close: () => server.shutdown(),
    };
  }
  if (kind === "bun") {
    const server = runtime.Bun!.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch: handler,
    });
    return {
      kind,
      url: `http://127.0.0.1:${server.port}/`,
      close: async () => void await server.stop(true),
    };
  }
  const server = createServer(nodeListener(handler));
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  return {
    kind,
    url: `http://127.0.0.1:${port}/`,
    close: async () => {
      server.closeAllConnections();
      server.close();
      await once(server, "close");
    },
  };
}
