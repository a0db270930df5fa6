// Which runtime runs the tests or a benchmark: the one detection both use.
// Read through `globalThis` so the file type-checks under Deno (where `Bun`
// is unknown) and under tsc with Node's types (where `Deno` is unknown),
// and needs no node:* (the browser and workerd bundles import it too).

interface RuntimeGlobals {
  Deno?: { version: { deno: string } };
  Bun?: { version: string };
  process?: { versions: { node: string } };
}

const globals = globalThis as unknown as RuntimeGlobals;

/** A runtime the tests and benchmarks run on. */
export type RuntimeName = "deno" | "bun" | "node";

/** The running runtime; Deno and Bun also define `process`, so they go first. */
export const runtimeName: RuntimeName = globals.Deno
  ? "deno"
  : globals.Bun
  ? "bun"
  : "node";

/** The running runtime and its version, e.g. `node 20.20.2`. */
export function runtimeVersion(): string {
  const { Deno, Bun, process } = globals;
  if (Deno) return `deno ${Deno.version.deno}`;
  if (Bun) return `bun ${Bun.version}`;
  return `node ${process!.versions.node}`;
}
