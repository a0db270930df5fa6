/**
 * {@linkcode connectSSE}: a fetch-based, reconnecting `EventSource` for code
 * that needs what `EventSource` cannot do: any method, a request body,
 * headers (fresh on every connect), a custom `fetch`, and an async iterator
 * instead of callbacks.
 *
 * It follows the processing model of the WHATWG HTML standard's
 * `EventSource` (§9.2): what counts as an open connection, when to
 * reconnect, the `Last-Event-ID` header, and the `retry` field.
 *
 * @module
 */

import { EventStreamInterpreter } from "./parse.ts";
import { checkEventStream } from "./response_error.ts";
import type { SSEMessage } from "./types.ts";
import {
  checkEvents,
  decodeMessages,
  type SSEEventMap,
  type TypedReadOptions,
  type TypedSSEMessage,
} from "./events.ts";
import {
  callHook,
  checkHookOptions,
  type SSECloseReason,
  type SSEHookOptions,
  type SSEHooks,
} from "./hooks.ts";

/**
 * What a request body can be: anything `fetch` can send more than once.
 *
 * @example A form body, sent again on every reconnection
 * ```ts
 * import type { SSERequestBody } from "@ssekit/ssekit";
 *
 * const body: SSERequestBody = new URLSearchParams({ prompt: "Hello" });
 * ```
 */
export type SSERequestBody =
  | string
  | ArrayBuffer
  | ArrayBufferView
  | Blob
  | FormData
  | URLSearchParams;

/**
 * When and how often {@linkcode connectSSE} reconnects.
 *
 * @example Retrying overloaded servers, ten times at most
 * ```ts
 * import type { SSEReconnectOptions } from "@ssekit/ssekit";
 *
 * const reconnect: SSEReconnectOptions = { retryStatus: true, maxAttempts: 10, maxBackoff: 60_000 };
 * ```
 */
export interface SSEReconnectOptions {
  /**
   * The reconnection time before the server sends a `retry` field, in
   * milliseconds.
   *
   * @default {3000}
   */
  delay?: number;
  /**
   * The base of the exponential backoff added to the reconnection time: the
   * n-th consecutive failed attempt adds a random wait of up to
   * `backoff × 2ⁿ` ms ("full jitter"), so clients that lost the same server
   * come back spread out. An open connection resets n. `0` turns it off.
   *
   * @default {1000}
   */
  backoff?: number;
  /** The most the backoff part of a wait can be, in milliseconds. @default {30000} */
  maxBackoff?: number;
  /**
   * How many connection attempts in a row may fail before iteration throws
   * the last error. An open connection resets the count.
   *
   * @default {Infinity}
   */
  maxAttempts?: number;
  /**
   * Whether a 408, 429 or 5xx response is retried (honouring `Retry-After`)
   * instead of failing for good, as the standard prescribes. A function
   * decides per status.
   *
   * @default {false}
   */
  retryStatus?: boolean | ((status: number) => boolean);
}

/**
 * Options for {@linkcode connectSSE}.
 *
 * @example A POST with a token and timeouts
 * ```ts
 * import type { ConnectSSEInit } from "@ssekit/ssekit";
 *
 * const init: ConnectSSEInit = {
 *   method: "POST",
 *   headers: { Authorization: "Bearer token" },
 *   body: JSON.stringify({ prompt: "Hello" }),
 *   idleTimeout: 60_000,
 *   reconnect: { maxAttempts: 5 },
 * };
 * ```
 */
export interface ConnectSSEInit
  extends
    Omit<RequestInit, "body" | "headers" | "method" | "signal">,
    SSEHookOptions {
  /** The request method. @default {"GET"} */
  method?: string;
  /**
   * Request headers, or a function (sync or async) called before every
   * connection attempt, so an expiring token can be refreshed.
   */
  headers?: HeadersInit | (() => HeadersInit | PromiseLike<HeadersInit>);
  /**
   * The request body, or a function (sync or async) returning a fresh one
   * for every attempt. A `ReadableStream` body cannot be replayed on
   * reconnection, so it is only accepted from a function.
   */
  body?:
    | SSERequestBody
    | (() =>
      | SSERequestBody
      | ReadableStream<Uint8Array>
      | PromiseLike<SSERequestBody | ReadableStream<Uint8Array>>);
  /** The last event id to resume from, sent as `Last-Event-ID` on the first connect. */
  lastEventId?: string;
  /** Reconnection policy; `false` never reconnects. */
  reconnect?: SSEReconnectOptions | false;
  /**
   * Milliseconds without any bytes (comments count) after which the
   * connection is considered dead, aborted, and reestablished. Without a
   * `connectTimeout`, it also bounds the wait for the response head.
   */
  idleTimeout?: number;
  /**
   * The most milliseconds an attempt waits for the response head (status
   * line and headers), from the start of its fetch. A server that accepts
   * the connection and never answers, or answers too slowly, fails the
   * attempt as a network error does: the request is aborted and the
   * connection reestablished as `reconnect` says, the attempt counting
   * towards `maxAttempts`; after the last one, iteration throws a
   * `DOMException` named `"TimeoutError"`, as `AbortSignal.timeout` does.
   * Defaults to
   * `idleTimeout` when that is given, else 30 s; `Infinity` waits for ever,
   * as `EventSource` does. Raise it for a server that holds its head back
   * until its first event (some LLM gateways do while the model thinks).
   *
   * @default {30000}
   */
  connectTimeout?: number;
  /** Closes the connection, as {@linkcode SSEConnection.close} does. */
  signal?: AbortSignal;
  /** The `fetch` to use. @default {globalThis.fetch} */
  fetch?: (input: Request) => Promise<Response>;
  /**
   * Called with every response that opens the stream (status 200,
   * `text/event-stream`), before its messages are read. If it throws, the
   * connection fails for good with that error.
   */
  onOpen?: (response: Response) => void | PromiseLike<void>;
  /** The largest line or event accepted, as in `SSEDecoderOptions.maxEventSize`. */
  maxEventSize?: number;
}

/**
 * A connection to a typed stream (see `defineEvents`): its messages' data
 * is decoded (and validated, with schemas), and checking `type` narrows it.
 *
 * @example Narrowing a typed connection's messages
 * ```ts
 * import assert from "node:assert/strict";
 * import { connectSSE, createSSEStream, defineEvents } from "@ssekit/ssekit";
 *
 * const chat = defineEvents<{ token: string; done: null }>();
 * const server = () =>
 *   Promise.resolve(createSSEStream([{ event: "token", data: "Hi" }, { event: "done", data: null }], { events: chat }));
 * const tokens: string[] = [];
 * for await (const message of connectSSE("https://chat.example/", { events: chat, fetch: server })) {
 *   if (message.type === "done") break;
 *   tokens.push(message.data); // a string: the type narrowed it
 * }
 * assert.deepEqual(tokens, ["Hi"]);
 * ```
 */
export interface TypedSSEConnection<M extends SSEEventMap>
  extends AsyncIterableIterator<TypedSSEMessage<M>> {
  /** The URL the connection (re)connects to. */
  readonly url: string;
  /** 0 connecting, 1 open, 2 closed, as `EventSource.readyState`. */
  readonly readyState: SSEReadyState;
  /** The last event id received, sent as `Last-Event-ID` when reconnecting. */
  readonly lastEventId: string;
  /** Ends iteration at once, aborting any request in flight; idempotent. */
  close(): void;
}

/**
 * The ready states of {@linkcode SSEConnection}, as `EventSource` numbers them.
 *
 * @example Closed or not
 * ```ts
 * import type { SSEReadyState } from "@ssekit/ssekit";
 *
 * const closed = (state: SSEReadyState): boolean => state === 2;
 * ```
 */
export type SSEReadyState = 0 | 1 | 2;

/**
 * A live event stream: an async iterator of messages that reconnects by
 * itself until closed.
 *
 * @example Closing a connection
 * ```ts
 * import assert from "node:assert/strict";
 * import { connectSSE, createSSEStream, type SSEConnection } from "@ssekit/ssekit";
 *
 * const connection: SSEConnection = connectSSE("https://news.example/", {
 *   fetch: () => Promise.resolve(createSSEStream([{ id: 1, data: "first" }])),
 * });
 * const { value } = await connection.next();
 * assert.equal(value?.data, "first");
 * assert.equal(connection.lastEventId, "1");
 * connection.close();
 * assert.equal(connection.readyState, 2);
 * ```
 */
export interface SSEConnection extends AsyncIterableIterator<SSEMessage> {
  /** The URL the connection (re)connects to. */
  readonly url: string;
  /** 0 connecting, 1 open, 2 closed, as `EventSource.readyState`. */
  readonly readyState: SSEReadyState;
  /** The last event id received, sent as `Last-Event-ID` when reconnecting. */
  readonly lastEventId: string;
  /** Ends iteration at once, aborting any request in flight; idempotent. */
  close(): void;
}

const CONNECTING = 0;
const OPEN = 1;
const CLOSED = 2;
const MAX_TIMEOUT = 2_147_483_647;

function check(name: string, value: unknown, min: number): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "number" || !(value >= min)) {
    throw new RangeError(
      `Invalid ${name} option: expected a number ≥ ${min}, got ${
        String(value)
      }`,
    );
  }
  return value;
}

// A timer for a timeout option: none for Infinity, which means never, and
// at most what timers hold, as longer delays fire at once on Node, Deno and
// Bun alike.
function startTimer(
  ms: number | undefined,
  fire: () => void,
): ReturnType<typeof setTimeout> | undefined {
  if (ms === undefined || ms === Infinity) return undefined;
  return setTimeout(fire, Math.min(ms, MAX_TIMEOUT));
}

function isTransient(status: number): boolean {
  return status === 408 || status === 429 || (status >= 500 && status <= 599);
}

// Seconds or an HTTP date, as RFC 9110 §10.2.3 allows; undefined otherwise.
function retryAfter(response: Response): number | undefined {
  const value = response.headers.get("retry-after")?.trim();
  if (!value) return undefined;
  if (/^\d+$/.test(value)) return Number(value) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

// Header values are byte strings: each character of the result is one byte
// of the id's UTF-8 encoding, which is what the standard sends and what
// `Headers` accepts, even for ids outside Latin-1.
function utf8HeaderValue(text: string): string {
  const bytes = new TextEncoder().encode(text);
  let value = "";
  for (let i = 0; i < bytes.length; i++) value += String.fromCharCode(bytes[i]);
  return value;
}

// Settles after `ms`, or at once when `signal` aborts; never rejects.
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, Math.min(ms, MAX_TIMEOUT));
    signal.addEventListener("abort", done);
  });
}

/**
 * Connects to an event stream with `fetch` and returns its messages as an
 * async iterator that reconnects by itself, as `EventSource` does, but with
 * any method, body and headers.
 *
 * - A status of 200 with a `text/event-stream` `Content-Type` opens the
 *   stream; 204 ends iteration cleanly; anything else fails for good with an
 *   {@linkcode SSEResponseError} (unless `reconnect.retryStatus` opts into
 *   retrying 408, 429 and 5xx).
 * - A network error or the end of the body reconnects to the original URL
 *   after the reconnection time (the server's `retry`, 3 s by default) plus
 *   a jittered exponential backoff, sending `Last-Event-ID` as UTF-8.
 * - No response head within `connectTimeout` (30 s by default), or no bytes
 *   for `idleTimeout` once open, counts as a network error.
 * - Messages are read from the network only as the loop asks for them.
 * - `close()`, `signal`, or leaving the loop ends iteration at once and
 *   aborts the request in flight.
 *
 * @example Streaming an LLM reply from a POST endpoint
 * ```ts ignore
 * import { connectSSE } from "@ssekit/ssekit";
 *
 * const stream = connectSSE("https://api.example.com/v1/chat", {
 *   method: "POST",
 *   headers: async () => ({ Authorization: `Bearer ${await getToken()}` }),
 *   body: JSON.stringify({ prompt: "Hello" }),
 * });
 * for await (const message of stream) {
 *   if (message.data === "[DONE]") break;
 *   console.log(JSON.parse(message.data));
 * }
 * ```
 *
 * @param input The URL (or a `Request` whose URL, method and headers are the
 * defaults) to connect to.
 * @param init The request, reconnection policy and hooks.
 * @returns The connection: an async iterator of messages with `close()`,
 * `readyState` and `lastEventId`.
 * @throws {TypeError} When the body is a `ReadableStream` (it cannot be
 * replayed: pass a function returning a fresh one) or `fetch` is missing.
 * @throws {RangeError} When a numeric option is out of range.
 */
export function connectSSE<M extends SSEEventMap>(
  input: string | URL | Request,
  init: ConnectSSEInit & TypedReadOptions<M>,
): TypedSSEConnection<M>;
/**
 * Connects to an untyped stream: see the typed form above.
 *
 * @param input The URL or `Request` to connect to.
 * @param init The request, reconnection policy and hooks.
 * @returns The connection: an async iterator of messages.
 */
export function connectSSE(
  input: string | URL | Request,
  init?: ConnectSSEInit,
): SSEConnection;
export function connectSSE(
  input: string | URL | Request,
  init: ConnectSSEInit & Partial<TypedReadOptions<SSEEventMap>> = {},
): SSEConnection | TypedSSEConnection<SSEEventMap> {
  const { events, onInvalid, ...rest } = init;
  checkEvents(events);
  const connection = connect(input, rest);
  if (events === undefined) return connection;
  const messages = decodeMessages(connection, events, onInvalid);
  return {
    url: connection.url,
    get readyState() {
      return connection.readyState;
    },
    get lastEventId() {
      return connection.lastEventId;
    },
    close: () => connection.close(),
    next: () => messages.next() as Promise<IteratorResult<never>>,
    return: (value?: unknown) =>
      messages.return!(value) as Promise<IteratorResult<never>>,
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}

function connect(
  input: string | URL | Request,
  init: ConnectSSEInit,
): SSEConnection {
  const {
    method,
    headers,
    body,
    lastEventId: initialId = "",
    reconnect = {},
    idleTimeout,
    connectTimeout,
    signal,
    fetch: fetcher = globalThis.fetch,
    onOpen,
    maxEventSize,
    hooks,
    logger,
    ...requestInit
  } = init;
  checkHookOptions(init);
  const base = input instanceof Request ? input : undefined;
  // Resolved now, as the EventSource constructor does, so a bad URL throws
  // here instead of failing every attempt; relative to the page in browsers.
  let url: string;
  try {
    url = base ? base.url : new URL(
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
  if (typeof fetcher !== "function") {
    throw new TypeError("connectSSE needs fetch: pass init.fetch");
  }
  if (
    body !== undefined && typeof body !== "function" &&
    typeof (body as unknown as ReadableStream).getReader === "function"
  ) {
    throw new TypeError(
      "Invalid connectSSE body: a ReadableStream cannot be re-sent when reconnecting; pass a function that returns a fresh body",
    );
  }
  const policy = reconnect === false ? undefined : reconnect;
  let reconnectionTime = check("reconnect.delay", policy?.delay, 0) ?? 3000;
  const backoff = check("reconnect.backoff", policy?.backoff, 0) ?? 1000;
  const maxBackoff = check("reconnect.maxBackoff", policy?.maxBackoff, 0) ??
    30_000;
  const maxAttempts = check("reconnect.maxAttempts", policy?.maxAttempts, 1) ??
    Infinity;
  const retryStatus = policy?.retryStatus === true
    ? isTransient
    : policy?.retryStatus || undefined;
  check("idleTimeout", idleTimeout, 1);
  check("connectTimeout", connectTimeout, 1);
  // The head is bytes too: silence that idleTimeout calls dead is dead
  // before the head as well.
  const headTimeout = connectTimeout ?? idleTimeout ?? 30_000;
  const headTimeoutName = connectTimeout === undefined &&
      idleTimeout !== undefined
    ? "idleTimeout"
    : "connectTimeout";

  // Aborted by close(): cancels waits, the request in flight and its body.
  const closer = new AbortController();
  let readyState: SSEReadyState = CONNECTING;
  let lastEventId = initialId;
  let interpreter: EventStreamInterpreter | undefined;
  let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  let attempt: AbortController | undefined;
  let failures = 0;
  // The wait before the next attempt, when one is due.
  let wait: number | undefined;
  // Messages parsed but not yet handed out, from `head` on; an index, not
  // shift(), which is quadratic on some engines for large bursts.
  const queue: SSEMessage[] = [];
  let head = 0;
  // The lastEventId of the last message handed out: while others wait in
  // the queue, the parser's id runs ahead of what the caller has seen.
  let delivered = initialId;
  let busy: Promise<IteratorResult<SSEMessage>> | undefined;
  // What the open connection brought, for the hooks' close.
  let received = 0;
  let bytesIn = 0;
  // Reports the end of the open connection to the hooks, once.
  let ended: ((reason: SSECloseReason, error?: unknown) => void) | undefined;
  const report = <K extends keyof SSEHooks>(
    name: K,
    info: Parameters<NonNullable<SSEHooks[K]>>[0],
  ) => callHook(hooks!, name, info, logger);

  // A function, so the check is not narrowed away across awaits.
  const isClosed = () => readyState === CLOSED;
  const close = () => {
    if (isClosed()) return;
    ended?.("aborted");
    readyState = CLOSED;
    closer.abort();
    signal?.removeEventListener("abort", close);
    queue.length = head = 0;
    reader?.cancel().catch(() => {});
  };
  if (signal?.aborted) close();
  else signal?.addEventListener("abort", close);

  const request = async (): Promise<Request> => {
    const fresh = new Headers(base?.headers);
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
    attempt = new AbortController();
    const stream = typeof (content as ReadableStream)?.getReader === "function";
    return new Request(url, {
      cache: "no-store",
      ...requestInit,
      method: method ?? base?.method ?? "GET",
      headers: fresh,
      body: content as BodyInit | undefined,
      signal: AbortSignal.any([closer.signal, attempt.signal]),
      ...(stream ? { duplex: "half" } : {}),
    } as RequestInit);
  };

  // Fetches `next` and resolves with the response once its head is in, or
  // rejects after `headTimeout` ms. Fetch has no such bound, but a user agent
  // may terminate a fetch, and a fetch terminated (not aborted by the
  // author) is a network error, after which §9.2.2 reestablishes the
  // connection. The request is aborted so its socket is released, and the
  // wait ends even if a custom fetch ignores its signal; so does close().
  const fetchHead = (
    next: Request,
    current: AbortController,
  ): Promise<Response> =>
    new Promise((resolve, reject) => {
      let settled = false;
      const settle = () => {
        settled = true;
        clearTimeout(timer);
        closer.signal.removeEventListener("abort", onClose);
      };
      const fail = (error: unknown) => {
        if (settled) return;
        settle();
        reject(error);
      };
      const onClose = () => fail(closer.signal.reason);
      const timer = startTimer(headTimeout, () => {
        const error = new DOMException(
          `${url} sent no response head within ${headTimeout} ms (${headTimeoutName})`,
          "TimeoutError",
        );
        fail(error);
        current.abort(error);
      });
      closer.signal.addEventListener("abort", onClose);
      Promise.resolve(next).then(fetcher).then((response) => {
        if (settled) response.body?.cancel().catch(() => {});
        else {
          settle();
          resolve(response);
        }
      }, fail);
    });

  // Schedules a reconnection after a failed or ended connection, or throws
  // when the policy says to stop.
  const retry = (
    error: unknown,
    opened: boolean,
    after?: number,
    status?: number,
  ) => {
    if (!policy) throw error;
    if (!opened && ++failures >= maxAttempts) throw error;
    const jitter = backoff
      ? Math.random() * Math.min(maxBackoff, backoff * 2 ** failures)
      : 0;
    // Retry-After is a floor, never a reason to skip the backoff.
    wait = Math.max(after ?? 0, reconnectionTime) + jitter;
    readyState = CONNECTING;
    if (hooks) {
      report("onReconnect", {
        where: "client",
        attempt: failures,
        delay: wait,
        ...(status === undefined ? {} : { status }),
        ...(error === undefined ? {} : { error }),
      });
    }
  };

  // Opens a connection: resolves once the response is accepted, or after
  // scheduling the next attempt.
  const connect = async (): Promise<void> => {
    if (wait !== undefined) {
      await sleep(wait, closer.signal);
      wait = undefined;
      if (isClosed()) return;
    }
    // A request that cannot be built (a throwing headers or body function)
    // fails for good: retrying would repeat the same mistake unseen.
    const next = await request();
    if (isClosed()) return;
    let response: Response;
    try {
      response = await fetchHead(next, attempt!);
    } catch (error) {
      if (isClosed()) return;
      return retry(error, false);
    }
    if (isClosed()) {
      response.body?.cancel().catch(() => {});
      return;
    }
    if (response.status === 204) {
      response.body?.cancel().catch(() => {});
      return close();
    }
    const error = await checkEventStream(response, url);
    if (isClosed()) return;
    if (error) {
      if (response.status !== 200 && retryStatus?.(response.status)) {
        return retry(error, false, retryAfter(response), response.status);
      }
      throw error;
    }
    if (!response.body) {
      return retry(
        new TypeError(`The event stream from ${url} has no body`),
        true,
      );
    }
    await onOpen?.(response);
    if (isClosed()) {
      response.body.cancel().catch(() => {});
      return;
    }
    readyState = OPEN;
    failures = 0;
    if (hooks) {
      received = bytesIn = 0;
      ended = (reason, error) => {
        ended = undefined;
        report("onClose", {
          side: "client",
          reason,
          events: received,
          bytes: bytesIn,
          ...(error === undefined ? {} : { error }),
        });
      };
      report("onOpen", { side: "client", url });
    }
    reader = response.body.getReader();
    interpreter = new EventStreamInterpreter({
      lastEventId,
      maxEventSize,
      onRetry: (ms) => reconnectionTime = ms,
    }, (message) => {
      queue.push(message);
      received++;
    });
  };

  // Reads until a message is ready. At the end of the body or on a network
  // error the connection is dropped and the next one scheduled; a message
  // over the size limit fails for good.
  const read = async (): Promise<void> => {
    const open = reader!;
    const parser = interpreter!;
    const current = attempt!;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const arm = () => {
      clearTimeout(timer);
      timer = startTimer(idleTimeout, () => current.abort());
    };
    let error: unknown;
    try {
      arm();
      for (;;) {
        let result: ReadableStreamReadResult<Uint8Array>;
        try {
          result = await open.read();
        } catch (caught) {
          error = caught;
          break;
        }
        if (result.done) {
          parser.end();
          break;
        }
        arm();
        bytesIn += result.value.byteLength;
        parser.push(result.value);
        lastEventId = parser.lastEventId;
        if (head < queue.length) return;
      }
    } finally {
      clearTimeout(timer);
    }
    lastEventId = parser.lastEventId;
    reader = interpreter = undefined;
    if (isClosed()) return;
    ended?.(error === undefined ? "done" : "error", error);
    if (!policy && error === undefined) return close();
    retry(error, true);
  };

  const pull = async (): Promise<IteratorResult<SSEMessage>> => {
    try {
      while (!isClosed()) {
        if (head < queue.length) {
          const message = queue[head++];
          if (head === queue.length) queue.length = head = 0;
          delivered = message.lastEventId;
          return { done: false, value: message };
        }
        if (reader) await read();
        else await connect();
      }
    } catch (error) {
      if (hooks) {
        ended?.("error", error);
        report("onError", { where: "client", error });
      }
      close();
      throw error;
    }
    return { done: true, value: undefined };
  };

  const connection: SSEConnection = {
    url,
    get readyState() {
      return readyState;
    },
    get lastEventId() {
      return head < queue.length ? delivered : lastEventId;
    },
    close,
    next(): Promise<IteratorResult<SSEMessage>> {
      // One read at a time, in call order. Every wait inside ends when
      // close() aborts, so a pending next() settles at once then too.
      const step = busy ? busy.then(pull, pull) : pull();
      busy = step;
      const settle = () => {
        if (busy === step) busy = undefined;
      };
      step.then(settle, settle);
      return step;
    },
    return(): Promise<IteratorResult<SSEMessage>> {
      close();
      return Promise.resolve({ done: true, value: undefined });
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
  return connection;
}
