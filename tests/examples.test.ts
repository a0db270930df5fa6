// The examples work as their comments say.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { connectSSE, createHub, memoryStore, parseSSE } from "../mod.ts";
import { createMcpApp } from "../examples/mcp/server.ts";
import { fakeOpenAI, fakeReply, relayChat } from "../examples/openai_relay.ts";
import { serve } from "./support/server.ts";

test("examples/openai_relay.ts relays only the token deltas, then done", async () => {
  const upstream = await serve((request) => fakeOpenAI(request, { delay: 1 }));
  const relay = await serve((request) => relayChat(request, upstream.url));
  try {
    const stream = connectSSE(relay.url, {
      method: "POST",
      body: JSON.stringify({ prompt: "hello\r\nworld" }),
      reconnect: false,
    });
    const tokens: string[] = [];
    for await (const message of stream) {
      if (message.type === "done") break;
      assert.equal(message.type, "message");
      tokens.push(JSON.parse(message.data));
    }
    assert.deepEqual(tokens, fakeReply("hello\r\nworld"));
    assert.match(tokens.join(""), /^You said: "hello\r\nworld"\./);
  } finally {
    await relay.close();
    await upstream.close();
  }
});

test("examples/mcp/server.ts: a call dropped on one instance resumes on another, as its curl steps say", async () => {
  // Two instances on one store (a shared memory store stands in for Redis).
  const store = memoryStore();
  const hub = createHub({ store });
  const apps = [createMcpApp({ store, hub, delay: 20 })];
  apps.push(createMcpApp({ store, hub, delay: 20 }));
  const servers = apps.map((app) => createServer(app.listener));
  const [a, b] = await Promise.all(servers.map(async (server) => {
    await new Promise<void>((resolve) =>
      server.listen(0, "127.0.0.1", resolve)
    );
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`;
  }));
  const post = (url: string, body: object, headers: HeadersInit = {}) =>
    fetch(url, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
        ...headers,
      },
      body: JSON.stringify(body),
    });
  try {
    const init = await post(a, {
      jsonrpc: "2.0",
      id: 1,
      method: "initialize",
      params: {
        protocolVersion: "2025-11-25",
        capabilities: {},
        clientInfo: { name: "curl", version: "1" },
      },
    });
    const session = init.headers.get("mcp-session-id")!;
    assert.ok(session);
    await init.body?.cancel();
    const headers = {
      "mcp-session-id": session,
      "mcp-protocol-version": "2025-11-25",
    };
    const call = await post(a, {
      jsonrpc: "2.0",
      id: 2,
      method: "tools/call",
      params: {
        name: "count",
        arguments: { n: 10 },
        _meta: { progressToken: 1 },
      },
    }, headers);
    // Three progress notifications, then Ctrl-C.
    const first: number[] = [];
    let last = "";
    for await (const message of parseSSE(call)) {
      last = message.lastEventId;
      if (!message.data) continue; // the priming event
      first.push(JSON.parse(message.data).params.progress);
      if (first.length === 3) break;
    }
    const resumed = await fetch(b, {
      headers: {
        accept: "text/event-stream",
        "last-event-id": last,
        ...headers,
      },
    });
    assert.equal(resumed.status, 200);
    const rest: unknown[] = [];
    for await (const message of parseSSE(resumed)) {
      if (message.data) rest.push(JSON.parse(message.data));
    }
    const result = rest.pop() as { id: number; result: unknown };
    assert.deepEqual(
      [...first, ...rest.map((m) => (m as ProgressMessage).params.progress)],
      [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
    );
    assert.deepEqual(result, {
      jsonrpc: "2.0",
      id: 2,
      result: { content: [{ type: "text", text: "Counted to 10." }] },
    });
  } finally {
    for (const app of apps) await app.close();
    for (const server of servers) {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
    await hub.close();
  }
});

interface ProgressMessage {
  params: { progress: number };
}
