// Installs the dev dependencies (Deno and Bun come from npm) when
// node_modules is missing or older than package-lock.json, so every
// command in the README works on a machine with only Node and npm.
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const stamp = `${root}node_modules/.ssekit-lock`;
const lock = readFileSync(`${root}package-lock.json`, "utf8");

export function setup() {
  if (existsSync(stamp) && readFileSync(stamp, "utf8") === lock) return;
  console.log("setup: installing dev dependencies with npm ci");
  execFileSync("npm", ["ci", "--no-audit", "--no-fund"], {
    cwd: root,
    stdio: "inherit",
  });
  writeFileSync(stamp, lock);
}

if (import.meta.url === `file://${process.argv[1]}`) setup();
