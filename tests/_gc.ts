// Forcing a garbage collection from a test (apart from _util.ts, which the
// browser and workerd suites bundle: this needs node:v8).
import v8 from "node:v8";
import vm from "node:vm";

/**
 * A full garbage collection where the runtime lets a test force one (Bun;
 * V8 through node:v8 on Node and Deno); nothing elsewhere.
 */
export function collectGarbage(): void {
  const bun = (globalThis as { Bun?: { gc(full: boolean): void } }).Bun;
  if (bun) return bun.gc(true);
  v8.setFlagsFromString("--expose_gc");
  (vm.runInNewContext("gc") as (() => void) | undefined)?.();
}
