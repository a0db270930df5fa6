// The Workers recipe (examples/workers/worker.ts) in workerd, as
// tests/frameworks.test.ts and core.workerd.ts start it: bundled by esbuild
// as wrangler would, its Durable Object's storage in memory or, given a
// directory, on disk, so that a second start on it is the object after a
// restart.
import type { Child } from "../support/child.ts";
import { root } from "../support/child.ts";
import { bundleWorker, serveWorker } from "./_workerd.ts";

export async function startWorkersRecipe(
  upstream: string,
  storageDir?: string,
): Promise<Child> {
  const bundle = await bundleWorker(
    root(),
    `export { default, Topics } from "./examples/workers/worker.ts";`,
  );
  const worker = await serveWorker(bundle, {
    durableObject: { className: "Topics", binding: "TOPICS" },
    text: { UPSTREAM: upstream },
    storageDir,
  });
  let ended: string | undefined;
  const stop = async () => {
    await worker.stop();
    ended ??= "stopped";
  };
  return { url: worker.url, stop, kill: stop, ended: () => ended };
}
