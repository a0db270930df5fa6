/**
 * The reconnection policy of `connectSSE`: how long to wait before the next
 * attempt, how many failed attempts in a row to allow, and which error
 * statuses are worth another attempt. The standard asks for a wait of the
 * reconnection time and lets a user agent "optionally, wait some more"
 * (§9.2.3, "reestablish the connection", step 3); this is that "more".
 *
 * @module
 */

import type { SSEReconnectOptions } from "./client.ts";
import { checkOption } from "./_checks.ts";

/**
 * Checks a numeric option of `connectSSE` (undefined passes) in the one
 * message style, a `RangeError` as for a number out of range.
 */
export function checkNumber(name: string, value: unknown, min: number): void {
  checkOption(
    value === undefined || (typeof value === "number" && value >= min),
    "connectSSE",
    name,
    `a number ≥ ${min}`,
    value,
    RangeError,
  );
}

function isTransient(status: number): boolean {
  return status === 408 || status === 429 || (status >= 500 && status <= 599);
}

/** The reconnection policy, with its count of failed attempts. */
export class Backoff {
  /** The reconnection time to start with, before any `retry` field. */
  readonly delay: number;
  #failures = 0;
  readonly #base: number;
  readonly #max: number;
  readonly #maxAttempts: number;
  readonly #retryStatus: ((status: number) => boolean) | undefined;

  constructor(options: SSEReconnectOptions) {
    const { delay, backoff, maxBackoff, maxAttempts, retryStatus } = options;
    checkNumber("reconnect.delay", delay, 0);
    checkNumber("reconnect.backoff", backoff, 0);
    checkNumber("reconnect.maxBackoff", maxBackoff, 0);
    checkNumber("reconnect.maxAttempts", maxAttempts, 1);
    this.delay = delay ?? 3000;
    this.#base = backoff ?? 1000;
    this.#max = maxBackoff ?? 30_000;
    this.#maxAttempts = maxAttempts ?? Infinity;
    this.#retryStatus = retryStatus === true
      ? isTransient
      : retryStatus || undefined;
  }

  /** Failed attempts in a row. */
  get failures(): number {
    return this.#failures;
  }

  /** Counts a failed attempt: false when it was the last one allowed. */
  failed(): boolean {
    return ++this.#failures < this.#maxAttempts;
  }

  /** Resets the count of failed attempts, as an announced connection does. */
  opened(): void {
    this.#failures = 0;
  }

  /** Whether an error response with this status is worth another attempt. */
  retries(status: number): boolean {
    return status !== 200 && Boolean(this.#retryStatus?.(status));
  }

  /**
   * The wait before the next attempt: the reconnection time (no less than
   * what `Retry-After` asked for: a floor, never a reason to skip the
   * backoff), plus a random wait of up to `backoff × 2ⁿ` ms after n failed
   * attempts ("full jitter"), so clients that lost the same server come back
   * spread out.
   */
  wait(reconnectionTime: number, floor = 0): number {
    const jitter = this.#base
      ? Math.random() * Math.min(this.#max, this.#base * 2 ** this.#failures)
      : 0;
    return Math.max(floor, reconnectionTime) + jitter;
  }
}

/** The wait `Retry-After` asks for: seconds or an HTTP date (RFC 9110 §10.2.3). */
export function retryAfter(response: Response): number | undefined {
  const value = response.headers.get("retry-after")?.trim();
  if (!value) return undefined;
  if (/^\d+$/.test(value)) return Number(value) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}
