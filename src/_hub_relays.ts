/**
 * The runs of `hub.relay` on one hub, by topic: started once they hold
 * their topic (a lease, on a store shared by instances), stopped here or
 * through the store, at most `maxRelays` at once.
 *
 * @module
 */

import type { RelayUpstream } from "./relay.ts";
import { checkCallback, checkOption, isPositive } from "./_checks.ts";
import type { HubRelayOptions, HubRelayRun } from "./hub_relay.ts";
import { type RelayHub, type Run, runRelay } from "./_hub_relay_run.ts";
import { LEASE, RelayClock } from "./_hub_relay_clock.ts";

const DEFAULT_TIMEOUT = 600_000;
const DEFAULT_IDLE = 60_000;

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

/** The runs of one hub. */
export class HubRelays {
  readonly #hub: RelayHub;
  readonly #max: number;
  readonly #runs = new Map<string, Run>();
  readonly #clock: RelayClock;

  constructor(hub: RelayHub, max: number) {
    this.#hub = hub;
    this.#max = max;
    this.#clock = new RelayClock(hub.store, this.#runs);
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
    this.#clock.schedule();
    return {
      topic,
      start,
      done: runRelay(this.#hub, this.#runs, run, upstream, options),
    };
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
   * be elsewhere.
   */
  watch(following: boolean): void {
    this.#clock.watch(following);
  }
}
