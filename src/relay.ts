/**
 * {@linkcode relaySSE}: forward an upstream event stream (an LLM API, another
 * service) to your own client, re-validated, re-encoded and cancellable.
 *
 * @module
 */

import { RelayReader } from "./relay/_verbatim.ts";
import { checkEventStream } from "./response_error.ts";
import { formatEvent, formatHead } from "./encode.ts";
import {
  createSSEStream,
  FORMATTED,
  type FormattedEvents,
  type SSEStreamOptions,
} from "./stream.ts";
import type { SSEEvent, SSEMessage } from "./types.ts";
import { checkOption, isPositive, isThenable } from "./_checks.ts";
import {
  checkEvents,
  jsonEvent,
  type SSEEventMap,
  type SSEEvents,
  type TypedSSEEvent,
} from "./events.ts";

/** What `map` may turn one upstream message into. */
export type RelayMapResult<E = SSEEvent | string> =
  | E
  | Iterable<E>
  | void
  | undefined;

/** What a function upstream is told besides its signal. */
export interface RelayUpstreamContext {
  /**
   * The id the client resumes from (the relay's `lastEventId` option, `""`
   * for none): send it upstream as `Last-Event-ID` to resume there too.
   */
  lastEventId: string;
}

/**
 * The upstream: a `Response`, a promise of one, or (recommended) a function
 * that starts the request with the given signal, so the relay can abort it
 * when the client leaves, and with the id the client resumes from.
 */
export type RelayUpstream =
  | Response
  | PromiseLike<Response>
  | ((
    signal: AbortSignal,
    context: RelayUpstreamContext,
  ) => Response | PromiseLike<Response>);

/** Options for {@linkcode relaySSE}: those of `createSSEStream`, plus these. */
export interface RelaySSEOptions extends SSEStreamOptions {
  /**
   * Turns each upstream message into the events to send: one event (or a
   * string), several (an array or other iterable), or nothing to drop it;
   * sync or async. Without it, messages pass through with their type, data
   * and id.
   */
  map?: (
    message: SSEMessage,
  ) => RelayMapResult | PromiseLike<RelayMapResult>;
  /**
   * Milliseconds the whole relay may take; then the upstream request is
   * aborted and the client gets the error event.
   */
  timeout?: number;
  /**
   * The id the client resumes from, usually `getLastEventId(request)`: it
   * is handed to a function upstream, and it is where the relay's tracking
   * of the client's last event id starts (see {@linkcode relaySSE}).
   * @default {""}
   */
  lastEventId?: string;
}

function passThrough(message: SSEMessage): SSEEvent {
  return {
    event: message.type === "message" ? undefined : message.type,
    data: message.data,
    id: message.id,
  };
}

// A `retry` field as the upstream sent it (ASCII digits only: the parser
// passes on no other). Past 2^53 the number is no longer exact, and the
// largest exact one says the same: wait very long.
function retryLine(ms: number): string {
  return `retry: ${Math.min(ms, Number.MAX_SAFE_INTEGER)}\n`;
}

/**
 * The last event id a mapped relay's client holds. An event the map gives
 * an id of its own sets it; any other event carries the upstream's id where
 * the client holds another. Where the upstream's id moves with no event
 * (an id-only block, or a message the map dropped), an id-only block
 * brings the client along.
 */
class ClientIds {
  /** The client's last event id. */
  held: string;
  /** The upstream's last event id as of the last event sent. */
  seen: string;

  constructor(start: string) {
    this.held = this.seen = start;
  }

  /** The event to send for a message whose last event id is `upstream`. */
  give<E extends SSEEvent | string>(event: E, upstream: string): E | SSEEvent {
    this.seen = upstream;
    const id = typeof event === "object" && event !== null
      ? event.id
      : undefined;
    if (id !== undefined) {
      this.held = String(id);
      return event;
    }
    if (upstream === this.held) return event;
    this.held = upstream;
    return typeof event === "string"
      ? { data: event, id: upstream }
      : { ...event as SSEEvent, id: upstream };
  }

  /** An id-only block when the upstream's id moved with no event. */
  settle(upstream: string): string {
    if (upstream === this.seen) return "";
    this.held = this.seen = upstream;
    return formatEvent({ id: upstream });
  }
}

// The text of `event`, made of `message`. One that keeps the message's data
// takes the upstream's text of it, its tail (see RelayReader), when there
// is one, rather than formatting the data again: the common map renames,
// drops or re-tags events, and most of an event's text is its data.
function eventText(
  event: SSEEvent | string,
  message: SSEMessage,
  tail: string | undefined,
  options: SSEStreamOptions,
): string {
  if (tail !== undefined) {
    if (typeof event === "string") {
      if (event === message.data) return tail;
    } else if (
      typeof event === "object" && event !== null &&
      event.data === message.data
    ) {
      return formatHead(event) + tail;
    }
  }
  return formatEvent(event, options);
}

// A typed map's result with its events' data as JSON.
function jsonResult(
  result: SSEEvent | string | Iterable<SSEEvent | string>,
): SSEEvent | SSEEvent[] {
  if (typeof result === "string" || !isEventList(result)) {
    return jsonEvent(result as SSEEvent | string);
  }
  return Array.from(result, jsonEvent);
}

// One item carrying many already validated events (see FORMATTED).
function batch(text: string): SSEEvent {
  return { [FORMATTED]: text } as FormattedEvents as SSEEvent;
}

function isEventList(value: unknown): value is Iterable<SSEEvent | string> {
  return typeof value === "object" && value !== null &&
    typeof (value as Iterable<unknown>)[Symbol.iterator] === "function";
}

/**
 * Relays an upstream `text/event-stream` response to a client as a new SSE
 * `Response`: each upstream message is parsed (spec-exact), optionally
 * mapped, validated and re-encoded through `createSSEStream`, with its
 * keep-alive, backpressure and headers.
 *
 * - **Cancellation flows upstream:** when the client disconnects (or
 *   `signal` aborts), the upstream request is aborted — pass a function
 *   `(signal) => fetch(url, { signal })` so the relay owns that signal — and
 *   the upstream body is cancelled.
 * - **Resumes like a direct stream:** the upstream's `retry` fields and
 *   ids reach the client, so it holds the upstream's last event id at every
 *   event (also after an id-only block, and after a message `map` dropped),
 *   and a function upstream gets the client's `lastEventId` to send on.
 * - **Failures are visible:** a non-200 status or wrong content type
 *   upstream (an `SSEResponseError`), a network error, a body cut mid-stream
 *   or the `timeout` end the stream with the event `onError` returns (by
 *   default `event: error` with a generic message; nothing of the upstream
 *   body or stack is leaked).
 *
 * @example Forwarding only the token deltas of an OpenAI-style stream
 * ```ts ignore
 * import { relaySSE } from "@ssekit/ssekit";
 *
 * Deno.serve((request) =>
 *   relaySSE((signal) =>
 *     fetch("https://api.example.com/v1/chat/completions", {
 *       method: "POST",
 *       headers: { "Content-Type": "application/json" },
 *       body: JSON.stringify({ stream: true, messages: [] }),
 *       signal,
 *     }), {
 *     signal: request.signal,
 *     map: (message) => {
 *       if (message.data === "[DONE]") return { event: "done", data: "" };
 *       const token = JSON.parse(message.data).choices[0]?.delta?.content;
 *       return token ? { data: token } : undefined;
 *     },
 *   })
 * );
 * ```
 *
 * @param upstream The upstream response, a promise of it, or a function
 * that makes the request with the relay's signal.
 * @param options `map`, `timeout`, and the `createSSEStream` options.
 * @returns The SSE `Response` to send to the client.
 * @throws {TypeError|RangeError} As `createSSEStream` does for bad options,
 * and `RangeError` for a bad `timeout`.
 */
export function relaySSE<M extends SSEEventMap>(
  upstream: RelayUpstream,
  options: Omit<RelaySSEOptions, "map"> & {
    /** The stream's events (`defineEvents`): the map's are checked. */
    events: SSEEvents<M>;
    /** As {@linkcode RelaySSEOptions.map}, returning the map's events. */
    map: (
      message: SSEMessage,
    ) =>
      | RelayMapResult<TypedSSEEvent<M>>
      | PromiseLike<RelayMapResult<TypedSSEEvent<M>>>;
  },
): Response;
/**
 * Relays an upstream stream, untyped: see the typed form above.
 *
 * @param upstream The upstream response, a promise of it, or a function
 * that makes the request.
 * @param options `map`, `timeout`, `lastEventId` and the `createSSEStream`
 * options.
 * @returns The SSE `Response` to send to the client.
 */
export function relaySSE(
  upstream: RelayUpstream,
  options?: RelaySSEOptions,
): Response;
export function relaySSE(
  upstream: RelayUpstream,
  options: RelaySSEOptions & { events?: SSEEvents<SSEEventMap> } = {},
): Response {
  const { map, timeout, lastEventId = "", events, ...streamOptions } = options;
  checkEvents(events, "relaySSE");
  // A typed relay sends its map's events with JSON data; without a map,
  // the upstream's data goes as it came.
  const typed = events !== undefined && map !== undefined;
  checkOption(
    timeout === undefined || isPositive(timeout),
    "relaySSE",
    "timeout",
    "milliseconds > 0",
    timeout,
    RangeError,
  );
  checkOption(
    typeof lastEventId === "string",
    "relaySSE",
    "lastEventId",
    "a string",
    lastEventId,
  );
  return createSSEStream(async function* (signal) {
    const upstreamSignal = timeout === undefined
      ? signal
      : AbortSignal.any([signal, AbortSignal.timeout(timeout)]);
    const response = await (typeof upstream === "function"
      ? upstream(upstreamSignal, { lastEventId })
      : upstream);
    let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
    // A Response given as is has a request we cannot abort: cancelling its
    // body is what is left.
    const cancelBody = () =>
      (reader ?? response.body)?.cancel().catch(() => {});
    upstreamSignal.addEventListener("abort", cancelBody);
    try {
      if (response.status === 204 || !response.body) {
        return void cancelBody();
      }
      const error = await checkEventStream(response, response.url);
      if (error) {
        throw error;
      }
      reader = response.body.getReader();
      // Each upstream chunk is parsed at once and its messages mapped
      // without a promise apiece: the relay keeps pace with the bytes.
      // Without a map, events already in the form passThrough then
      // formatEvent would give come as their text (a string here), neither
      // parsed into messages nor formatted again (see RelayReader), and so
      // do the lines that change the client's state without an event:
      // `retry`, and an id-only block.
      const messages: (SSEMessage | string)[] = [];
      const tails: (string | undefined)[] = [];
      const collect = (item: SSEMessage | string, tail?: string) => {
        messages.push(item);
        tails.push(tail);
      };
      // Ids (WHATWG "dispatch the event", step 1): a client of the relay
      // must hold the upstream's last event id at each event, as a client
      // of the upstream would, or it resumes from the wrong one. Passed
      // through, every change of it is forwarded where it happens. Mapped,
      // messages may be dropped and events renamed, so the relay tracks the
      // id its client holds (see ClientIds).
      const ids = map ? new ClientIds(lastEventId) : undefined;
      const parser = new RelayReader(
        {
          lastEventId,
          onRetry: (ms) =>
            collect(retryLine(ms)),
        },
        {
          message: collect,
          verbatim: map ? undefined : collect,
          idOnly: ids ? undefined : (id) => collect(formatEvent({ id })),
        },
      );
      for (;;) {
        const { done, value } = await reader.read();
        if (done) {
          break;
        }
        parser.push(value);
        let text = "";
        try {
          for (let i = 0; i < messages.length; i++) {
            const message = messages[i];
            if (typeof message === "string") {
              text += message;
              continue;
            }
            let result = map ? map(message) : passThrough(message);
            if (isThenable(result)) {
              // Nothing waits on a slow map: what is ready goes out first.
              if (text !== "") {
                yield batch(text);
              }
              text = "";
              result = await result;
            }
            if (result === undefined) {
              continue;
            }
            if (typed) result = jsonResult(result)!;
            if (typeof result === "string" || !isEventList(result)) {
              const event = ids
                ? ids.give(result, message.lastEventId)
                : result;
              text += eventText(event, message, tails[i], streamOptions);
            } else {
              for (let event of result) {
                if (ids) event = ids.give(event, message.lastEventId);
                text += formatEvent(event, streamOptions);
              }
            }
          }
          if (ids) text += ids.settle(parser.lastEventId);
        } finally {
          // Events before a failing one are sent; the failure then ends
          // the stream through onError.
          messages.length = tails.length = 0;
          if (text !== "") {
            yield batch(text);
          }
        }
      }
      // A cancelled body ends like a finished one; only the signal tells.
      if (upstreamSignal.aborted && !signal.aborted) {
        throw upstreamSignal.reason;
      }
    } finally {
      upstreamSignal.removeEventListener("abort", cancelBody);
      cancelBody();
    }
  }, streamOptions);
}
