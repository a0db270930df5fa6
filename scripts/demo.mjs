// `npm run demo [-- --runtime=node|deno|bun] [--port=8000]`: installs what is
// missing, bundles ssekit for the browser (and, for Node, which cannot run
// TypeScript, the server too), then runs examples/demo/main.ts on the chosen
// runtime until interrupted.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { setup } from "./setup.mjs";

const root = fileURLToPath(new URL("..", import.meta.url));
const RUNTIMES = ["node", "deno", "bun"];

const args = process.argv.slice(2);
const runtime = args.find((arg) => arg.startsWith("--runtime="))?.slice(10) ??
  "node";
if (!RUNTIMES.includes(runtime)) {
  console.error(
    `Unknown --runtime=${runtime}: expected one of ${RUNTIMES.join(", ")}`,
  );
  process.exit(2);
}
const serverArgs = args.filter((arg) => !arg.startsWith("--runtime="));

setup();
// Only now: on a fresh clone esbuild arrives with setup().
const { build } = await import("esbuild");
const out = mkdtempSync(join(tmpdir(), "ssekit-demo-"));
const bundle = (entry, file, platform) =>
  build({
    entryPoints: [join(root, entry)],
    outfile: join(out, file),
    bundle: true,
    format: "esm",
    platform,
    target: platform === "node" ? "node20" : "es2022",
    // CommonJS packages in an ES module bundle (ioredis, for --redis)
    // require Node's built-in modules: give them a require.
    banner: platform === "node"
      ? {
        js:
          'import { createRequire } from "node:module"; const require = createRequire(import.meta.url);',
      }
      : undefined,
    logLevel: "warning",
  });
const main = join(root, "examples", "demo", "main.ts");
let command;
try {
  await bundle("mod.ts", "ssekit.js", "browser");
  if (runtime === "node") {
    await bundle("examples/demo/main.ts", "main.mjs", "node");
    command = [process.execPath, join(out, "main.mjs")];
  } else if (runtime === "deno") command = ["deno", "run", "-A", main];
  else command = ["bun", main];
} catch (error) {
  rmSync(out, { recursive: true, force: true });
  throw error;
}

const bin = join(root, "node_modules", ".bin");
// The server's stdin is a pipe this process holds open: if this process dies
// without passing a signal on (SIGKILL), the server sees it end and stops,
// rather than keep the port.
const child = spawn(command[0], [...command.slice(1), ...serverArgs], {
  stdio: ["pipe", "inherit", "inherit"],
  env: {
    ...process.env,
    PATH: `${bin}:${process.env.PATH}`,
    SSEKIT_DEMO_CLIENT: join(out, "ssekit.js"),
    SSEKIT_DEMO_STOP_ON_STDIN_END: "1",
  },
});
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => child.kill(signal));
}
child.on("error", (error) => {
  console.error(`demo: cannot start ${command[0]}: ${error.message}`);
  rmSync(out, { recursive: true, force: true });
  process.exit(1);
});
child.on("exit", (code) => {
  rmSync(out, { recursive: true, force: true });
  process.exit(code ?? 1); // null only when a signal ended it
});
