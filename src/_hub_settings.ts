/**
 * The options of {@linkcode createHub}, checked once and with their
 * defaults filled in: every error names `createHub` and the option.
 *
 * @module
 */

import { formatEvent } from "./encode.ts";
import { checkCallback, checkOption, isCount } from "./_checks.ts";
import { checkHookOptions, type SSEHooks, type SSELogger } from "./hooks.ts";
import { historyBounds, type HubStore } from "./store.ts";
import { memoryStore } from "./memory_store.ts";
import { checkEvents } from "./events.ts";
import { DEFAULT_MAX_RELAYS } from "./hub_relay.ts";
import type { HubOptions } from "./_hub_options.ts";

/** Who the hub's options are given to, as option errors name it. */
const OWNER = "createHub";
const DEFAULT_MAX_QUEUE = 256;
const DEFAULT_CLOSE_RETRY = { min: 1_000, max: 5_000 };

/** A hub's options, checked, with their defaults. */
export interface HubSettings {
  readonly store: HubStore;
  readonly hooks: SSEHooks | undefined;
  /** The logger as given: the streams of `response` get it only then. */
  readonly logger: SSELogger | undefined;
  readonly maxQueue: number;
  readonly dropOldest: boolean;
  readonly resetEvent: string;
  readonly serialize: ((data: unknown) => string) | undefined;
  /** Typed topics: every event's data is stored as JSON. */
  readonly typed: boolean;
  readonly closeRetry: { readonly min: number; readonly max: number };
  readonly maxRelays: number;
}

/** Checks `options` and fills in the defaults. */
export function hubSettings(options: HubOptions): HubSettings {
  checkOption(
    options.store === undefined || options.history === undefined,
    OWNER,
    "history",
    "no history beside a store: history configures the default memory store; give the bounds to the store (memoryStore({ max, ttl }))",
    options.history,
  );
  // Checked here, not in memoryStore, so the message names createHub's
  // history option.
  const store = options.store ??
    memoryStore(historyBounds(options.history ?? {}));
  for (
    const method of ["append", "read", "tail", "compare", "close"] as const
  ) {
    checkOption(
      typeof store?.[method] === "function",
      OWNER,
      "store",
      `a HubStore with append, read, tail, compare and close methods (${method} is ${typeof store
        ?.[method]})`,
      store,
    );
  }
  checkHookOptions(options, OWNER);

  const maxQueue = options.maxQueue ?? DEFAULT_MAX_QUEUE;
  checkOption(
    isCount(maxQueue, 1),
    OWNER,
    "maxQueue",
    "a safe integer ≥ 1 (events per subscriber)",
    maxQueue,
    RangeError,
  );

  const slow = options.slow ?? "disconnect";
  checkOption(
    slow === "disconnect" || slow === "drop-oldest",
    OWNER,
    "slow",
    '"disconnect" or "drop-oldest"',
    slow,
  );

  const resetEvent = options.resetEvent ?? "reset";
  checkOption(
    typeof resetEvent === "string" && resetEvent !== "",
    OWNER,
    "resetEvent",
    "a non-empty event type",
    resetEvent,
  );
  formatEvent({ event: resetEvent }); // Throws on CR or LF.

  checkCallback(OWNER, "serialize", options.serialize);
  checkEvents(options.events, OWNER);

  const closeRetry = options.closeRetry ?? DEFAULT_CLOSE_RETRY;
  const { min, max } = closeRetry;
  checkOption(
    isCount(min, 0) && isCount(max, min),
    OWNER,
    "closeRetry",
    "{ min, max } with safe integer milliseconds, 0 ≤ min ≤ max",
    options.closeRetry,
    RangeError,
  );

  const maxRelays = options.maxRelays ?? DEFAULT_MAX_RELAYS;
  checkOption(
    isCount(maxRelays, 1),
    OWNER,
    "maxRelays",
    "a safe integer ≥ 1",
    maxRelays,
    RangeError,
  );

  return {
    store,
    hooks: options.hooks,
    logger: options.logger,
    maxQueue,
    dropOldest: slow === "drop-oldest",
    resetEvent,
    serialize: options.serialize,
    typed: options.events !== undefined,
    closeRetry: { min, max },
    maxRelays,
  };
}
