/**
 * The one timer of a hub's runs: it enforces their timeouts, renews their
 * leases on a shared store (which is also how a stop asked for on another
 * instance arrives) and ends the topics of runs whose instance died (the
 * store's `reap`).
 *
 * @module
 */

import type { HubStore } from "./store.ts";
import { FAILED, type Run } from "./_hub_relay_run.ts";

/** How often the timer runs: leases renewed, timeouts checked, stops heard. */
const TICK = 500;
/** A lease outlives this many missed renewals. */
export const LEASE: number = 10 * TICK;

/** The timer of the runs of one hub, running only while it has work. */
export class RelayClock {
  readonly #store: HubStore;
  readonly #runs: ReadonlyMap<string, Run>;
  #timer: ReturnType<typeof setInterval> | undefined;
  #reaping = false;
  /** Set while the hub has topics to follow: they need the reaper too. */
  #following = false;

  constructor(store: HubStore, runs: ReadonlyMap<string, Run>) {
    this.#store = store;
    this.#runs = runs;
  }

  /**
   * Keeps the timer running while the hub follows topics whose runs may
   * be elsewhere: only a store that can reap needs it.
   */
  watch(following: boolean): void {
    this.#following = following && this.#store.reap !== undefined;
    if (this.#following) this.schedule();
  }

  /** Starts the timer, if it is not running. */
  schedule(): void {
    this.#timer ??= setInterval(() => this.#tick(), TICK);
  }

  #tick(): void {
    const now = Date.now();
    const store = this.#store;
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
    if (this.#runs.size === 0 && !this.#following) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
  }
}
