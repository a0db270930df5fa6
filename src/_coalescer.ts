/**
 * Coalescing: the events ready at once share a chunk.
 *
 * @module
 */

// Events ready within this many microtask turns of each other share a chunk.
// An async generator that does not await between yields needs about two.
export const IDLE_TURNS = 8;
// Counting turns costs a promise job per turn, more than formatting a short
// event. Once this many turns of one burst have brought events, the watcher
// stops counting and waits for the next task instead: tasks run only when
// the microtask queue is empty, so the producer has stopped producing
// synchronously by then, and a long burst pays one task instead of two jobs
// per event.
export const BURST_TURNS = 16;
// A coalesced chunk is flushed once it holds this many characters; 16 KiB is
// also the largest TLS record, so bigger chunks would be split anyway.
export const CHUNK_CHARS = 16_384;
// Scheduling a turn on a settled promise is cheaper than queueMicrotask,
// which Node wraps for async hooks; the watcher schedules one per turn.
export const RESOLVED: Promise<void> = Promise.resolve();
// The next task: setImmediate where the runtime has it (Deno, Bun, Node),
// since setTimeout(0) waits a millisecond or more; setTimeout elsewhere.
const { setImmediate: setImmediateFn, clearImmediate: clearImmediateFn } =
  globalThis as {
    setImmediate?: (callback: () => void) => unknown;
    clearImmediate?: (handle: unknown) => void;
  };
type Tasks = [(callback: () => void) => unknown, (handle: unknown) => void];
const tasks: Tasks = typeof setImmediateFn === "function" &&
    typeof clearImmediateFn === "function"
  ? [
    (callback) => setImmediateFn(callback),
    (handle) => clearImmediateFn(handle),
  ]
  : [
    (callback) => setTimeout(callback, 0),
    (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
  ];
export const setTask: Tasks[0] = tasks[0];
export const clearTask: Tasks[1] = tasks[1];
