/**
 * What one attempt of a `connectSSE` connection comes to once its response
 * head is in: the `EventSource` constructor's processResponse (§9.2.2,
 * step 15), which opens, reestablishes or fails the connection.
 *
 * @module
 */

import { retryAfter } from "./_backoff.ts";
import { checkEventStream } from "./response_error.ts";

/**
 * What an attempt comes to, in the words of the standard: announce the
 * connection (`"open"`), reestablish it (`"retry"`; `opened` when it does
 * not count as a failed attempt), fail it (`"fail"`), or stop (`"end"`:
 * closed meanwhile, or a 204).
 */
export type Outcome =
  | {
    kind: "open";
    response: Response;
    body: ReadableStream<Uint8Array>;
    // Aborted when the body goes silent for idleTimeout.
    attempt: AbortController;
  }
  | {
    kind: "retry";
    error: unknown;
    opened: boolean;
    // What Retry-After asked for, in milliseconds.
    after?: number;
    status?: number;
  }
  | { kind: "fail"; error: unknown }
  | { kind: "end" };

/** Closed meanwhile, or told to stop. */
export const END: Outcome = { kind: "end" };

// The constructor's processResponse (§9.2.2, step 15) for a response that
// came: what the connection is to do with it.
export async function processResponse(
  response: Response,
  url: string,
  closed: AbortSignal,
  retries: (status: number) => boolean,
  attempt: AbortController,
): Promise<Outcome> {
  // "a client can be told to stop reconnecting using the HTTP 204 No
  // Content response code" (§9.2.3).
  if (closed.aborted || response.status === 204) {
    response.body?.cancel().catch(() => {});
    return END;
  }
  const error = await checkEventStream(response, url);
  if (closed.aborted) return END;
  if (error) {
    const { status } = response;
    // Opted into: a 408, 429 or 5xx reestablishes the connection.
    if (retries(status)) {
      const after = retryAfter(response);
      return { kind: "retry", error, opened: false, after, status };
    }
    // "Otherwise, if res's status is not 200, or if res's `Content-Type`
    // is not `text/event-stream`, then fail the connection."
    return { kind: "fail", error };
  }
  if (!response.body) {
    const error = new TypeError(
      `The event stream from ${url} has no body`,
    );
    return { kind: "retry", error, opened: true };
  }
  // "Otherwise, announce the connection and interpret res's body line by
  // line."
  return { kind: "open", response, body: response.body, attempt };
}
