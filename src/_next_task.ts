/**
 * The next task (not a microtask): setImmediate where the runtime has it
 * (Deno, Bun, Node), since setTimeout(0) waits a millisecond or more;
 * setTimeout elsewhere.
 *
 * @module
 */

const { setImmediate: setImmediateFn, clearImmediate: clearImmediateFn } =
  globalThis as {
    setImmediate?: (callback: () => void) => unknown;
    clearImmediate?: (handle: unknown) => void;
  };
const immediate = typeof setImmediateFn === "function" &&
  typeof clearImmediateFn === "function";

/** Runs `callback` in the next task; returns a handle for clearTask. */
export const setTask: (callback: () => void) => unknown = immediate
  ? (callback) => setImmediateFn!(callback)
  : (callback) => setTimeout(callback, 0);

/** Cancels a task that setTask scheduled. */
export const clearTask: (handle: unknown) => void = immediate
  ? (handle) => clearImmediateFn!(handle)
  : (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>);
