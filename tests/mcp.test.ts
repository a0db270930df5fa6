// ssekit/mcp: the MCP SDK's EventStore on a HubStore (memory, and Redis
// with SSEKIT_REDIS_URL), then the real SDK (McpServer, its Streamable
// HTTP transports and Client) over node:http: a client whose connection
// drops in the middle of a tool's progress notifications resumes, on the
// same instance or another one sharing the store, and gets every message
// exactly once.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import process from "node:process";
// Deno takes the SDK's types from its extensionless subpaths; Node and Bun
// load the files with their extension.
// @ts-types="@modelcontextprotocol/sdk/server/mcp"
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
// @ts-types="@modelcontextprotocol/sdk/server/streamableHttp"
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
// @ts-types="@modelcontextprotocol/sdk/client/index"
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
// @ts-types="@modelcontextprotocol/sdk/client/streamableHttp"
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
// @ts-types="@modelcontextprotocol/sdk/types"
import { LoggingMessageNotificationSchema } from "@modelcontextprotocol/sdk/types.js";
import type { EventStore } from "@modelcontextprotocol/sdk/server/webStandardStreamableHttp";
import * as z from "zod";
import { createHub, type Hub } from "../src/hub.ts";
import { mcpEventStore, type McpMessage } from "../src/mcp.ts";
import { memoryStore } from "../src/memory_store.ts";
import { toNodeListener } from "../src/node.ts";
import { parseSSE } from "../src/parse.ts";
import { redisStore } from "../src/redis.ts";
import type { HubStore } from "../src/store.ts";
import type { SSEMessage } from "../src/types.ts";
import { deferred } from "./support/deferred.ts";
import { sleep, until, within } from "./support/time.ts";

const url = process.env.SSEKIT_REDIS_URL;
let prefixes = 0;

interface StoreKind {
  name: string;
  /** A store; `shared` gives another handle on the same data (another instance's). */
  make(options?: { max?: number }): {
    store: HubStore;
    shared(): HubStore;
  };
}

const kinds: StoreKind[] = [{
  name: "memoryStore",
  make(options = {}) {
    // One process's memory: "instances" in this process share the object.
    const store = memoryStore(options);
    const shared = { ...store, close: () => {} } as HubStore;
    return { store, shared: () => shared };
  },
}];
if (url) {
  kinds.push({
    name: "redisStore",
    make(options = {}) {
      const prefix =
        `ssekit-test:mcp:${process.pid}:${Date.now()}:${++prefixes}:`;
      return {
        store: redisStore({ redis: url, prefix, ...options }),
        shared: () => redisStore({ redis: url, prefix, ...options }),
      };
    },
  });
}

const progress = (n: number): McpMessage => ({
  jsonrpc: "2.0",
  method: "notifications/progress",
  params: { progressToken: 7, progress: n },
});
const response = (id: number): McpMessage => ({
  jsonrpc: "2.0",
  id,
  result: { content: [] },
});

/** What replayEventsAfter sends after `id`, as [event id, message]. */
async function replay(
  events: { replayEventsAfter: EventStore["replayEventsAfter"] },
  id: string,
): Promise<[string, unknown][]> {
  const sent: [string, unknown][] = [];
  await events.replayEventsAfter(id, {
    send: (eventId, message) => {
      sent.push([eventId, message]);
      return Promise.resolve();
    },
  });
  return sent;
}

/** A resume request as the SDK's client sends it. */
function resumeRequest(
  lastEventId: string | undefined,
  session?: string,
  version = "2025-11-25",
): Request {
  const headers = new Headers({
    accept: "text/event-stream",
    "mcp-protocol-version": version,
  });
  if (lastEventId !== undefined) headers.set("last-event-id", lastEventId);
  if (session !== undefined) headers.set("mcp-session-id", session);
  return new Request("http://127.0.0.1/mcp", { headers });
}

/** The messages of a stream until it ends, each within a few seconds. */
async function drain(stream: AsyncIterableIterator<SSEMessage>) {
  const messages: SSEMessage[] = [];
  for (;;) {
    const { done, value } = await within(stream.next(), 5_000, "next event");
    if (done) return messages;
    messages.push(value);
  }
}

for (const kind of kinds) {
  describe(`${kind.name}: mcpEventStore`, () => {
    test("ids name the stream; replay sends exactly what follows, in order", async () => {
      const { store } = kind.make();
      try {
        const events = mcpEventStore(store, { session: "s1" });
        // The SDK's transport primes each stream with an empty message.
        const priming = await events.storeEvent("a", {});
        const ids = [priming];
        for (let n = 1; n <= 3; n++) {
          ids.push(await events.storeEvent("a", progress(n)));
          // Another stream of the session, interleaved.
          await events.storeEvent("b", progress(100 + n));
        }
        ids.push(await events.storeEvent("a", response(1)));
        assert.equal(new Set(ids).size, ids.length);
        for (const id of ids) assert.match(id, /^a\/./);
        assert.equal(await events.getStreamIdForEventId(ids[2]), "a");
        // After the priming event: every message, none of b's.
        assert.deepEqual(await replay(events, priming), [
          [ids[1], progress(1)],
          [ids[2], progress(2)],
          [ids[3], progress(3)],
          [ids[4], response(1)],
        ]);
        assert.deepEqual(await replay(events, ids[2]), [
          [ids[3], progress(3)],
          [ids[4], response(1)],
        ]);
        assert.deepEqual(await replay(events, ids[4]), []);
        // Another store on the same data (another instance) reads the same.
        const other = mcpEventStore(store, { session: "s1" });
        assert.deepEqual(await replay(other, ids[2]), [
          [ids[3], progress(3)],
          [ids[4], response(1)],
        ]);
      } finally {
        await store.close();
      }
    });

    test("replay goes past one page", async () => {
      const { store } = kind.make();
      try {
        const events = mcpEventStore(store);
        const first = await events.storeEvent("long", {});
        for (let n = 1; n <= 250; n++) {
          await events.storeEvent("long", progress(n));
        }
        const sent = await replay(events, first);
        assert.deepEqual(
          sent.map(([, message]) =>
            (message as { params: { progress: number } }).params.progress
          ),
          Array.from({ length: 250 }, (_, i) => i + 1),
        );
      } finally {
        await store.close();
      }
    });

    test("stream ids are escaped: a stream with the separator stays itself", async () => {
      const { store } = kind.make();
      try {
        const events = mcpEventStore(store, { session: "s/1" });
        const odd = ["x/y", "x", "%2F", "ü/é ✓", "_GET_stream"];
        const ids = new Map<string, string>();
        for (const stream of odd) {
          ids.set(stream, await events.storeEvent(stream, {}));
          await events.storeEvent(stream, progress(odd.indexOf(stream)));
        }
        for (const stream of odd) {
          assert.equal(
            await events.getStreamIdForEventId(ids.get(stream)!),
            stream,
          );
          const sent = await replay(events, ids.get(stream)!);
          assert.deepEqual(sent.map(([, m]) => m), [
            progress(odd.indexOf(stream)),
          ]);
        }
        // "x/y" of session "s/1" is not "y" of session "s/1/x".
        const nested = mcpEventStore(store, { session: "s/1/x" });
        assert.equal(
          await nested.getStreamIdForEventId(ids.get("x/y")!),
          undefined,
        );
        await assert.rejects(
          events.storeEvent("\ud800", progress(1)),
          (error: Error) =>
            error instanceof TypeError && /lone surrogates/.test(error.message),
        );
      } finally {
        await store.close();
      }
    });

    test("an id that is not this store's, or another session's, replays nothing", async () => {
      const { store } = kind.make();
      try {
        const events = mcpEventStore(store, { session: "s1" });
        const id = await events.storeEvent("a", progress(1));
        await events.storeEvent("a", progress(2));
        const entry = id.slice(2);
        const foreign = [
          "",
          "nope",
          entry,
          "/" + entry,
          "a/",
          "%zz/" + entry,
          "%61/" + entry, // "a", spelt another way
          "b/" + entry, // a stream the session never had
          "a/9-9-9",
          "a/" + "9".repeat(40) + "-0",
          "x".repeat(2_000) + "/" + entry,
        ];
        for (const bad of foreign) {
          assert.equal(await events.getStreamIdForEventId(bad), undefined, bad);
          let sent = 0;
          await assert.rejects(
            events.replayEventsAfter(bad, {
              send: () => Promise.resolve(void sent++),
            }),
            (error: Error) =>
              (error instanceof TypeError || error instanceof RangeError) &&
              error.message.includes("Cannot replay after"),
            bad,
          );
          assert.equal(sent, 0, bad);
        }
        for (const other of [{ session: "s2" }, {}]) {
          const elsewhere = mcpEventStore(store, other);
          assert.equal(await elsewhere.getStreamIdForEventId(id), undefined);
          await assert.rejects(replay(elsewhere, id), RangeError);
        }
        assert.equal(
          await events.getStreamIdForEventId(42 as unknown as string),
          undefined,
        );
      } finally {
        await store.close();
      }
    });

    test("history bounds: an id trimmed away by max is unknown, not a partial replay", async () => {
      const { store } = kind.make({ max: 3 });
      try {
        const events = mcpEventStore(store, { session: "s1" });
        const ids = [];
        for (let n = 1; n <= 5; n++) {
          ids.push(await events.storeEvent("a", progress(n)));
        }
        // Kept: 3, 4, 5. After 1, message 2 is gone.
        assert.equal(await events.getStreamIdForEventId(ids[0]), undefined);
        await assert.rejects(
          replay(events, ids[0]),
          (error: Error) =>
            error instanceof RangeError &&
            /no longer in the history/.test(error.message),
        );
        // After 2, nothing is missing.
        assert.equal(await events.getStreamIdForEventId(ids[1]), "a");
        assert.deepEqual((await replay(events, ids[1])).map(([, m]) => m), [
          progress(3),
          progress(4),
          progress(5),
        ]);
      } finally {
        await store.close();
      }
    });

    test("a response ends its stream; a batch's later responses get the end's id", async () => {
      const { store } = kind.make();
      try {
        const events = mcpEventStore(store, { session: "s1" });
        const first = await events.storeEvent("a", progress(1));
        const end = await events.storeEvent("a", response(1));
        assert.equal(await events.storeEvent("a", response(2)), end);
        assert.deepEqual((await replay(events, first)).map(([, m]) => m), [
          response(1),
        ]);
        // Requests and notifications of the standalone stream never end it.
        const get = await events.storeEvent("_GET_stream", progress(1));
        await events.storeEvent("_GET_stream", {
          jsonrpc: "2.0",
          id: 5,
          method: "ping",
        });
        assert.equal((await replay(events, get)).length, 1);
      } finally {
        await store.close();
      }
    });

    test("the standalone stream is kept per session, and not at all without one", async () => {
      const { store } = kind.make();
      try {
        const one = mcpEventStore(store, { session: "one" });
        const two = mcpEventStore(store, { session: "two" });
        const a = await one.storeEvent("_GET_stream", {});
        const b = await two.storeEvent("_GET_stream", {});
        await one.storeEvent("_GET_stream", progress(1));
        await two.storeEvent("_GET_stream", progress(2));
        assert.deepEqual((await replay(one, a)).map(([, m]) => m), [
          progress(1),
        ]);
        assert.deepEqual((await replay(two, b)).map(([, m]) => m), [
          progress(2),
        ]);
        // Stateless: every transport's standalone stream has that name.
        const stateless = mcpEventStore(store);
        assert.equal(
          await stateless.storeEvent("_GET_stream", progress(3)),
          "",
        );
        assert.deepEqual((await replay(one, a)).map(([, m]) => m), [
          progress(1),
        ]);
      } finally {
        await store.close();
      }
    });

    test("resume: replays, follows live messages, and ends after the response", async () => {
      const { store, shared } = kind.make();
      const hub = createHub({ store });
      const elsewhere = shared();
      try {
        const events = mcpEventStore(store, { session: "s1" });
        const priming = await events.storeEvent("a", {});
        const one = await events.storeEvent("a", progress(1));
        const response1 = await events.resume(resumeRequest(priming, "s1"), {
          hub,
        });
        assert.equal(response1.status, 200);
        assert.match(
          response1.headers.get("content-type") ?? "",
          /^text\/event-stream/,
        );
        assert.equal(response1.headers.get("mcp-session-id"), "s1");
        const stream = parseSSE(response1);
        const head = await within(stream.next(), 5_000, "priming");
        // The id it resumed from comes first, without data.
        assert.deepEqual(
          [head.value.id, head.value.data],
          [priming, ""],
        );
        const replayed = await within(stream.next(), 5_000, "replayed");
        assert.deepEqual(
          [
            replayed.value.type,
            replayed.value.id,
            JSON.parse(replayed.value.data),
          ],
          ["message", one, progress(1)],
        );
        // Kept after the response started, by another instance: followed.
        const live = mcpEventStore(elsewhere, { session: "s1" });
        const two = await live.storeEvent("a", progress(2));
        const end = await live.storeEvent("a", response(1));
        const rest = await drain(stream);
        assert.deepEqual(
          rest.map((m) => [m.type, m.id, JSON.parse(m.data)]),
          [["message", two, progress(2)], ["message", end, response(1)]],
        );
        // The client that has the response gets 204, which stops it.
        const after = await events.resume(resumeRequest(end, "s1"), { hub });
        assert.equal(after.status, 204);
        // From before the end: the rest, then the close.
        const again = await drain(parseSSE(
          await events.resume(resumeRequest(two, "s1", "2025-06-18"), { hub }),
        ));
        // No priming for clients older than 2025-11-25.
        assert.deepEqual(again.map((m) => m.id), [end]);
      } finally {
        await hub.close();
        await elsewhere.close();
      }
    });

    test("resume answers what cannot be resumed with the SDK's errors", async () => {
      const { store } = kind.make({ max: 2 });
      const hub = createHub({ store });
      try {
        const events = mcpEventStore(store, { session: "s1" });
        const old = await events.storeEvent("a", progress(1));
        for (let n = 2; n <= 4; n++) await events.storeEvent("a", progress(n));
        const cases: [Request, number, RegExp][] = [
          [resumeRequest(old, "s2"), 404, /Session not found/],
          [resumeRequest(old, undefined), 404, /Session not found/],
          [resumeRequest(undefined, "s1"), 400, /Last-Event-ID/],
          [resumeRequest("nope", "s1"), 400, /Invalid event ID format/],
          [
            resumeRequest("b/1-1", "s1"),
            400,
            /no longer in the stream's history/,
          ],
          [resumeRequest(old, "s1"), 400, /no longer in the stream's history/],
        ];
        for (const [request, status, message] of cases) {
          const answer = await events.resume(request, { hub });
          assert.equal(answer.status, status);
          assert.equal(answer.headers.get("content-type"), "application/json");
          const body = await answer.json();
          assert.equal(body.jsonrpc, "2.0");
          assert.match(body.error.message, message);
        }
        await assert.rejects(
          events.resume(resumeRequest(old, "s1"), {} as never),
          (error: Error) =>
            error instanceof TypeError && /option "hub"/.test(error.message),
        );
      } finally {
        await hub.close();
      }
    });
  });
}

describe("mcpEventStore: options", () => {
  test("bad options are TypeErrors that say what was expected", () => {
    const store = memoryStore();
    const bad: [unknown, unknown, RegExp][] = [
      [undefined, {}, /expected a HubStore/],
      [{ append() {} }, {}, /expected a HubStore/],
      [store, { session: "" }, /"session": expected a non-empty string/],
      [store, { session: 42 }, /"session": expected a non-empty string/],
      [store, { prefix: 1 }, /"prefix": expected a string/],
      [
        store,
        { prefix: "mcp\n" },
        /"prefix": expected a string without control/,
      ],
      [store, { prefix: "\ud800" }, /lone surrogates/],
      [store, { session: "\udc00" }, /lone surrogates/],
      [store, { prefix: "p".repeat(1_024) }, /leaving none/],
    ];
    for (const [s, options, message] of bad) {
      assert.throws(
        () => mcpEventStore(s as HubStore, options as never),
        (error: Error) =>
          error instanceof TypeError && message.test(error.message),
      );
    }
  });

  test("the memory store's ttl expires a stream: its ids become unknown", async () => {
    let now = 1_000;
    const store = memoryStore({ ttl: 1_000, now: () => now });
    const events = mcpEventStore(store, { session: "s1" });
    const id = await events.storeEvent("a", progress(1));
    await events.storeEvent("a", progress(2));
    assert.equal(await events.getStreamIdForEventId(id), "a");
    now += 1_001;
    assert.equal(await events.getStreamIdForEventId(id), undefined);
    await assert.rejects(replay(events, id), RangeError);
    await store.close();
  });
});

// ---------------------------------------------------------------------------
// The real SDK over node:http.

const N = 20;

/** What the tool does after sending progress notification `i`. */
type Step = (i: number) => void | Promise<void>;

interface Instance {
  name: string;
  url: string;
  /** Resume requests (GET with Last-Event-ID) this instance received. */
  resumes: number;
  /** Resolves at the first resume request. */
  resumed: Promise<void>;
  /** Drops the sockets of the open tool calls' POST responses. */
  cutPosts(): void;
  /** Drops the sockets of the open resume responses. */
  cutResumes(): void;
  /** Drops the sockets of the open standalone GET streams. */
  cutStreams(): void;
  /** Resume responses still open. */
  openResumes(): number;
  /** Standalone GET streams (without Last-Event-ID) still open. */
  openStreams(): number;
  /** Resume responses that have sent their head and first event. */
  primedResumes(): number;
  /** The MCP server of the (only) session that started here. */
  server(): McpServer;
  close(): Promise<void>;
}

interface InstanceOptions {
  store: HubStore;
  hub: Hub;
  /** No sessions: a server and transport per request. */
  stateless?: boolean;
  /** Resumes go to the session's transport (the SDK's own replay). */
  viaTransport?: boolean;
  step: Step;
}

function mcpServer(step: Step): McpServer {
  const server = new McpServer({ name: "ssekit-test", version: "1.0.0" }, {
    capabilities: { logging: {} },
  });
  server.registerTool(
    "count",
    {
      description: "Counts to n, with a progress notification per number",
      inputSchema: { n: z.number().int() },
    },
    async ({ n }, extra) => {
      const progressToken = extra._meta?.progressToken;
      assert.notEqual(progressToken, undefined);
      for (let i = 1; i <= n; i++) {
        await extra.sendNotification({
          method: "notifications/progress",
          params: { progressToken: progressToken!, progress: i, total: n },
        });
        await step(i);
        await sleep(5);
      }
      return { content: [{ type: "text", text: `counted to ${n}` }] };
    },
  );
  return server;
}

async function startInstance(
  name: string,
  options: InstanceOptions,
): Promise<Instance> {
  const { store, hub, stateless = false, viaTransport = false, step } = options;
  const eventStore = (session: string | undefined) =>
    mcpEventStore(store, { session });
  const sessions = new Map<string, StreamableHTTPServerTransport>();
  const servers: McpServer[] = [];
  const posts = new Set<ServerResponse>();
  const resuming = new Set<ServerResponse>();
  const streams = new Set<ServerResponse>();
  let primed = 0;
  const firstResume = deferred();
  // Resumes are answered from the store, whichever instance started the
  // stream: the SDK's transport can only answer its own session's.
  const resume = toNodeListener(async (request) => {
    const session = request.headers.get("mcp-session-id") ?? undefined;
    return await mcpEventStore(store, { session }).resume(request, { hub });
  }, { onError: () => {} });
  const track = (set: Set<ServerResponse>, res: ServerResponse) => {
    set.add(res);
    res.once("close", () => set.delete(res));
  };

  const http = createServer(async (req, res) => {
    try {
      if (req.method === "GET" && req.headers["last-event-id"]) {
        instance.resumes++;
        firstResume.resolve();
        if (!viaTransport) {
          track(resuming, res);
          // Counts the responses whose priming event has gone out.
          const write = res.write.bind(res) as (chunk: unknown) => boolean;
          let counted = false;
          res.write = ((chunk: unknown, ...rest: unknown[]) => {
            const ok = (write as (...args: unknown[]) => boolean)(
              chunk,
              ...rest,
            );
            const text = typeof chunk === "string"
              ? chunk
              : new TextDecoder().decode(chunk as Uint8Array);
            if (!counted && text.includes("id: ")) {
              counted = true;
              primed++;
            }
            return ok;
          }) as typeof res.write;
          return resume(req, res);
        }
      }
      if (req.method === "POST") track(posts, res);
      else if (req.method === "GET") track(streams, res);
      if (stateless) {
        if (req.method !== "POST") {
          res.writeHead(405, { allow: "POST" }).end();
          return;
        }
        // The server stays up when the client leaves (closing it would
        // abort the tool); once it has answered, it is garbage.
        const transport = new StreamableHTTPServerTransport({
          sessionIdGenerator: undefined,
          eventStore: eventStore(undefined),
        });
        await mcpServer(step).connect(transport);
        await transport.handleRequest(req, res);
        return;
      }
      const id = req.headers["mcp-session-id"] as string | undefined;
      let transport = id === undefined ? undefined : sessions.get(id);
      if (transport === undefined && id === undefined) {
        const session = crypto.randomUUID();
        const created: StreamableHTTPServerTransport =
          new StreamableHTTPServerTransport({
            sessionIdGenerator: () => session,
            eventStore: eventStore(session),
            onsessioninitialized: () => void sessions.set(session, created),
          });
        const server = mcpServer(step);
        servers.push(server);
        await server.connect(created);
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
    } catch (error) {
      if (!res.headersSent) res.writeHead(500);
      res.end(String(error));
    }
  });
  await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
  const drop = (set: Set<ServerResponse>) => {
    for (const res of set) res.socket?.destroy();
  };
  const instance: Instance = {
    name,
    url: `http://127.0.0.1:${(http.address() as AddressInfo).port}/mcp`,
    resumes: 0,
    resumed: firstResume.promise,
    cutPosts: () => drop(posts),
    cutResumes: () => drop(resuming),
    cutStreams: () => drop(streams),
    openResumes: () => resuming.size,
    openStreams: () => streams.size,
    primedResumes: () => primed,
    server: () => servers[0],
    async close() {
      for (const transport of sessions.values()) await transport.close();
      http.closeAllConnections();
      await new Promise((resolve) => http.close(resolve));
    },
  };
  return instance;
}

/**
 * An SDK client whose requests go where `route.target` says: a load
 * balancer that sends the client elsewhere when its connection drops.
 */
async function connectClient(route: { target: string }) {
  const client = new Client({ name: "ssekit-test-client", version: "1.0.0" });
  const transport = new StreamableHTTPClientTransport(new URL(route.target), {
    fetch: (_url, init) => fetch(route.target, init),
    reconnectionOptions: {
      initialReconnectionDelay: 50,
      maxReconnectionDelay: 400,
      reconnectionDelayGrowFactor: 2,
      maxRetries: 3,
    },
  });
  const logged: unknown[] = [];
  client.setNotificationHandler(
    LoggingMessageNotificationSchema,
    (notification) => void logged.push(notification.params.data),
  );
  await within(client.connect(transport), 10_000, "client.connect");
  return { client, logged };
}

/** Calls the tool and records every progress notification it delivers. */
async function count(client: Client, timeout = 15_000) {
  const seen: number[] = [];
  try {
    const result = await client.callTool(
      { name: "count", arguments: { n: N } },
      undefined,
      { onprogress: (p) => void seen.push(p.progress), timeout },
    );
    return { seen, result, error: undefined };
  } catch (error) {
    return { seen, result: undefined, error };
  }
}

const ALL = Array.from({ length: N }, (_, i) => i + 1);

/** Calls the tool: it must answer, with every notification once, in order. */
async function countsToTheEnd(client: Client): Promise<void> {
  const { seen, result, error } = await count(client);
  assert.equal(error, undefined);
  assert.deepEqual(seen, ALL);
  assert.deepEqual(result?.content, [{
    type: "text",
    text: `counted to ${N}`,
  }]);
}

interface Cluster {
  a: Instance;
  b: Instance;
  route: { target: string };
  close(): Promise<void>;
}

/**
 * Two instances on one store (for Redis, each with its own connections);
 * the tool's steps come from `steps(cluster)`.
 */
async function cluster(
  kind: StoreKind,
  options: Omit<InstanceOptions, "store" | "hub" | "step"> & {
    separate?: boolean;
  },
  steps: (c: Cluster) => Record<number, () => unknown>,
): Promise<Cluster> {
  const made = kind.make();
  const other = options.separate ? kind.make() : made;
  const storeA = made.store;
  const storeB = options.separate ? other.store : made.shared();
  const hubA = createHub({ store: storeA });
  const hubB = kind.name === "memoryStore" && !options.separate
    ? hubA
    : createHub({ store: storeB });
  let stepper: Step = () => {};
  const step: Step = (i) => stepper(i);
  const a = await startInstance("A", {
    ...options,
    store: storeA,
    hub: hubA,
    step,
  });
  const b = await startInstance("B", {
    ...options,
    store: storeB,
    hub: hubB,
    step,
  });
  const route = { target: a.url };
  const c: Cluster = {
    a,
    b,
    route,
    async close() {
      await a.close();
      await b.close();
      await hubA.close();
      if (hubB !== hubA) await hubB.close();
    },
  };
  // The tool's cuts: where the client drops, and where it comes back.
  const plan = steps(c);
  stepper = async (i) => void await plan[i]?.();
  return c;
}

for (const kind of kinds) {
  describe(`${kind.name}: the MCP SDK resumes through ssekit/mcp`, () => {
    test("stateful: dropped on A, resumed on B, dropped again, resumed on A: every notification once", async () => {
      const c = await cluster(kind, {}, (c) => ({
        5: () => {
          c.route.target = c.b.url;
          c.a.cutPosts();
        },
        // Messages 6..10 are replayed from the store; 11..15 followed live.
        10: () => within(c.b.resumed, 10_000, "resume on B"),
        15: () => {
          c.route.target = c.a.url;
          c.b.cutResumes();
        },
        17: () => within(c.a.resumed, 10_000, "resume on A"),
      }));
      const { client } = await connectClient(c.route);
      try {
        await countsToTheEnd(client);
        assert.equal(c.b.resumes, 1);
        assert.equal(c.a.resumes, 1);
        // The resumed stream ends after the response, as the transport's own.
        await until(
          () => Promise.resolve(c.a.openResumes()),
          (open) => open === 0,
          "the resume on A to end",
          5_000,
        );
      } finally {
        await client.close();
        await c.close();
      }
    });

    test("stateless: a server per request; the client resumes on the other instance", async () => {
      const c = await cluster(kind, { stateless: true }, (c) => ({
        5: () => {
          c.route.target = c.b.url;
          c.a.cutPosts();
        },
        10: () => within(c.b.resumed, 10_000, "resume on B"),
      }));
      const { client } = await connectClient(c.route);
      try {
        await countsToTheEnd(client);
        assert.equal(c.b.resumes, 1);
      } finally {
        await client.close();
        await c.close();
      }
    });

    test("on one instance, the SDK's transport replays from mcpEventStore", async () => {
      const c = await cluster(kind, { viaTransport: true }, (c) => ({
        5: () => c.a.cutPosts(),
        10: () => within(c.a.resumed, 10_000, "resume on A"),
      }));
      const { client } = await connectClient(c.route);
      try {
        await countsToTheEnd(client);
        assert.equal(c.a.resumes, 1);
        // An id that is not the store's: the transport answers 400 and
        // replays nothing, as the SDK expects of getStreamIdForEventId.
        const session = (client.transport as StreamableHTTPClientTransport)
          .sessionId!;
        const answer = await fetch(c.a.url, {
          headers: {
            accept: "text/event-stream",
            "mcp-session-id": session,
            "last-event-id": "not-an-id",
          },
        });
        assert.equal(answer.status, 400);
        assert.match((await answer.json()).error.message, /Invalid event ID/);
      } finally {
        await client.close();
        await c.close();
      }
    });

    test("a resumed stream that drops before its first message resumes from the same place", async () => {
      const seen: number[] = [];
      const c = await cluster(kind, {}, (c) => ({
        5: async () => {
          // The client has 5; it resumes on B, where nothing follows yet.
          await until(
            () => Promise.resolve(seen.length),
            (n) => n === 5,
            "5 seen",
          );
          c.route.target = c.b.url;
          c.a.cutPosts();
          await within(c.b.resumed, 10_000, "resume on B");
          await until(
            () => Promise.resolve(c.b.primedResumes()),
            (n) => n === 1,
            "the priming event on B",
          );
          await sleep(50);
          // Dropped with only the priming event: its id is the way back.
          c.route.target = c.a.url;
          c.b.cutResumes();
          await within(c.a.resumed, 10_000, "resume on A");
        },
      }));
      const { client } = await connectClient(c.route);
      try {
        const result = await client.callTool(
          { name: "count", arguments: { n: N } },
          undefined,
          { onprogress: (p) => void seen.push(p.progress), timeout: 15_000 },
        );
        assert.deepEqual(seen, ALL);
        assert.deepEqual(result.content, [{
          type: "text",
          text: `counted to ${N}`,
        }]);
        assert.equal(c.a.resumes, 1);
      } finally {
        await client.close();
        await c.close();
      }
    });

    test("the session's standalone stream resumes on the other instance too", async () => {
      const c = await cluster(kind, {}, () => ({}));
      const { client, logged } = await connectClient(c.route);
      const log = (i: number) =>
        c.a.server().server.sendLoggingMessage({ level: "info", data: i });
      const saw = (n: number) =>
        until(
          () => Promise.resolve(logged.length),
          (l) => l >= n,
          `${n} logged`,
        );
      try {
        // The standalone GET stream opens after initialization.
        await until(
          () => Promise.resolve(c.a.openStreams()),
          (n) => n === 1,
          "the standalone stream",
        );
        for (let i = 1; i <= 5; i++) await log(i);
        await saw(5);
        c.route.target = c.b.url;
        c.a.cutStreams();
        for (let i = 6; i <= 10; i++) await log(i);
        await within(c.b.resumed, 10_000, "resume on B");
        for (let i = 11; i <= N; i++) await log(i);
        await saw(N);
        await sleep(50);
        assert.deepEqual(logged, ALL);
        assert.equal(c.b.resumes, 1);
      } finally {
        await client.close();
        await c.close();
      }
    });

    test("control: without a shared store, the resume on B loses the rest of the call", async () => {
      const c = await cluster(kind, { separate: true }, (c) => ({
        5: () => {
          c.route.target = c.b.url;
          c.a.cutPosts();
        },
        10: () => within(c.b.resumed, 10_000, "resume on B"),
      }));
      const { client } = await connectClient(c.route);
      try {
        const { seen, result, error } = await count(client, 3_000);
        assert.equal(result, undefined);
        assert.match(String(error), /timed out/i);
        assert.deepEqual(seen, ALL.slice(0, seen.length));
        assert.ok(seen.length < N, `saw ${seen.length}`);
      } finally {
        await client.close();
        await c.close();
      }
    });
  });
}
