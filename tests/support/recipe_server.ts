// One framework recipe of examples/ that runs on node:http, as its own
// process on the runtime running the tests (`deno run -A`, `bun`, or `node`
// on the compiled file), for tests/frameworks.test.ts: SSEKIT_RECIPE names
// it, SSEKIT_UPSTREAM is the URL its relay reads. Prints its URL, then
// serves until stdin closes. A process of its own because @hono/node-server
// replaces globalThis.Request and Response, which the test process (and,
// under `bun test`, every test file after it) would otherwise keep.
import process from "node:process";
import type { RecipeOptions, Started } from "../../examples/recipe.ts";
import { exitWhenStdinCloses } from "./stdin.ts";

const recipes: Record<
  string,
  () => Promise<{ start(options: RecipeOptions): Promise<Started> }>
> = {
  express: () => import("../../examples/express/server.ts"),
  fastify: () => import("../../examples/fastify/server.ts"),
  h3: () => import("../../examples/h3/server.ts"),
  "hono-node": () => import("../../examples/hono/node.ts"),
};

const name = process.env.SSEKIT_RECIPE ?? "";
const load = recipes[name];
if (!load) {
  throw new TypeError(`Unknown SSEKIT_RECIPE: ${JSON.stringify(name)}`);
}
const server = await (await load()).start({
  port: 0,
  hostname: "127.0.0.1",
  upstream: process.env.SSEKIT_UPSTREAM,
});
console.log(server.url);

exitWhenStdinCloses(() => server.close());
