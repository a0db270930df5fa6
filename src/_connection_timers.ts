/**
 * Every timer of `connectSSE` in one place: the reconnection wait
 * ({@linkcode sleep}), the bound on the response head ({@linkcode deadline})
 * and the watch for a silent body ({@linkcode IdleWatch}). A timeout of
 * `Infinity` means never and starts no timer; a longer one than timers hold
 * (2³¹−1 ms) is clamped, as such delays fire at once on Node, Deno and Bun
 * alike.
 *
 * @module
 */

const MAX_TIMEOUT = 2_147_483_647;

/** Calls `fire` after `ms`, unless `ms` is undefined or `Infinity`. */
export function startTimer(
  ms: number | undefined,
  fire: () => void,
): ReturnType<typeof setTimeout> | undefined {
  if (ms === undefined || ms === Infinity) return undefined;
  return setTimeout(fire, Math.min(ms, MAX_TIMEOUT));
}

/** Settles after `ms`, or at once when `signal` aborts; never rejects. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
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
 * Calls `expire` once no bytes came for `ms`. The reader stamps `last` with
 * `performance.now()` for each chunk, a field write, where moving a timer
 * for each chunk would cost a clear and a set; the timer checks the stamp
 * when it fires and waits out the rest.
 */
export class IdleWatch {
  /** When bytes last came, by `performance.now()`. */
  last: number = performance.now();
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(ms: number, expire: () => void) {
    const check = () => {
      const rest = ms - (performance.now() - this.last);
      if (rest <= 0) expire();
      else this.#timer = startTimer(rest, check);
    };
    this.#timer = startTimer(ms, check);
  }

  /** Stops watching; idempotent. */
  stop(): void {
    clearTimeout(this.#timer);
  }
}

/**
 * Settles as `work` does, unless `ms` pass first: then rejects with what
 * `timeout()` returns (which also aborts the work); or `signal` aborts
 * first: then rejects with its reason. What `work` brings after that is
 * handed to `discard`, so a late response's body is not left open.
 */
export function deadline<T>(
  work: Promise<T>,
  ms: number,
  signal: AbortSignal,
  timeout: () => unknown,
  discard: (late: T) => void,
): Promise<T> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const settle = () => {
      settled = true;
      clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
    };
    const fail = (error: unknown) => {
      if (settled) return;
      settle();
      reject(error);
    };
    const onAbort = () => fail(signal.reason);
    const timer = startTimer(ms, () => fail(timeout()));
    signal.addEventListener("abort", onAbort);
    work.then((value) => {
      if (settled) discard(value);
      else {
        settle();
        resolve(value);
      }
    }, fail);
  });
}
