// Waiting in the tests and the benchmarks: the one `sleep`, the one hang
// guard (`within`) and the one polling loop (`until`). Nothing here needs
// node:*, so the browser and workerd bundles of the core tests use it too.

/** Resolves after `ms` milliseconds. */
export const sleep = (ms: number): Promise<void> =>
  new Promise((resolve) => setTimeout(resolve, ms));

/** Settles as `promise` does, or rejects naming `what` after `ms`. */
export function within<T>(
  promise: Promise<T>,
  ms: number,
  what: string,
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`${what}: not within ${ms} ms`)),
        ms,
      );
    }),
  ]).finally(() => clearTimeout(timer));
}

/**
 * Polls `read` until `check` holds and resolves to that value; rejects
 * showing the last value after `ms`. For waits on state another process,
 * a page or a store holds, where no event says it changed.
 */
export async function until<T>(
  read: () => T | Promise<T>,
  check: (value: T) => boolean,
  what: string,
  ms = 10_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await read();
    if (check(value)) return value;
    if (Date.now() > deadline) {
      throw new Error(
        `${what}: not within ${ms} ms (${JSON.stringify(value)})`,
      );
    }
    await sleep(20);
  }
}
