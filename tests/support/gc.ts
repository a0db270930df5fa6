// Forcing a full garbage collection, for the tests and the benchmarks that
// measure what is left (not bundled for the browser or workerd: this needs
// node:v8).
import v8 from "node:v8";
import vm from "node:vm";

const globals = globalThis as unknown as {
  Bun?: { gc(full: boolean): void };
  gc?: () => void;
};

let v8Gc: (() => void) | undefined;

/**
 * A full garbage collection: Bun's own; V8's where a flag exposed it
 * (`--expose-gc`), or else through node:v8 on Node and Deno.
 */
export function collectGarbage(): void {
  if (globals.Bun) return globals.Bun.gc(true);
  if (globals.gc) return globals.gc();
  if (!v8Gc) {
    v8.setFlagsFromString("--expose_gc");
    v8Gc = vm.runInNewContext("gc") as (() => void) | undefined;
  }
  v8Gc?.();
}
