/**
 * Runs of `hub.relay` (internal to the hub): an upstream event stream (an
 * LLM's reply) read to its end with no client attached, each mapped event
 * published to a topic, and the topic ended when the upstream ends. Clients
 * follow the topic, leave and come back; the run goes on.
 *
 * One timer per hub serves every run: it enforces the timeouts, renews the
 * runs' leases on a shared store (which is also how a stop asked for on
 * another instance arrives) and ends the topics of runs whose instance
 * died (the store's `reap`).
 *
 * @module
 */

import { parseSSE } from "./parse.ts";
import { checkEventStream } from "./response_error.ts";
import type { RelayMapResult, RelayUpstream } from "./relay.ts";
import type { HubRecord, HubStore } from "./store.ts";
import type { SSEEvent, SSEMessage } from "./types.ts";
import { checkCallback, checkOption, isPositive } from "./_checks.ts";
import type { SSELogger } from "./hooks.ts";

/**
 * Options for `hub.relay`.
 *
 * @example Publishing only the deltas, within two minutes
 * ```ts
 * import type { HubRelayOptions } from "@ssekit/ssekit";
 *
 * const options: HubRelayOptions = {
 *   map: (message) => message.data === "[DONE]" ? [] : { event: "delta", data: message.data },
 *   timeout: 120_000,
 * };
 * ```
 */
export interface HubRelayOptions {
  /**
   * Turns each upstream message into the events to publish: one, several,
   * or none; sync or async. The hub assigns the ids: an `id` the map gives
   * is dropped. Without it, messages are published with their type and
   * data.
   */
  map?: (
    message: SSEMessage,
  ) => RelayMapResult | PromiseLike<RelayMapResult>;
  /** Milliseconds the whole run may take. @default {600000} */
  timeout?: number;
  /** Milliseconds the upstream may send nothing (comments count). @default {60000} */
  idleTimeout?: number;
  /**
   * The last event of a run that failed (an upstream error, a timeout, a
   * lost lease): what `onError` returns, or by default `event: error` with
   * the JSON an OpenAI-compatible client reads, revealing nothing of the
   * cause. The error is also logged with the hub's `logger` by default.
   */
  onError?: (error: unknown) => SSEEvent | string | void;
}

/**
 * How a run of `hub.relay` ended.
 *
 * @example Counting outcomes
 * ```ts
 * import type { HubRelayOutcome } from "@ssekit/ssekit";
 *
 * const counts: Record<HubRelayOutcome, number> = { completed: 0, aborted: 0, failed: 0 };
 * ```
 */
export type HubRelayOutcome = "completed" | "aborted" | "failed";

/**
 * A run of `hub.relay`, going on detached.
 *
 * @example A run's topic and start
 * ```ts
 * import type { HubRelayRun } from "@ssekit/ssekit";
 *
 * const link = (run: HubRelayRun) => `/replies/${run.topic}?lastEventId=${run.start}`;
 * ```
 */
export interface HubRelayRun {
  /** The topic it publishes to. */
  readonly topic: string;
  /**
   * The topic's position before the run's first event: a client that
   * follows with it as its last event id gets the whole reply, however late
   * it comes (a first connection without an id gets only what follows it).
   */
  readonly start: string;
  /** Settles when the run is over and its topic has ended. */
  readonly done: Promise<HubRelayOutcome>;
}

/**
 * The default largest number of runs an instance carries at once.
 *
 * @example Twice the default
 * ```ts
 * import { createHub, DEFAULT_MAX_RELAYS } from "@ssekit/ssekit";
 *
 * const hub = createHub({ maxRelays: 2 * DEFAULT_MAX_RELAYS });
 * await hub.close();
 * ```
 */
export const DEFAULT_MAX_RELAYS = 1_000;
/** How often the timer runs: leases renewed, timeouts checked, stops heard. */
const TICK = 500;
/** A lease outlives this many missed renewals. */
const LEASE = 10 * TICK;
const DEFAULT_TIMEOUT = 600_000;
const DEFAULT_IDLE = 60_000;

const FAILED: HubRecord = Object.freeze({
  event: "error",
  data: '{"error":{"message":"The generation failed","type":"server_error"}}',
});
const ABORTED: HubRecord = Object.freeze({
  event: "error",
  data: '{"error":{"message":"The generation was stopped","type":"aborted"}}',
});

/** What the runs need of their hub. */
export interface RelayHub {
  readonly store: HubStore;
  publish(topic: string, event: SSEEvent | string): Promise<string>;
  end(topic: string, event?: SSEEvent | string): Promise<string>;
  /** Where a failed run is logged by default. */
  readonly logger: SSELogger;
}

interface Run {
  readonly topic: string;
  readonly holder: string;
  readonly stop: AbortController;
  readonly deadline: number;
  readonly idle: number;
  active: number;
  /** A renewal waits for the store: the next tick does not add another. */
  renewing: boolean;
}

function milliseconds(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  checkOption(
    isPositive(value),
    "relay",
    name,
    "milliseconds > 0",
    value,
    RangeError,
  );
  return value as number;
}

function holderName(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(8));
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0"))
    .join("");
}

function events(result: RelayMapResult): (SSEEvent | string)[] {
  if (result === undefined || result === null) return [];
  if (typeof result === "string" || !(Symbol.iterator in result)) {
    return [result];
  }
  return [...result];
}

function withoutId(event: SSEEvent | string): SSEEvent | string {
  if (typeof event === "string" || event.id === undefined) return event;
  const { id: _, ...rest } = event;
  return rest;
}

/** The runs of one hub. */
export class HubRelays {
  readonly #hub: RelayHub;
  readonly #max: number;
  readonly #runs = new Map<string, Run>();
  #timer: ReturnType<typeof setInterval> | undefined;
  #reaping = false;
  /** Set while the hub has topics to follow: they need the reaper too. */
  following = false;

  constructor(hub: RelayHub, max: number) {
    this.#hub = hub;
    this.#max = max;
  }

  /** Whether a run of `topic` is on this instance. */
  has(topic: string): boolean {
    return this.#runs.has(topic);
  }

  /** Starts a run; resolves once it holds its topic. */
  async start(
    topic: string,
    upstream: RelayUpstream,
    options: HubRelayOptions,
  ): Promise<HubRelayRun> {
    const timeout = milliseconds("timeout", options.timeout, DEFAULT_TIMEOUT);
    const idle = milliseconds("idleTimeout", options.idleTimeout, DEFAULT_IDLE);
    checkCallback("relay", "map", options.map);
    checkCallback("relay", "onError", options.onError);
    if (this.#runs.has(topic)) {
      throw new TypeError(
        `Invalid relay: topic ${JSON.stringify(topic)} has a run already`,
      );
    }
    if (this.#runs.size >= this.#max) {
      throw new RangeError(
        `Too many relays: this hub runs ${this.#max} at once (the maxRelays option); retry later`,
      );
    }
    const now = Date.now();
    const run: Run = {
      topic,
      holder: holderName(),
      stop: new AbortController(),
      deadline: now + timeout,
      idle,
      active: now,
      renewing: false,
    };
    // Held here at once, so the cap counts it while the lease is taken.
    this.#runs.set(topic, run);
    const { store } = this.#hub;
    let start: string;
    try {
      // A store without leases is this instance's alone: its read says
      // whether the topic has ended.
      const state = store.lease
        ? await store.lease(topic, run.holder, LEASE)
        : "ok";
      // Where the topic stands before the run publishes anything.
      const { cursor, end } = await store.read(topic, "", 1);
      start = cursor;
      if (state !== "ok" || end !== undefined) {
        throw new TypeError(
          `Invalid relay: topic ${
            JSON.stringify(topic)
          } has ended or has a run on another instance`,
        );
      }
    } catch (error) {
      this.#runs.delete(topic);
      await Promise.resolve(store.release?.(topic, run.holder)).catch(() => {});
      throw error;
    }
    this.#schedule();
    return { topic, start, done: this.#run(run, upstream, options) };
  }

  /** Stops the run of `topic`, here or (through the store) elsewhere. */
  async abort(topic: string): Promise<boolean> {
    const run = this.#runs.get(topic);
    if (run) {
      run.stop.abort(new DOMException("Stopped", "AbortError"));
      return true;
    }
    return (await this.#hub.store.requestAbort?.(topic)) ?? false;
  }

  /** Stops every run of this hub; their topics end as aborted. */
  close(): void {
    for (const run of this.#runs.values()) {
      run.stop.abort(new DOMException("The hub closed", "AbortError"));
    }
  }

  /**
   * Keeps the timer running while the hub follows topics whose runs may
   * be elsewhere: only a store that can reap needs it.
   */
  watch(following: boolean): void {
    this.following = following && this.#hub.store.reap !== undefined;
    if (this.following) this.#schedule();
  }

  async #run(
    run: Run,
    upstream: RelayUpstream,
    options: HubRelayOptions,
  ): Promise<HubRelayOutcome> {
    const hub = this.#hub;
    const { topic, stop } = run;
    let outcome: HubRelayOutcome = "completed";
    let last: SSEEvent | string | undefined;
    try {
      await this.#pump(run, upstream, options);
      if (stop.signal.aborted) throw stop.signal.reason;
    } catch (error) {
      const aborted = stop.signal.aborted &&
        (stop.signal.reason as Error)?.name === "AbortError";
      outcome = aborted ? "aborted" : "failed";
      last = aborted ? ABORTED : this.#failure(error, options);
    } finally {
      this.#runs.delete(topic);
      try {
        await hub.end(topic, last);
      } catch {
        // Ended already (reaped, or ended by hand): nothing more to say.
      }
      try {
        await hub.store.release?.(topic, run.holder);
      } catch {
        // The lease expires by itself.
      }
    }
    return outcome;
  }

  async #pump(
    run: Run,
    upstream: RelayUpstream,
    options: HubRelayOptions,
  ): Promise<void> {
    const { stop } = run;
    const response =
      await (typeof upstream === "function"
        ? upstream(stop.signal, { lastEventId: "" })
        : upstream);
    const error = await checkEventStream(response, response.url);
    if (error) {
      await response.body?.cancel().catch(() => {});
      throw error;
    }
    const messages = parseSSE(response, {
      onComment: () => run.active = Date.now(),
    });
    // A Response given as is has no request to abort: its body is
    // cancelled instead.
    const cancel = () => void messages.return?.();
    stop.signal.addEventListener("abort", cancel, { once: true });
    try {
      for await (const message of messages) {
        run.active = Date.now();
        const result = options.map ? await options.map(message) : {
          event: message.type === "message" ? undefined : message.type,
          data: message.data,
        };
        if (stop.signal.aborted) return;
        for (const event of events(result)) {
          await this.#hub.publish(run.topic, withoutId(event));
        }
      }
    } finally {
      stop.signal.removeEventListener("abort", cancel);
    }
  }

  #failure(error: unknown, options: HubRelayOptions): SSEEvent | string {
    if (!options.onError) {
      this.#hub.logger.error("ssekit: a relay failed:", error);
      return FAILED;
    }
    try {
      return options.onError(error) ?? FAILED;
    } catch {
      return FAILED;
    }
  }

  #schedule(): void {
    this.#timer ??= setInterval(() => this.#tick(), TICK);
  }

  #tick(): void {
    const now = Date.now();
    const { store } = this.#hub;
    for (const run of this.#runs.values()) {
      if (now > run.deadline) {
        run.stop.abort(new DOMException("The relay timed out", "TimeoutError"));
      } else if (now - run.active > run.idle) {
        run.stop.abort(
          new DOMException("The upstream went silent", "TimeoutError"),
        );
      } else if (store.lease && !run.renewing) {
        run.renewing = true;
        Promise.resolve(store.lease(run.topic, run.holder, LEASE)).then(
          (state) => {
            if (state === "abort") {
              run.stop.abort(new DOMException("Stopped", "AbortError"));
            } else if (state === "lost") {
              run.stop.abort(new Error("The relay lost its lease"));
            }
          },
          () => {
            // A store that cannot be reached now: the lease outlives it.
          },
        ).finally(() => run.renewing = false);
      }
    }
    // A stalled store gets no pile of reaps either.
    if (store.reap && !this.#reaping) {
      this.#reaping = true;
      Promise.resolve(store.reap(FAILED)).catch(() => {}).finally(() =>
        this.#reaping = false
      );
    }
    if (this.#runs.size === 0 && !this.following) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
  }
}
