/**
 * The `response` of a hub: a topic as a `text/event-stream` response, or
 * the status that tells an `EventSource` to stop (`204`) or that there is
 * no such topic (`404`).
 *
 * @module
 */

import { createSSEStream, type SSEStreamOptions } from "./stream.ts";
import type { SSEEvent } from "./types.ts";
import { getLastEventId } from "./last_event_id.ts";
import type { SSEHooks, SSELogger } from "./hooks.ts";
import type { HubStore } from "./store.ts";
import { describe } from "./_checks.ts";
import type { Subscription } from "./_hub_subscription.ts";
import type {
  HubResponseOptions,
  HubSubscribeOptions,
} from "./_hub_options.ts";
import type { HubTopics } from "./_hub_topics.ts";
import { checkTopic } from "./_hub_checks.ts";

/** What a response needs of its hub. */
export interface ResponseHost {
  readonly store: HubStore;
  readonly topics: HubTopics;
  readonly hooks: SSEHooks | undefined;
  readonly logger: SSELogger;
  /** The logger as given: without it or hooks, streams keep their own. */
  readonly givenLogger: SSELogger | undefined;
  /** Whether `close()` was called. */
  readonly closed: boolean;
  /** Whether a run of `hub.relay` on `topic` is on this instance. */
  relaying(topic: string): boolean;
  subscribe(
    topic: string,
    options: HubSubscribeOptions,
  ): AsyncIterableIterator<SSEEvent>;
  closeRetry(): number;
}

/** `hub.response(request, topic, options)`. */
export async function hubResponse(
  host: ResponseHost,
  request: Request,
  topic: string,
  options: HubResponseOptions,
): Promise<Response> {
  const { missing = "wait", ...streamOptions } = options;
  if (host.closed) return closedResponse(host, request, streamOptions);
  checkTopic(topic);
  if (missing !== "wait" && missing !== "404") {
    throw new TypeError(
      `Invalid response option "missing": expected "wait" or "404", got ${
        describe(missing)
      }`,
    );
  }
  const lastEventId = getLastEventId(request) || undefined;
  const known = host.topics.get(topic);
  // Has the topic ended, and has this client all of it? Is it there at
  // all? The hub knows for a topic it tails; otherwise a read tells.
  // Headers the caller gave go on every answer (CORS among them), or a
  // browser takes a 204 or 404 for a network error and reconnects.
  const status = (code: number) =>
    new Response(null, { status: code, headers: options.headers });
  if (!known?.live || lastEventId !== undefined || missing === "404") {
    const { end, gap, entries, absent } = await host.store.read(
      topic,
      lastEventId ?? "",
      1,
    );
    if (
      end !== undefined &&
      (lastEventId === undefined || (!gap && entries.length === 0))
    ) return status(204);
    if (missing === "404" && absent && !host.relaying(topic)) {
      return status(404);
    }
  } else if (known.end !== undefined) return status(204);
  if (host.closed) return closedResponse(host, request, streamOptions);
  const subscription = host.subscribe(topic, { lastEventId });
  try {
    // Without hooks or a logger, the options are what they were before
    // either existed: each of thousands of streams keeps its own.
    if (host.hooks === undefined && host.givenLogger === undefined) {
      return createSSEStream(subscription, {
        signal: request.signal,
        ...streamOptions,
      });
    }
    return createSSEStream(subscription, {
      signal: request.signal,
      hooks: host.hooks &&
        streamHooks(
          host.hooks,
          subscription as Subscription,
          streamOptions.signal === undefined,
        ),
      logger: host.logger,
      ...streamOptions,
    });
  } catch (error) {
    subscription.return!();
    throw error;
  }
}

// After close(): only a jittered retry hint, so clients come back later.
function closedResponse(
  host: ResponseHost,
  request: Request,
  options: SSEStreamOptions,
): Response {
  return createSSEStream([{ retry: host.closeRetry() }], {
    signal: request.signal,
    ...options,
  });
}

// The hooks of a response's stream, made per response and only where the
// hub has hooks: a subscription ended for falling behind looks done to its
// stream, and is reported as "slow-consumer"; where the stream's signal is
// the request's, its abort is the client leaving (Deno and Bun abort it
// when the client disconnects).
function streamHooks(
  hooks: SSEHooks,
  subscription: Subscription,
  requestSignal: boolean,
): SSEHooks {
  const { onClose } = hooks;
  if (onClose === undefined) return hooks;
  const wrapped: SSEHooks = Object.create(hooks);
  wrapped.onClose = (info) =>
    onClose.call(
      hooks,
      info.reason === "done" && subscription.slow
        ? { ...info, reason: "slow-consumer" }
        : info.reason === "aborted" && requestSignal
        ? { ...info, reason: "client-left" }
        : info,
    );
  return wrapped;
}
