/**
 * The attempts of a `connectSSE` connection: its request, made anew for
 * every attempt (a headers or body function is called each time), fetched
 * with a bound on the wait for the response head, and the response judged
 * as the standard judges it (`_connection_response.ts`).
 *
 * (Over ~150 lines by a little: one class whose checks, per-attempt build
 * and bounded fetch share the options it checked once.)
 *
 * @module
 */

import type { ConnectSSEInit } from "./client.ts";
import { checkNumber } from "./_backoff.ts";
import { deadline } from "./_connection_timers.ts";
import { END, type Outcome, processResponse } from "./_connection_response.ts";

/** What of `connectSSE`'s options makes its request. */
export type RequestOptions = Omit<
  ConnectSSEInit,
  | "lastEventId"
  | "reconnect"
  | "signal"
  | "onOpen"
  | "maxEventSize"
  | "hooks"
  | "logger"
>;

// Header values are byte strings: each character of the result is one byte
// of the id's UTF-8 encoding, which is what the standard sends and what
// `Headers` accepts, even for ids outside Latin-1.
function utf8HeaderValue(text: string): string {
  const bytes = new TextEncoder().encode(text);
  let value = "";
  for (let i = 0; i < bytes.length; i++) value += String.fromCharCode(bytes[i]);
  return value;
}

function isStream(body: unknown): body is ReadableStream<Uint8Array> {
  return typeof (body as ReadableStream | null)?.getReader === "function";
}

/** The request a connection sends, checked once and built per attempt. */
export class RequestTemplate {
  /** The URL, resolved as the `EventSource` constructor resolves it. */
  readonly url: string;
  /** The `idleTimeout` option, checked. */
  readonly idleTimeout: number | undefined;
  readonly #base: Request | undefined;
  readonly #method: string;
  readonly #headers: RequestOptions["headers"];
  readonly #body: RequestOptions["body"];
  // The rest of the options, given to every Request as they are.
  readonly #init: RequestInit;
  readonly #fetch: (input: Request) => Promise<Response>;
  readonly #headTimeout: number;
  readonly #headTimeoutName: string;

  constructor(input: string | URL | Request, options: RequestOptions) {
    const {
      method,
      headers,
      body,
      fetch = globalThis.fetch,
      idleTimeout,
      connectTimeout,
      ...init
    } = options;
    this.#base = input instanceof Request ? input : undefined;
    // Resolved now, as the EventSource constructor does, so a bad URL throws
    // here instead of failing every attempt; relative to the page in
    // browsers.
    try {
      this.url = this.#base?.url ?? new URL(
        String(input),
        (globalThis as { location?: { href: string } }).location?.href,
      ).href;
    } catch {
      throw new TypeError(
        `Invalid connectSSE URL: ${
          JSON.stringify(String(input))
        } is not an absolute URL (or relative to the page)`,
      );
    }
    if (typeof fetch !== "function") {
      throw new TypeError("connectSSE needs fetch: pass init.fetch");
    }
    if (isStream(body)) {
      throw new TypeError(
        "Invalid connectSSE body: a ReadableStream cannot be re-sent when reconnecting; pass a function that returns a fresh body",
      );
    }
    checkNumber("idleTimeout", idleTimeout, 1);
    checkNumber("connectTimeout", connectTimeout, 1);
    this.#method = method ?? this.#base?.method ?? "GET";
    this.#headers = headers;
    this.#body = body;
    this.#init = init;
    this.#fetch = fetch;
    this.idleTimeout = idleTimeout;
    // The head is bytes too: silence that idleTimeout calls dead is dead
    // before the head as well.
    this.#headTimeout = connectTimeout ?? idleTimeout ?? 30_000;
    this.#headTimeoutName = connectTimeout === undefined &&
        idleTimeout !== undefined
      ? "idleTimeout"
      : "connectTimeout";
  }

  // The request of one attempt, with `Last-Event-ID` when `lastEventId` is
  // not empty (§9.2.3, "reestablish the connection", step 5.3).
  async #build(lastEventId: string, signal: AbortSignal): Promise<Request> {
    const headers = this.#headers;
    const body = this.#body;
    const fresh = new Headers(this.#base?.headers);
    new Headers(typeof headers === "function" ? await headers() : headers)
      .forEach((value, name) => fresh.set(name, value));
    fresh.set("Accept", "text/event-stream");
    fresh.delete("Last-Event-ID");
    if (lastEventId !== "") {
      try {
        fresh.set("Last-Event-ID", utf8HeaderValue(lastEventId));
      } catch {
        // Some runtimes refuse control characters the Fetch standard
        // allows; resuming from the start beats never reconnecting.
      }
    }
    const content = typeof body === "function" ? await body() : body;
    return new Request(this.url, {
      cache: "no-store",
      ...this.#init,
      method: this.#method,
      headers: fresh,
      body: content as BodyInit | undefined,
      signal,
      ...(isStream(content) ? { duplex: "half" } : {}),
    } as RequestInit);
  }

  /**
   * Makes one attempt: builds the request, fetches it, and processes the
   * response as the `EventSource` constructor's step 15 does (§9.2.2), up
   * to what the connection is to do next; `retries` says which error
   * statuses are reestablished. Closing (`closed`) makes it `"end"`. A
   * throwing headers or body function throws: retrying would repeat the
   * same mistake unseen.
   */
  async open(
    lastEventId: string,
    closed: AbortSignal,
    retries: (status: number) => boolean,
  ): Promise<Outcome> {
    const attempt = new AbortController();
    const request = await this.#build(
      lastEventId,
      AbortSignal.any([closed, attempt.signal]),
    );
    if (closed.aborted) return END;
    let response: Response;
    try {
      response = await this.#fetchHead(request, attempt, closed);
    } catch (error) {
      // "Otherwise, if res is a network error, then reestablish the
      // connection, unless the user agent knows that to be futile."
      return closed.aborted ? END : { kind: "retry", error, opened: false };
    }
    return processResponse(response, this.url, closed, retries, attempt);
  }

  // Fetches `request` and resolves with the response once its head is in,
  // or rejects after the head timeout. Fetch has no such bound, but a user
  // agent may terminate a fetch, and a fetch terminated (not aborted by the
  // author) is a network error, after which the standard reestablishes the
  // connection. `attempt` is aborted so the socket is released, and the
  // wait ends even if a custom fetch ignores its signal; so does `closed`.
  #fetchHead(
    request: Request,
    attempt: AbortController,
    closed: AbortSignal,
  ): Promise<Response> {
    const ms = this.#headTimeout;
    return deadline(
      Promise.resolve(request).then(this.#fetch),
      ms,
      closed,
      () => {
        const error = new DOMException(
          `${this.url} sent no response head within ${ms} ms (${this.#headTimeoutName})`,
          "TimeoutError",
        );
        attempt.abort(error);
        return error;
      },
      (late) => late.body?.cancel().catch(() => {}),
    );
  }
}
