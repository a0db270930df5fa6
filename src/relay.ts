/**
 * {@linkcode relaySSE}: forward an upstream event stream (an LLM API, another
 * service) to your own client, re-validated, re-encoded and cancellable.
 *
 * @module
 */

import { Interpreter } from "./parse.ts";
import { checkEventStream } from "./response_error.ts";
import { formatEvent, formatHead } from "./encode.ts";
import {
  createSSEStream,
  FORMATTED,
  type FormattedEvents,
  type SSEStreamOptions,
} from "./stream.ts";
import type { SSEEvent, SSEMessage } from "./types.ts";
import { isThenable } from "./describe.ts";

/** What `map` may turn one upstream message into. */
export type RelayMapResult =
  | SSEEvent
  | string
  | Iterable<SSEEvent | string>
  | void
  | undefined;

/**
 * The upstream: a `Response`, a promise of one, or (recommended) a function
 * that starts the request with the given signal, so the relay can abort it
 * when the client leaves.
 */
export type RelayUpstream =
  | Response
  | PromiseLike<Response>
  | ((signal: AbortSignal) => Response | PromiseLike<Response>);

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
}

function passThrough(message: SSEMessage): SSEEvent {
  return {
    event: message.type === "message" ? undefined : message.type,
    data: message.data,
    id: message.id,
  };
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
export function relaySSE(
  upstream: RelayUpstream,
  options: RelaySSEOptions = {},
): Response {
  const { map, timeout, ...streamOptions } = options;
  if (timeout !== undefined && !(timeout > 0)) {
    throw new RangeError(
      `Invalid timeout option: expected milliseconds > 0, got ${
        String(timeout)
      }`,
    );
  }
  return createSSEStream(async function* (signal) {
    const upstreamSignal = timeout === undefined
      ? signal
      : AbortSignal.any([signal, AbortSignal.timeout(timeout)]);
    const response = await (typeof upstream === "function"
      ? upstream(upstreamSignal)
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
      // parsed into messages nor formatted again. An event that keeps its
      // message's data takes the upstream's text of it (its tail) rather
      // than formatting the data again: the common map renames, drops or
      // re-tags events, and most of an event's text is its data.
      const messages: (SSEMessage | string)[] = [];
      const tails: (string | undefined)[] = [];
      const collect = (item: SSEMessage | string) => {
        messages.push(item);
        tails.push(typeof item === "string" ? undefined : interpreter.tail);
      };
      const interpreter = new Interpreter(
        undefined,
        collect,
        map ? undefined : collect,
      );
      interpreter.keepsTails = true;
      for (;;) {
        const { done, value } = await reader.read();
        if (done) {
          break;
        }
        interpreter.push(value);
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
            if (typeof result === "string" || !isEventList(result)) {
              const tail = tails[i];
              if (
                tail !== undefined && result !== null &&
                (typeof result === "string"
                  ? result === message.data
                  : typeof result === "object" &&
                    result.data === message.data)
              ) {
                if (typeof result === "object") {
                  text += formatHead(result);
                }
                text += tail;
              } else {
                text += formatEvent(result, streamOptions);
              }
            } else {
              for (const event of result) {
                text += formatEvent(event, streamOptions);
              }
            }
          }
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
