/**
 * Summarizes the V8 CPU profiles that `bench/fanout.ts --cpu-prof` has the
 * servers write (`.cpuprofile`, from `--cpu-prof-dir` on Deno, Bun and
 * Node): self time per function, and per origin (ssekit's src/, the
 * benchmark, dependencies, the runtime's own JavaScript, and V8's
 * "(program)" and "(garbage collector)"). Self time is where the sampled
 * stack's top frame was: native work called from JavaScript (a socket
 * write) is billed to the JavaScript function that called it.
 *
 * Run: `deno run -A bench/_fanout_profile.ts <file.cpuprofile>… [--top=N]
 * [--busiest=S | --last=S]`; with `--busiest`, only the S seconds where the
 * process was least idle count; with `--last`, only its last S seconds (the
 * end of the burst, in a `bench/fanout.ts --cpu-prof` run).
 * Prints markdown.
 *
 * @module
 */

import { readFileSync } from "node:fs";
import { basename } from "node:path";
import { fixed, numberArg, scriptArgs, table } from "./_util.ts";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const TOP = numberArg("top", 25);
// Only this many seconds, where the process was least idle (the burst),
// when given.
const BUSIEST = scriptArgs().some((arg) => arg.startsWith("--busiest="))
  ? numberArg("busiest", 2)
  : 0;

// Only the last this many seconds, when given: bench/fanout.ts --cpu-prof
// stops each server right after its burst.
const LAST = scriptArgs().some((arg) => arg.startsWith("--last="))
  ? numberArg("last", 2)
  : 0;

/** The sample range [from, to) of the last `seconds`. */
function last(profile: Profile, seconds: number): [number, number] {
  let span = 0;
  let from = profile.samples.length;
  while (from > 0 && span < seconds * 1e6) span += profile.timeDeltas[--from];
  return [from, profile.samples.length];
}

/** The sample range [from, to) of `seconds` with the least idle time. */
function busiest(
  profile: Profile,
  idleId: number,
  seconds: number,
): [number, number] {
  const { samples, timeDeltas } = profile;
  let best: [number, number] = [0, samples.length];
  let bestIdle = Infinity;
  let from = 0;
  let span = 0;
  let idle = 0;
  for (let to = 0; to < samples.length; to++) {
    span += timeDeltas[to];
    if (samples[to] === idleId) idle += timeDeltas[to];
    while (span - timeDeltas[from] >= seconds * 1e6) {
      span -= timeDeltas[from];
      if (samples[from] === idleId) idle -= timeDeltas[from];
      from++;
    }
    if (span >= seconds * 1e6 && idle < bestIdle) {
      bestIdle = idle;
      best = [from, to + 1];
    }
  }
  return best;
}

/** Where a function comes from, by its script's URL. */
function origin(url: string, name: string): string {
  if (url === "") return name.startsWith("(") ? name : "native";
  if (/\/src\/[^/]+\.[jt]s$/.test(url)) return "ssekit src/";
  if (/\/bench\/|\/tests\//.test(url)) return "benchmark";
  if (url.includes("node_modules")) {
    return /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)![1];
  }
  return "runtime";
}

function short(url: string): string {
  const match = /(?:src|bench|tests|node_modules)\/.*$/.exec(url);
  return match ? match[0] : url.replace(/^.*\/\/?/, "");
}

function summarize(path: string): string {
  const profile = JSON.parse(readFileSync(path, "utf8")) as Profile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const idleId =
    profile.nodes.find((n) => n.callFrame.functionName === "(idle)")?.id ?? -1;
  const [from, to] = BUSIEST
    ? busiest(profile, idleId, BUSIEST)
    : LAST
    ? last(profile, LAST)
    : [0, profile.samples.length];
  const self = new Map<number, number>();
  let total = 0;
  for (let i = from; i < to; i++) {
    const id = profile.samples[i];
    const delta = profile.timeDeltas[i] ?? 0;
    self.set(id, (self.get(id) ?? 0) + delta);
    total += delta;
  }
  const functions = new Map<string, { us: number; origin: string }>();
  const origins = new Map<string, number>();
  for (const [id, us] of self) {
    const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
    const name = functionName || "(anonymous)";
    const key = url ? `${name} ${short(url)}:${lineNumber + 1}` : name;
    const from = origin(url, name);
    const entry = functions.get(key) ?? { us: 0, origin: from };
    entry.us += us;
    functions.set(key, entry);
    origins.set(from, (origins.get(from) ?? 0) + us);
  }
  const share = (us: number) => `${fixed((100 * us) / total, 1)} %`;
  const idle = self.get(
    profile.nodes.find((n) => n.callFrame.functionName === "(idle)")?.id ?? -1,
  ) ?? 0;
  return `### ${basename(path)}

${fixed(total / 1e6, 2)} s sampled${
    BUSIEST
      ? ` (the busiest ${BUSIEST} s)`
      : LAST
      ? ` (the last ${LAST} s)`
      : ""
  }, ${share(total - idle)} not idle.

${
    table(
      ["origin", "self time"],
      [...origins].sort((a, b) => b[1] - a[1]).map(([from, us]) => [
        from,
        share(us),
      ]),
    )
  }

${
    table(
      ["function", "origin", "self time"],
      [...functions].sort((a, b) => b[1].us - a[1].us).slice(0, TOP).map((
        [key, { us, origin }],
      ) => [key.replaceAll("|", "\\|"), origin, share(us)]),
    )
  }
`;
}

const files = scriptArgs().filter((arg) => !arg.startsWith("--"));
if (files.length === 0) {
  throw new TypeError("usage: _fanout_profile.ts <file.cpuprofile>…");
}
console.log(files.map(summarize).join("\n"));
