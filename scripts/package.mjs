// `npm run package`: what a release needs, checked without publishing: the
// JSR dry run, the documentation lint of every entry point, the npm build,
// publint and arethetypeswrong on it, and the packed tarball installed into
// a scratch project and imported the way users do, from each runtime.
// Stops at the first failure.
import { spawnSync } from "node:child_process";
import {
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));

function run(command, args, cwd = root) {
  console.log(`\n$ ${command} ${args.join(" ")}`);
  const result = spawnSync(command, args, { cwd, stdio: "inherit" });
  if (result.status !== 0) {
    throw new Error(
      `${command} ${args.join(" ")} failed (${
        result.error?.message ?? result.status ?? result.signal
      })`,
    );
  }
}

function smokeTest() {
  const scratch = mkdtempSync(join(tmpdir(), "ssekit-pack-"));
  try {
    run(
      "npm",
      ["pack", join(root, "npm"), "--pack-destination", scratch],
      scratch,
    );
    const tarball = readdirSync(scratch).find((name) => name.endsWith(".tgz"));
    writeFileSync(
      join(scratch, "package.json"),
      JSON.stringify({ name: "smoke", private: true, type: "module" }),
    );
    run("npm", [
      "install",
      "--no-audit",
      "--no-fund",
      "--no-save",
      `./${tarball}`,
    ], scratch);
    writeFileSync(
      join(scratch, "smoke.mjs"),
      `import { createSSEStream, formatEvent } from "ssekit";
const text = await createSSEStream([{ event: "hi", data: [1] }]).text();
if (text !== ":\\n" + formatEvent({ event: "hi", data: [1] })) {
  throw new Error("unexpected body " + JSON.stringify(text));
}
console.log("smoke: imported ssekit and streamed", JSON.stringify(text));
`,
    );
    run("node", ["smoke.mjs"], scratch);
    run("bun", ["smoke.mjs"], scratch);
    run("deno", ["run", "-A", "smoke.mjs"], scratch);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

try {
  run("deno", ["publish", "--dry-run", "--allow-dirty"]);
  const { exports } = JSON.parse(readFileSync(join(root, "deno.json"), "utf8"));
  run("deno", ["doc", "--lint", ...Object.values(exports)]);
  run("npm", ["run", "build"]);
  run("publint", ["npm"]);
  run("attw", ["--pack", "npm", "--profile", "esm-only"]);
  smokeTest();
} catch (error) {
  console.error(`package: ${error.message}`);
  process.exitCode = 1;
}
