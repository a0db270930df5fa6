/**
 * The connection behind `connectSSE`: the `EventSource` processing model of
 * the WHATWG HTML standard (§9.2.2 and §9.2.3) as an async iterator, one
 * method for each of its steps, with the words of the step beside the line
 * that takes it.
 *
 * It is pulled, not pushed: nothing runs between the caller's `next()`
 * calls, so messages are read from the network only as the loop asks for
 * them, and the steps the standard runs "in parallel" run inside `next()`.
 * Where the standard fires an `error` or `open` event, the hooks are told.
 *
 * @module
 */

import { EventStreamInterpreter } from "./parse.ts";
import type { SSEMessage } from "./types.ts";
import type { ConnectSSEInit, SSEConnection, SSEReadyState } from "./client.ts";
import type { MessageDecoder } from "./events.ts";
import {
  callHook,
  checkHookOptions,
  type SSECloseReason,
  type SSEHooks,
} from "./hooks.ts";
import { Backoff } from "./_backoff.ts";
import { RequestTemplate } from "./_connection_request.ts";
import { IdleWatch, sleep } from "./_connection_timers.ts";
import { Queue } from "./_queue.ts";

/** The states of a connection, as `EventSource` names them. */
type State = "connecting" | "open" | "closed";

// As `EventSource.readyState` numbers them.
const READY_STATE: Record<State, SSEReadyState> = {
  connecting: 0,
  open: 1,
  closed: 2,
};

type Step = Promise<IteratorResult<SSEMessage>>;

/**
 * A reconnecting event stream (see `connectSSE`).
 *
 * Over ~150 lines (~300, a third of them the standard's words), because
 * the processing model is one algorithm over one state: its steps each read
 * and set the state, the queue and the open body. What needs none of that
 * is elsewhere: the request (`_connection_request.ts`) and the judging of
 * a response (`_connection_response.ts`), the waits (`_backoff.ts`) and the timers
 * (`_connection_timers.ts`).
 */
export class Connection implements SSEConnection {
  /** The URL the connection (re)connects to. */
  readonly url: string;
  #state: State = "connecting";
  // The last event ID string, which a reconnection sends: the parser's, which
  // runs ahead of the caller's while messages wait in the queue.
  #lastEventId: string;
  // The lastEventId of the last message handed out.
  #delivered: string;
  // The event source's reconnection time, which a `retry` field sets.
  #reconnectionTime: number;
  // The wait before the next attempt, when one is due.
  #wait: number | undefined;
  readonly #request: RequestTemplate;
  // Undefined with `reconnect: false`.
  readonly #backoff: Backoff | undefined;
  // Aborted by close(): ends every wait, the request in flight and its body.
  readonly #closer = new AbortController();
  readonly #options: Pick<
    ConnectSSEInit,
    "signal" | "onOpen" | "maxEventSize" | "hooks" | "logger"
  >;
  // The attempt under way: aborted by its timeouts.
  #attempt: AbortController | undefined;
  // The announced connection's body, until it ends.
  #reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  #interpreter: EventStreamInterpreter | undefined;
  // Messages parsed but not yet handed out.
  readonly #queue = new Queue<SSEMessage>();
  #busy: Step | undefined;
  // A typed connection's decoder, run in #pull: the one chain of next()
  // calls keeps a message whose schema still validates ahead of the next.
  readonly #decode: MessageDecoder | undefined;
  // What the announced connection brought, until the hooks are told of its
  // end; only with hooks.
  #stats: { events: number; bytes: number } | undefined;

  constructor(
    input: string | URL | Request,
    init: ConnectSSEInit,
    decode?: MessageDecoder,
  ) {
    const {
      lastEventId = "",
      reconnect = {},
      signal,
      onOpen,
      maxEventSize,
      hooks,
      logger,
      ...request
    } = init;
    checkHookOptions(init, "connectSSE");
    this.#request = new RequestTemplate(input, request);
    this.url = this.#request.url;
    this.#backoff = reconnect === false ? undefined : new Backoff(reconnect);
    this.#reconnectionTime = this.#backoff?.delay ?? 3000;
    this.#lastEventId = this.#delivered = lastEventId;
    this.#options = { signal, onOpen, maxEventSize, hooks, logger };
    this.#decode = decode;
    if (signal?.aborted) this.close();
    else signal?.addEventListener("abort", this.close);
  }

  /** 0 connecting, 1 open, 2 closed, as `EventSource.readyState`. */
  get readyState(): SSEReadyState {
    return READY_STATE[this.#state];
  }

  /** The last event id handed out, sent as `Last-Event-ID` when reconnecting. */
  get lastEventId(): string {
    return this.#queue.length > 0 ? this.#delivered : this.#lastEventId;
  }

  /** Ends iteration at once, aborting any request in flight; idempotent. */
  readonly close = (): void => {
    if (this.#closed()) return;
    this.#reportClose("aborted");
    this.#state = "closed";
    this.#closer.abort();
    this.#options.signal?.removeEventListener("abort", this.close);
    this.#queue.clear();
    this.#reader?.cancel().catch(() => {});
  };

  /** The next message: one read at a time, in call order. */
  readonly next = (): Step => {
    // Every wait inside ends when close() aborts, so a pending next()
    // settles at once then too.
    const step = this.#busy
      ? this.#busy.then(this.#pull, this.#pull)
      : this.#pull();
    this.#busy = step;
    const settle = () => {
      if (this.#busy === step) this.#busy = undefined;
    };
    step.then(settle, settle);
    return step;
  };

  /** Closes the connection, as leaving a `for await` loop does. */
  readonly return = (): Step => {
    this.close();
    return Promise.resolve({ done: true, value: undefined });
  };

  [Symbol.asyncIterator](): this {
    return this;
  }

  // A method, so the check is not narrowed away across awaits.
  #closed(): boolean {
    return this.#state === "closed";
  }

  readonly #pull = async (): Step => {
    try {
      while (!this.#closed()) {
        if (this.#queue.length > 0) {
          const message = this.#queue.shift()!;
          this.#delivered = message.lastEventId;
          if (!this.#decode) return { done: false, value: message };
          const value = await this.#decode(message);
          // A typed connection's messages are decoded ones.
          if (value !== undefined) return { done: false, value } as never;
          continue;
        }
        if (this.#reader) await this.#interpret();
        else await this.#connect();
      }
    } catch (error) {
      this.#fail(error);
    }
    return { done: true, value: undefined };
  };

  // Fetches the request, after the wait that reestablishing set (§9.2.3,
  // "reestablish the connection", steps 2 to 5; the first time, §9.2.2,
  // the constructor's step 15), and does what the response calls for.
  async #connect(): Promise<void> {
    if (this.#wait !== undefined) {
      // 2. "Wait a delay equal to the reconnection time of the event
      // source." 3. "Optionally, wait some more."
      await sleep(this.#wait, this.#closer.signal);
      this.#wait = undefined;
    }
    // 5.1. "If the EventSource object's readyState attribute is not set to
    // CONNECTING, then return."
    if (this.#closed()) return;
    // 5.2–5.4. "Let request be the EventSource object's request", with
    // `Last-Event-ID`; "fetch request and process the response obtained in
    // this fashion, if any, as described earlier in this section."
    const outcome = await this.#request.open(
      this.#lastEventId,
      this.#closer.signal,
      (status) => this.#backoff?.retries(status) ?? false,
    );
    switch (outcome.kind) {
      case "end":
        return this.close();
      case "fail":
        throw outcome.error;
      case "retry": {
        const { error, opened, after, status } = outcome;
        return this.#reestablish(error, opened, after, status);
      }
    }
    const { response, body, attempt } = outcome;
    // The caller's look at the response; if it throws, the connection fails.
    await this.#options.onOpen?.(response);
    if (this.#closed()) {
      body.cancel().catch(() => {});
      return;
    }
    this.#attempt = attempt;
    this.#announce(body);
  }

  // "When a user agent is to announce the connection, the user agent must
  // queue a task which, if the readyState attribute is set to a value other
  // than CLOSED, sets the readyState attribute to OPEN and fires an event
  // named open at the EventSource object." (§9.2.3)
  #announce(body: ReadableStream<Uint8Array>): void {
    this.#state = "open";
    this.#backoff?.opened();
    const { hooks, maxEventSize } = this.#options;
    if (hooks) {
      this.#stats = { events: 0, bytes: 0 };
      this.#report("onOpen", { side: "client", url: this.url });
    }
    this.#reader = body.getReader();
    this.#interpreter = new EventStreamInterpreter({
      lastEventId: this.#lastEventId,
      maxEventSize,
      onRetry: (ms) => this.#reconnectionTime = ms,
    }, (message) => {
      this.#queue.push(message);
      if (this.#stats) this.#stats.events++;
    });
  }

  // Interprets the body until a message is ready (§9.2.5–9.2.6). A network
  // error, or no bytes for idleTimeout, reestablishes the connection; so
  // does the end of the body: "if res is not a network error, then
  // reestablish the connection" (§9.2.2, step 14). A message over the size
  // limit fails for good.
  async #interpret(): Promise<void> {
    const reader = this.#reader!;
    const interpreter = this.#interpreter!;
    const attempt = this.#attempt!;
    const { idleTimeout } = this.#request;
    const idle = idleTimeout === undefined
      ? undefined
      : new IdleWatch(idleTimeout, () => attempt.abort());
    let error: unknown;
    try {
      for (;;) {
        let result: ReadableStreamReadResult<Uint8Array>;
        try {
          result = await reader.read();
        } catch (caught) {
          error = caught;
          break;
        }
        if (result.done) {
          interpreter.end();
          break;
        }
        if (idle) idle.last = performance.now();
        if (this.#stats) this.#stats.bytes += result.value.byteLength;
        interpreter.push(result.value);
        this.#lastEventId = interpreter.lastEventId;
        if (this.#queue.length > 0) return;
      }
    } finally {
      idle?.stop();
    }
    this.#lastEventId = interpreter.lastEventId;
    this.#reader = this.#interpreter = undefined;
    if (this.#closed()) return;
    this.#reportClose(error === undefined ? "done" : "error", error);
    if (!this.#backoff && error === undefined) return this.close();
    this.#reestablish(error, true);
  }

  // "When a user agent is to reestablish the connection" (§9.2.3): step 1
  // here, steps 2 to 5 in #connect(). Throws, failing the connection, when
  // reconnection is off or the last of maxAttempts failed.
  #reestablish(
    error: unknown,
    opened: boolean,
    after?: number,
    status?: number,
  ): void {
    const backoff = this.#backoff;
    if (!backoff || (!opened && !backoff.failed())) throw error;
    // 1.1. "If the readyState attribute is set to CLOSED, abort the task."
    // (Every caller has checked.) 1.2. "Set the readyState attribute to
    // CONNECTING."
    this.#state = "connecting";
    this.#wait = backoff.wait(this.#reconnectionTime, after);
    // 1.3. "Fire an event named error at the EventSource object."
    this.#report("onReconnect", {
      where: "client",
      attempt: backoff.failures,
      delay: this.#wait,
      ...(status === undefined ? {} : { status }),
      ...(error === undefined ? {} : { error }),
    });
  }

  // "When a user agent is to fail the connection, the user agent must queue
  // a task which, if the readyState attribute is set to a value other than
  // CLOSED, sets the readyState attribute to CLOSED and fires an event named
  // error at the EventSource object. Once the user agent has failed the
  // connection, it does not attempt to reconnect." (§9.2.3) The error is
  // thrown from next().
  #fail(error: unknown): never {
    this.#reportClose("error", error);
    this.#report("onError", { where: "client", error });
    this.close();
    throw error;
  }

  #report<K extends keyof SSEHooks>(
    name: K,
    info: Parameters<NonNullable<SSEHooks[K]>>[0],
  ): void {
    const { hooks, logger } = this.#options;
    if (hooks) callHook(hooks, name, info, logger);
  }

  // Tells the hooks of the end of the announced connection, once.
  #reportClose(reason: SSECloseReason, error?: unknown): void {
    const stats = this.#stats;
    if (!stats) return;
    this.#stats = undefined;
    this.#report("onClose", {
      side: "client",
      reason,
      events: stats.events,
      bytes: stats.bytes,
      ...(error === undefined ? {} : { error }),
    });
  }
}
