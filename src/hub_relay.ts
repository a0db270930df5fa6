/**
 * `hub.relay`: an upstream event stream (an LLM's reply) read to its end
 * with no client attached, each mapped event published to a topic, and the
 * topic ended when the upstream ends. Clients follow the topic, leave and
 * come back; the run goes on. This module holds its public options and
 * results; the runs themselves are internal to the hub.
 *
 * @module
 */

import type { RelayMapResult } from "./relay.ts";
import type { SSEEvent, SSEMessage } from "./types.ts";

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
