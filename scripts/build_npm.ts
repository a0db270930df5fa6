// Builds the npm package into npm/: ESM compiled by the TypeScript compiler
// (relative .ts imports rewritten to .js, declarations from
// isolatedDeclarations), with `exports` generated from deno.json so the two
// registries publish the same entry points.
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const out = `${root}npm`;

interface DenoManifest {
  version: string;
  license: string;
  exports: Record<string, string>;
}

const manifest: DenoManifest = JSON.parse(
  await Deno.readTextFile(`${root}deno.json`),
);
// Optional integrations (ioredis for ssekit/redis) are declared once, in
// the development manifest.
const { peerDependencies, peerDependenciesMeta } = JSON.parse(
  await Deno.readTextFile(`${root}package.json`),
);

await Deno.remove(out, { recursive: true }).catch((error) => {
  if (!(error instanceof Deno.errors.NotFound)) throw error;
});
const tsc = new Deno.Command(`${root}node_modules/.bin/tsc`, {
  args: ["-p", `${root}tsconfig.build.json`],
  stdout: "inherit",
  stderr: "inherit",
});
if (!(await tsc.output()).success) {
  throw new Error("build_npm: tsc failed, see its output above");
}

const exports: Record<string, { types: string; default: string }> = {};
for (const [entry, source] of Object.entries(manifest.exports)) {
  const stem = source.replace(/\.ts$/, "");
  exports[entry] = { types: `${stem}.d.ts`, default: `${stem}.js` };
}

const packageJson = {
  name: "ssekit",
  version: manifest.version,
  description:
    "Server-Sent Events for web-standard runtimes: a spec-exact, fast, backpressured text/event-stream toolkit for Deno, Bun, Node and browsers",
  license: manifest.license,
  type: "module",
  exports,
  sideEffects: false,
  engines: { node: ">=20" },
  peerDependencies,
  peerDependenciesMeta,
  keywords: ["sse", "server-sent-events", "eventsource", "event-stream"],
};
await Deno.writeTextFile(
  `${out}/package.json`,
  JSON.stringify(packageJson, null, 2) + "\n",
);
await Deno.copyFile(`${root}README.md`, `${out}/README.md`);
await Deno.copyFile(`${root}LICENSE`, `${out}/LICENSE`);
console.log(`build_npm: wrote ssekit@${manifest.version} to npm/`);
