// An MCP server (the official SDK's McpServer and Streamable HTTP transport)
// whose streams survive a dropped connection, and a move to another
// instance: ssekit/mcp keeps every message a stream sends in a hub store,
// and any instance that shares the store answers the client's resume
// (a GET with Last-Event-ID) with what it missed, then the rest as it comes.
//
// Two instances sharing one Redis:
//
//   deno run -A examples/mcp/server.ts --port=3001 --redis=redis://127.0.0.1:6379
//   bun examples/mcp/server.ts --port=3002 --redis=redis://127.0.0.1:6379
//
// (Node runs it once compiled or bundled; in your own project, import from
// "ssekit/mcp" and the SDK instead of the relative paths.) Without --redis
// the store is in memory: one instance, where resuming still works.
//
// Try it with curl. Start a session on the first instance; its response's
// mcp-session-id header names it:
//
//   curl -si localhost:3001/mcp -H 'content-type: application/json' \
//     -H 'accept: application/json, text/event-stream' \
//     -d '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"curl","version":"1"}}}'
//
// Call the tool, which counts to n with a progress notification a second;
// press Ctrl-C after a few and note the last event's id:
//
//   curl -N localhost:3001/mcp -H 'content-type: application/json' \
//     -H 'accept: application/json, text/event-stream' \
//     -H 'mcp-protocol-version: 2025-11-25' -H "mcp-session-id: $SESSION" \
//     -d '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"count","arguments":{"n":10},"_meta":{"progressToken":1}}}'
//
// Resume on the second instance from that id: the notifications you missed,
// the rest as the first instance sends them, then the result, and the end:
//
//   curl -N localhost:3002/mcp -H 'accept: text/event-stream' \
//     -H 'mcp-protocol-version: 2025-11-25' -H "mcp-session-id: $SESSION" \
//     -H "last-event-id: $ID"
//
// The SDK's Client does the same by itself when its connection drops.
import {
  createServer,
  type IncomingMessage,
  type ServerResponse,
} from "node:http";
import type { AddressInfo } from "node:net";
import process from "node:process";
// @ts-types="@modelcontextprotocol/sdk/server/mcp"
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
// @ts-types="@modelcontextprotocol/sdk/server/streamableHttp"
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import * as z from "zod";
import { createHub, type Hub, type HubStore, memoryStore } from "../../mod.ts";
import { mcpEventStore } from "../../src/mcp.ts";
import { toNodeListener } from "../../src/node.ts";
import { redisStore } from "../../src/redis.ts";

/** The MCP server of one session: a tool that counts, reporting progress. */
function counter(delay: number): McpServer {
  const server = new McpServer({
    name: "ssekit-mcp-example",
    version: "1.0.0",
  });
  server.registerTool(
    "count",
    {
      description: "Counts to n, one progress notification per number",
      inputSchema: { n: z.number().int().min(1).max(1_000) },
    },
    async ({ n }, extra) => {
      const progressToken = extra._meta?.progressToken;
      for (let i = 1; i <= n; i++) {
        await new Promise((resolve) => setTimeout(resolve, delay));
        if (progressToken === undefined) continue;
        await extra.sendNotification({
          method: "notifications/progress",
          params: { progressToken, progress: i, total: n },
        });
      }
      return { content: [{ type: "text", text: `Counted to ${n}.` }] };
    },
  );
  return server;
}

/** Options for {@linkcode createMcpApp}. */
export interface McpAppOptions {
  /** Where the streams are kept: share it between instances. */
  store: HubStore;
  /** A hub on `store`, which follows a resumed stream as it goes on. */
  hub: Hub;
  /** Milliseconds between two numbers of the tool. @default {1000} */
  delay?: number;
}

/** A `node:http` listener serving MCP at any path, and its shutdown. */
export interface McpApp {
  listener(req: IncomingMessage, res: ServerResponse): void;
  /** Closes this instance's sessions (the caller closes the hub). */
  close(): Promise<void>;
}

/**
 * The MCP endpoint: sessions live in this instance's SDK transports, so
 * their POSTs must reach it (route by the mcp-session-id header); a resume
 * may reach any instance.
 */
export function createMcpApp(
  { store, hub, delay = 1_000 }: McpAppOptions,
): McpApp {
  const sessions = new Map<string, StreamableHTTPServerTransport>();
  // The session's event store answers the resume from the shared store.
  const resume = toNodeListener((request) =>
    mcpEventStore(store, {
      session: request.headers.get("mcp-session-id") ?? undefined,
    }).resume(request, { hub })
  );

  async function handle(req: IncomingMessage, res: ServerResponse) {
    if (req.method === "GET" && req.headers["last-event-id"]) {
      return resume(req, res);
    }
    const id = req.headers["mcp-session-id"];
    let transport = typeof id === "string" ? sessions.get(id) : undefined;
    if (transport === undefined && id === undefined && req.method === "POST") {
      // A new session: the SDK checks that its first request initializes.
      const session = crypto.randomUUID();
      const created: StreamableHTTPServerTransport =
        new StreamableHTTPServerTransport({
          sessionIdGenerator: () => session,
          eventStore: mcpEventStore(store, { session }),
          onsessioninitialized: () => void sessions.set(session, created),
          onsessionclosed: () => void sessions.delete(session),
        });
      await counter(delay).connect(created);
      transport = created;
    }
    if (transport === undefined) {
      res.writeHead(404, { "content-type": "application/json" }).end(
        JSON.stringify({
          jsonrpc: "2.0",
          error: { code: -32001, message: "Session not found" },
          id: null,
        }),
      );
      return;
    }
    await transport.handleRequest(req, res);
  }

  return {
    listener(req, res) {
      handle(req, res).catch((error) => {
        console.error(error);
        if (!res.headersSent) res.writeHead(500);
        res.end();
      });
    },
    async close() {
      for (const transport of sessions.values()) await transport.close();
      sessions.clear();
    },
  };
}

function option(name: string): string | undefined {
  const prefix = `--${name}=`;
  return process.argv.find((arg) => arg.startsWith(prefix))?.slice(
    prefix.length,
  );
}

if ((import.meta as { main?: boolean }).main) {
  const redis = option("redis");
  const store = redis
    ? redisStore({ redis, prefix: "mcp-example:" })
    : memoryStore();
  const hub = createHub({ store });
  const app = createMcpApp({ store, hub });
  const server = createServer(app.listener);
  server.listen(Number(option("port") ?? 3000), "127.0.0.1", () => {
    const { port } = server.address() as AddressInfo;
    console.log(
      `MCP on http://127.0.0.1:${port}/mcp${
        redis ? `, streams in ${redis}` : ""
      }`,
    );
  });
  const stop = async () => {
    server.close();
    server.closeAllConnections();
    await app.close();
    await hub.close();
    process.exit(0);
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
}
