/**
 * `McpEventStore.resume` (internal to `ssekit/mcp`): a resume
 * answered on any instance, from the store's history and then a hub's
 * subscription to the stream's topic, in the transport's format.
 *
 * @module
 */

import type { HubEntry, HubStore } from "../store.ts";
import { getLastEventId } from "../last_event_id.ts";
import { checkOption } from "../_checks.ts";
import { createSSEStream } from "../stream.ts";
import type { SSEEvent } from "../types.ts";
import type { McpResumeOptions } from "../mcp.ts";
import type { McpIds } from "./_ids.ts";

/** The first protocol version whose clients take events without data. */
const PRIMING_VERSION = "2025-11-25";

/** A JSON-RPC error response, as the SDK's transport answers HTTP errors. */
function jsonRpcError(
  status: number,
  message: string,
  headers?: HeadersInit,
): Response {
  const merged = new Headers(headers);
  merged.set("content-type", "application/json");
  return new Response(
    JSON.stringify({
      jsonrpc: "2.0",
      error: { code: status === 404 ? -32001 : -32000, message },
      id: null,
    }),
    { status, headers: merged },
  );
}

/** Answers `request`, a resume of one of `session`'s streams in `store`. */
export async function resume(
  store: HubStore,
  session: string | undefined,
  ids: McpIds,
  request: Request,
  options: McpResumeOptions,
): Promise<Response> {
  const { hub, ...streamOptions } = options ?? {} as McpResumeOptions;
  checkOption(
    typeof hub?.subscribe === "function",
    "resume",
    "hub",
    "a Hub (createHub({ store })) on the event store's store",
    hub,
  );
  const headers = streamOptions.headers;
  const requestSession = request.headers.get("mcp-session-id") ?? undefined;
  if (requestSession !== session) {
    return jsonRpcError(404, "Session not found", headers);
  }
  const lastEventId = getLastEventId(request);
  if (!lastEventId) {
    return jsonRpcError(
      400,
      "Bad Request: a resume needs the Last-Event-ID header",
      headers,
    );
  }
  const parsed = ids.parse(lastEventId);
  if (parsed === undefined) {
    return jsonRpcError(400, "Invalid event ID format", headers);
  }
  const topic = ids.topicOf(parsed.encoded);
  const { gap, absent, end, entries } = await store.read(
    topic,
    parsed.entry,
    1,
  );
  if (gap || absent) {
    return jsonRpcError(
      400,
      "Invalid event ID: no longer in the stream's history",
      headers,
    );
  }
  if (end !== undefined && entries.length === 0) {
    return new Response(null, { status: 204, headers });
  }
  const responseHeaders = new Headers(headers);
  if (session !== undefined) responseHeaders.set("mcp-session-id", session);
  const version = request.headers.get("mcp-protocol-version") ?? "";
  const priming = version >= PRIMING_VERSION;
  return createSSEStream(
    (signal) =>
      follow(
        hub.subscribe(topic, { lastEventId: parsed.entry, signal }),
        (entry) => ids.idOf(parsed.encoded, entry),
        priming ? lastEventId : undefined,
      ),
    { signal: request.signal, ...streamOptions, headers: responseHeaders },
  );
}

/**
 * The stream's messages from a hub subscription, as the transport writes
 * them, until the topic ends (after the response) or loses history.
 */
async function* follow(
  subscription: AsyncIterableIterator<SSEEvent>,
  idOf: (entry: string) => string,
  priming: string | undefined,
): AsyncGenerator<SSEEvent> {
  try {
    if (priming !== undefined) yield { id: priming, data: "" };
    for await (const event of subscription as AsyncIterable<HubEntry>) {
      if (event.id === undefined) {
        // The hub is closing: its retry hint sends the client elsewhere.
        if (event.data === undefined) {
          yield { retry: event.retry };
          continue;
        }
        // A reset: messages were lost. Ending here, without it, makes the
        // client resume from its last id, which history no longer has, so
        // it is told (400) instead of taking what follows for all it missed.
        return;
      }
      if (event.data === undefined) continue; // a priming record
      yield { event: "message", id: idOf(event.id), data: event.data };
    }
  } finally {
    await subscription.return?.();
  }
}
