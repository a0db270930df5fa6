/**
 * `ssekit/mcp`: resumable MCP streams on a {@linkcode HubStore} (memory,
 * Redis, or any store of your own), for the Streamable HTTP server
 * transport of `@modelcontextprotocol/sdk`.
 *
 * {@linkcode mcpEventStore} is the SDK's `EventStore`: the transport keeps
 * every message it sends on an SSE stream there, and a client whose
 * connection dropped comes back with `Last-Event-ID` and gets exactly what
 * it missed. Each MCP stream is a hub topic (`<prefix><session>/<stream>`)
 * and each message one record, so with `redisStore` every instance sees
 * every stream.
 *
 * Across instances, the transport alone is not enough: the SDK keeps a
 * session (and the stream a tool writes to) in the transport object of the
 * instance that started it, and answers a resume only there.
 * {@linkcode McpEventStore.resume} answers it on any instance instead: it
 * replays the stream from the store and then follows it live, through a
 * hub (`createHub`) on the same store, until the stream's JSON-RPC response
 * has gone out, however long the tool on the other instance still runs.
 *
 * It needs `@modelcontextprotocol/sdk` (an optional peer dependency of
 * ssekit) for its types only; nothing else in ssekit refers to it.
 *
 * @example Two or more instances sharing one Redis
 * ```ts ignore
 * // Not run as a doctest: it needs your McpServer and serves on port 3000.
 * // tests/mcp.test.ts runs this wiring with two instances ("stateful:
 * // dropped on A, resumed on B").
 * import { createServer } from "node:http";
 * import { randomUUID } from "node:crypto";
 * import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
 * import { createHub } from "@ssekit/ssekit";
 * import { toNodeListener } from "@ssekit/ssekit/node";
 * import { redisStore } from "@ssekit/ssekit/redis";
 * import { mcpEventStore } from "@ssekit/ssekit/mcp";
 * import { makeServer } from "./server.ts"; // your McpServer
 *
 * const store = redisStore({ redis: process.env.REDIS_URL });
 * const hub = createHub({ store });
 * const sessions = new Map<string, StreamableHTTPServerTransport>();
 *
 * // Resumes are answered from the store, on whichever instance they reach.
 * const resume = toNodeListener((request) =>
 *   mcpEventStore(store, {
 *     session: request.headers.get("mcp-session-id") ?? undefined,
 *   }).resume(request, { hub })
 * );
 *
 * createServer(async (req, res) => {
 *   if (req.method === "GET" && req.headers["last-event-id"]) return resume(req, res);
 *   const id = req.headers["mcp-session-id"] as string | undefined;
 *   let transport = id ? sessions.get(id) : undefined;
 *   if (!transport && !id) {
 *     const session = randomUUID();
 *     transport = new StreamableHTTPServerTransport({
 *       sessionIdGenerator: () => session,
 *       eventStore: mcpEventStore(store, { session }),
 *       onsessioninitialized: () => void sessions.set(session, transport!),
 *     });
 *     await makeServer().connect(transport);
 *   }
 *   if (!transport) return void res.writeHead(404).end();
 *   await transport.handleRequest(req, res);
 * }).listen(3000);
 * ```
 *
 * (Over ~150 lines: two thirds of it is the public types' documentation;
 * the names of topics and event ids are in `mcp/_ids.ts`, the resume in
 * `mcp/_resume.ts`.)
 *
 * @module
 */

import type { EventStore } from "@modelcontextprotocol/sdk/server/webStandardStreamableHttp";
import { checkOption, describe } from "./_checks.ts";
import type { FormatEventOptions } from "./encode.ts";
import type {
  HubEntry,
  HubLeaseState,
  HubReadResult,
  HubRecord,
  HubStore,
  HubTailHandler,
} from "./store.ts";
import type { SSEStreamOptions } from "./stream.ts";
import type { SSEEvent } from "./types.ts";
import { encodeId, mcpIds } from "./mcp/_ids.ts";
import { resume } from "./mcp/_resume.ts";

// Re-exported so this module documents on its own (deno doc --lint). The
// SDK's own types stay out of the public API: they are checked against it
// below, and ssekit/mcp's declarations need no SDK to be installed.
export type {
  FormatEventOptions,
  HubEntry,
  HubLeaseState,
  HubReadResult,
  HubRecord,
  HubStore,
  HubTailHandler,
  SSEEvent,
  SSEStreamOptions,
};

/**
 * A JSON-RPC message as the MCP SDK's transport hands it to an event store
 * (its `JSONRPCMessage`: a request, a notification or a response), or the
 * empty object of its priming event.
 *
 * @example A progress notification
 * ```ts
 * import type { McpMessage } from "@ssekit/ssekit/mcp";
 *
 * const message: McpMessage = {
 *   jsonrpc: "2.0",
 *   method: "notifications/progress",
 *   params: { progressToken: 1, progress: 3, total: 10 },
 * };
 * ```
 */
export type McpMessage = Readonly<Record<string, unknown>>;

/**
 * What {@linkcode McpEventStore.resume} needs of a hub: its `subscribe`.
 * Every hub from `createHub` is one.
 *
 * @example The hub of the event store's store
 * ```ts
 * import { createHub, memoryStore } from "@ssekit/ssekit";
 * import type { McpHub } from "@ssekit/ssekit/mcp";
 *
 * const store = memoryStore();
 * const hub: McpHub = createHub({ store });
 * ```
 */
export interface McpHub {
  /**
   * Subscribes to a topic after `lastEventId`: the history after it, then
   * live events, each once, in order (see `Hub.subscribe`).
   */
  subscribe(
    topic: string,
    options?: { lastEventId?: string; signal?: AbortSignal },
  ): AsyncIterableIterator<SSEEvent>;
}

/**
 * Options for {@linkcode mcpEventStore}: whose streams it keeps, and under
 * which topics.
 *
 * @example The event store of one session
 * ```ts
 * import type { McpEventStoreOptions } from "@ssekit/ssekit/mcp";
 *
 * const options: McpEventStoreOptions = {
 *   session: crypto.randomUUID(),
 *   prefix: "mcp:",
 * };
 * ```
 */
export interface McpEventStoreOptions {
  /**
   * The MCP session whose streams this store keeps (its `Mcp-Session-Id`).
   * Topics are scoped to it, so an event id of one session replays nothing
   * in another, including for the standalone GET stream, whose stream id
   * (`_GET_stream`) the SDK gives every session. Give one store per
   * session, as the SDK's examples do with their in-memory store.
   *
   * Without a session (stateless servers), request streams, whose ids the
   * SDK draws at random, are kept under their id alone; messages of the
   * standalone stream are still sent live but not kept, and carry no id.
   */
  session?: string;
  /** Prepended to every topic, to keep MCP streams apart from other topics. @default {"mcp:"} */
  prefix?: string;
}

/**
 * Options for {@linkcode McpEventStore.resume}: the hub that follows the
 * stream live, and the options of the `text/event-stream` response.
 *
 * @example Resuming with a longer keep-alive interval
 * ```ts
 * import { createHub, memoryStore } from "@ssekit/ssekit";
 * import type { McpResumeOptions } from "@ssekit/ssekit/mcp";
 *
 * const hub = createHub({ store: memoryStore() });
 * const options: McpResumeOptions = { hub, keepAlive: 15_000 };
 * ```
 */
export interface McpResumeOptions extends SSEStreamOptions {
  /**
   * A hub on the same store as the event store: it tails the stream's
   * topic, so messages another instance keeps after the replay reach this
   * client too.
   */
  hub: McpHub;
}

/**
 * The SDK's `EventStore` on a {@linkcode HubStore}, made by
 * {@linkcode mcpEventStore}; {@linkcode McpEventStore.resume} answers a
 * resume on any instance.
 *
 * @example Resumability for one session's transport
 * ```ts
 * import assert from "node:assert/strict";
 * // For Deno only: the SDK's exports give no types to paths ending in .js.
 * // @ts-types="@modelcontextprotocol/sdk/server/streamableHttp"
 * import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
 * import { memoryStore } from "@ssekit/ssekit";
 * import { mcpEventStore, type McpEventStore } from "@ssekit/ssekit/mcp";
 *
 * const session = crypto.randomUUID();
 * const eventStore: McpEventStore = mcpEventStore(memoryStore(), { session });
 * const transport = new StreamableHTTPServerTransport({
 *   sessionIdGenerator: () => session,
 *   eventStore,
 * });
 * assert.equal(eventStore.session, session);
 * await transport.close();
 * ```
 */
export interface McpEventStore {
  /** The session given to {@linkcode mcpEventStore}, if any. */
  readonly session: string | undefined;
  /**
   * Appends `message` to the stream's topic and resolves to its event id,
   * `<stream>/<store id>` (the stream id percent-encoded), which names the
   * stream, so any instance finds it from the id alone. A JSON-RPC
   * response ends its stream's topic: nothing follows it in a stream.
   *
   * @throws {TypeError} (as a rejection) When `streamId` is not a
   * non-empty string or too long for a topic, or `message` is not an
   * object; the store's error when it fails.
   */
  storeEvent(streamId: string, message: McpMessage): Promise<string>;
  /**
   * The stream an event id belongs to, or `undefined` when the id is not
   * one of this store's (malformed, another session's, another kind of id)
   * or no longer in its stream's history (trimmed by `max`, expired by
   * `ttl`). The transport then answers the resume `400 Bad Request`
   * ("Invalid event ID format") and replays nothing.
   */
  getStreamIdForEventId(eventId: string): Promise<string | undefined>;
  /**
   * Sends, oldest first, every message the stream kept after `lastEventId`
   * (what was kept when it ran: the transport delivers later ones), and
   * resolves to the stream id.
   *
   * @throws {TypeError} (as a rejection) When `lastEventId` is not one of
   * this store's ids.
   * @throws {RangeError} (as a rejection) When it is no longer in its
   * stream's history: the messages after it are lost, so none is sent.
   */
  replayEventsAfter(
    lastEventId: string,
    options: {
      send: (eventId: string, message: McpMessage) => Promise<void>;
    },
  ): Promise<string>;
  /**
   * Answers a resume (`GET` with `Last-Event-ID`) of one of this session's
   * streams, on any instance: the messages kept after the id, then the
   * stream's later messages as they are kept, in the transport's format
   * (`event: message`, the event id, the JSON message), until its
   * response, after which the response ends. A client of protocol
   * 2025-11-25 or later first gets the id it resumed from as a priming
   * event (no data), so a second drop before any message resumes from
   * the same place.
   *
   * It answers (as the SDK's transport does, with a JSON-RPC error body)
   * `400` without a `Last-Event-ID`, or with one that is not this store's
   * or no longer in history; `404` when the request's `Mcp-Session-Id` is
   * not the store's session; `204 No Content`, which stops the client,
   * when the client already has the stream's response. Should history
   * lose messages while the stream is followed, the response ends
   * without them, and the client's next resume gets the `400`.
   *
   * @throws {TypeError} (as a rejection) When `options.hub` is not a hub,
   * or a stream option is invalid.
   */
  resume(request: Request, options: McpResumeOptions): Promise<Response>;
}

/** The stream id the SDK's transport gives the standalone GET stream. */
const STANDALONE_STREAM = "_GET_stream";
/** Entries per read when replaying. */
const PAGE = 100;

function isResponse(message: McpMessage): boolean {
  return "id" in message && ("result" in message || "error" in message);
}

/**
 * The SDK's `EventStore` (for `StreamableHTTPServerTransport` and
 * `WebStandardStreamableHTTPServerTransport` of `@modelcontextprotocol/sdk`)
 * on a {@linkcode HubStore}: resumable MCP streams in memory, in Redis, in
 * any store a hub can use.
 *
 * - **Topics**: each MCP stream is the topic
 *   `<prefix><session>/<stream>` (both ids percent-encoded), and each
 *   message one record whose data is the JSON message. The store's history
 *   bounds apply per stream: a client can resume while its place is among
 *   the last `max` messages and younger than `ttl`.
 * - **Event ids** are `<stream>/<store id>`: unique across the session's
 *   streams, and enough for any instance to find the topic.
 * - **Replay** sends exactly the messages after the id, once each, in
 *   order. An id that is malformed, another session's, or no longer in
 *   history replays nothing: `getStreamIdForEventId` reports it unknown,
 *   so the transport answers `400`.
 * - **Ends**: a JSON-RPC response is the last message of its stream, and
 *   ends the topic (the store refuses appends to it until it expires).
 *   Only a JSON-RPC batch, which protocol versions since 2025-06-18 no
 *   longer allow, has more than one response on a stream: the later ones
 *   are sent live with the id of the first, and are not kept.
 *
 * Give the transport of each session its own event store (they are cheap:
 * a few strings); with a store shared by instances, answer resumes with
 * {@linkcode McpEventStore.resume} and they work on any instance.
 *
 * @example A session's event store, replaying what a dropped client missed
 * ```ts
 * import assert from "node:assert/strict";
 * import { memoryStore } from "@ssekit/ssekit";
 * import { mcpEventStore, type McpMessage } from "@ssekit/ssekit/mcp";
 *
 * const events = mcpEventStore(memoryStore(), { session: "3b9d…" });
 * const first = await events.storeEvent("stream-1", {
 *   jsonrpc: "2.0",
 *   method: "notifications/progress",
 *   params: { progressToken: 1, progress: 1 },
 * });
 * await events.storeEvent("stream-1", { jsonrpc: "2.0", id: 1, result: {} });
 * const replayed: McpMessage[] = [];
 * await events.replayEventsAfter(first, {
 *   send: async (_id, message) => void replayed.push(message),
 * });
 * assert.deepEqual(replayed, [{ jsonrpc: "2.0", id: 1, result: {} }]); // the response
 * ```
 *
 * @param store Where the streams are kept; share it between instances
 * (`redisStore`) to resume on any of them.
 * @param options The session, and the topics' prefix.
 * @returns The event store, for the transport's `eventStore` option.
 * @throws {TypeError} When `store` is not a {@linkcode HubStore}, or
 * `session` or `prefix` is not a string (or too long for a topic).
 */
export function mcpEventStore(
  store: HubStore,
  options: McpEventStoreOptions = {},
): McpEventStore {
  for (const method of ["append", "read"] as const) {
    if (typeof store?.[method] !== "function") {
      throw new TypeError(
        `Invalid mcpEventStore store: expected a HubStore (memoryStore(), redisStore(), …), got ${
          describe(store)
        }`,
      );
    }
  }
  const { session } = options;
  const ids = mcpIds(session, options.prefix);
  const { topicOf, parse, idOf } = ids;

  const events: McpEventStore = {
    session,

    async storeEvent(streamId, message) {
      if (typeof streamId !== "string" || !streamId) {
        throw new TypeError(
          `Invalid MCP stream id: expected a non-empty string, got ${
            describe(streamId)
          }`,
        );
      }
      if (typeof message !== "object" || message === null) {
        throw new TypeError(
          `Invalid MCP message: expected a JSON-RPC message object, got ${
            describe(message)
          }`,
        );
      }
      // Without a session, the standalone stream's name is every
      // transport's: what one kept, another client could replay.
      if (session === undefined && streamId === STANDALONE_STREAM) return "";
      const encoded = encodeId(streamId, "stream id");
      const topic = topicOf(encoded);
      // The transport's priming event is an empty message: kept as a
      // record without data, so its id is a place to resume from.
      const record = Object.keys(message).length === 0
        ? {}
        : isResponse(message) && streamId !== STANDALONE_STREAM
        ? { data: JSON.stringify(message), end: true as const }
        : { data: JSON.stringify(message) };
      try {
        return idOf(encoded, await store.append(topic, record));
      } catch (error) {
        // A batch's later responses: the stream ended with its first one.
        if (error instanceof TypeError) {
          const { end } = await store.read(topic, "", 1);
          if (end !== undefined) return idOf(encoded, end);
        }
        throw error;
      }
    },

    async getStreamIdForEventId(eventId) {
      const parsed = parse(eventId);
      if (parsed === undefined) return undefined;
      const { gap, absent } = await store.read(
        topicOf(parsed.encoded),
        parsed.entry,
        1,
      );
      return gap || absent ? undefined : parsed.stream;
    },

    async replayEventsAfter(lastEventId, { send }) {
      const parsed = parse(lastEventId);
      if (parsed === undefined) {
        throw new TypeError(
          `Cannot replay after ${
            describe(lastEventId)
          }: not an event id of this MCP event store (expected "<stream>/<id>" of ${
            session === undefined
              ? "a stateless store"
              : `session ${JSON.stringify(session)}`
          })`,
        );
      }
      checkOption(
        typeof send === "function",
        "replayEventsAfter",
        "send",
        "a function",
        send,
      );
      const topic = topicOf(parsed.encoded);
      let cursor = parsed.entry;
      for (let first = true;; first = false) {
        const page = await store.read(topic, cursor, PAGE);
        // Later pages too: entries trimmed between two reads are lost.
        if (page.gap || (first && page.absent)) {
          throw new RangeError(
            `Cannot replay after event id ${
              JSON.stringify(lastEventId)
            }: it is no longer in the history of stream ${
              JSON.stringify(parsed.stream)
            } (trimmed by max, expired by ttl, or never kept), so the messages after it are lost`,
          );
        }
        // Done only when a read finds nothing new, and then at once: the
        // transport sends live only once this resolves, so a message kept
        // while `send` was awaited must come from here, and one kept after
        // this last read can only be kept in a later task, when it will.
        if (page.entries.length === 0) return parsed.stream;
        for (const entry of page.entries) {
          if (entry.data === undefined) continue;
          await send(idOf(parsed.encoded, entry.id), JSON.parse(entry.data));
        }
        if (page.entries.at(-1)?.end) return parsed.stream;
        cursor = page.cursor;
      }
    },

    resume: (request, resumeOptions) =>
      resume(store, session, ids, request, resumeOptions),
  };
  // The SDK's transports take it as their EventStore.
  return events satisfies EventStore;
}
