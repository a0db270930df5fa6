// Runs bench/encode.ts, node.ts, parse.ts, relay.ts, hub.ts and
// memory_topics.ts on Deno, Bun and Node, one runtime at a time so they do
// not compete for the cores, then bench/relays.ts and bench/topics.ts once
// each (they run their own Deno and Bun instances on a Redis they start),
// then bench/fanout.ts once (a server process per runtime and
// implementation, nginx's nchan among them, and a C client), and writes the combined
// bench/results.md.
//
// Node 20 cannot run TypeScript, so the benchmark is compiled with tsc into
// .build/bench-out first. Extra arguments (e.g. `--events=10000 --rounds=2`
// for a quick try) are passed on to every runtime.
//
// Usage: npm run bench [-- --events=N --rounds=N --skip=topics,fanout]
//
// bench/relays.ts runs once, from Deno: it is its own harness of a Deno and
// a Bun instance, an upstream and followers on a Redis it starts.

import { spawn, spawnSync } from "node:child_process";
import { rm, writeFile } from "node:fs/promises";
import { arch, cpus, platform } from "node:os";
import { delimiter, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const outDir = join(root, ".build", "bench-out");
// `--skip=relays,topics,fanout` (any of relays, relay, hub, memory_topics,
// topics, fanout) leaves those out, for a quick before/after of the rest;
// the report then goes to .build/, since bench/results.md holds full runs.
const skip = new Set(
  process.argv.slice(2).filter((arg) => arg.startsWith("--skip="))
    .flatMap((arg) => arg.slice("--skip=".length).split(",")),
);
const reportPath = skip.size === 0
  ? join(root, "bench", "results.md")
  : join(root, ".build", "bench-results-partial.md");
// Every sample, for digging into a surprising median; git-ignored.
const rawPath = join(root, ".build", "bench-results.json");
// Keeps the whole run near five minutes even if one runtime stalls.
const RUNTIME_TIMEOUT_MS = 180_000;
// bench/topics.ts: three phases of 60 s each, plus opening 10,000 streams.
const TOPICS_TIMEOUT_MS = 600_000;
const forwarded = process.argv.slice(2).filter((arg) =>
  arg !== "--json" && !arg.startsWith("--skip=")
);
const env = {
  ...process.env,
  PATH: join(root, "node_modules", ".bin") + delimiter + process.env.PATH,
};

// How each runtime runs one benchmark file; Node runs the compiled copy.
const runtimes = [
  {
    name: "Deno",
    command: "deno",
    args: (file) => ["run", "-A", "--v8-flags=--expose-gc", `bench/${file}.ts`],
  },
  { name: "Bun", command: "bun", args: (file) => [`bench/${file}.ts`] },
  {
    name: "Node",
    command: process.execPath,
    args: (file) => ["--expose-gc", join(outDir, "bench", `${file}.js`)],
  },
];

function compile() {
  const tsc = join(root, "node_modules", "typescript", "bin", "tsc");
  const result = spawnSync(
    process.execPath,
    [tsc, "-p", join(root, "bench", "tsconfig.json")],
    { cwd: root, stdio: "inherit" },
  );
  if (result.status !== 0) {
    throw new Error(`tsc -p bench/tsconfig.json failed (${result.status})`);
  }
}

// Resolves with the runtime's parsed `--json` output, or with its markdown
// when `json` is false; progress on stderr is passed through so a long run
// shows where it is.
function run(command, args, json, timeoutMs = RUNTIME_TIMEOUT_MS) {
  return new Promise((resolve, reject) => {
    const flags = json ? ["--json", ...forwarded] : forwarded;
    const child = spawn(command, [...args, ...flags], {
      cwd: root,
      env,
      stdio: ["ignore", "pipe", "inherit"],
    });
    let stdout = "";
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (text) => stdout += text);
    const timer = setTimeout(() => child.kill(), timeoutMs);
    child.once("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once("close", (code, signal) => {
      clearTimeout(timer);
      if (code !== 0) {
        return reject(
          new Error(
            signal
              ? `killed by ${signal} (over ${timeoutMs / 1000} s?)`
              : `exited with ${code}`,
          ),
        );
      }
      if (!json) return resolve(stdout);
      // Only the last line is ours: a library may have logged before it.
      const last = stdout.trimEnd().split("\n").at(-1) ?? "";
      try {
        resolve(JSON.parse(last));
      } catch {
        reject(new Error(`no JSON results on stdout: ${last.slice(0, 200)}`));
      }
    });
  });
}

function ratioCell(target) {
  return `${target.ratio.toFixed(2)}× ${target.met ? "✓" : "✗"}`;
}

function firstEventCell(results) {
  const of = (impl) => results.firstEvent.find((r) => r.impl === impl)?.ms;
  const difference = of("ssekit") - of("raw");
  if (!Number.isFinite(difference)) return "—";
  return `${difference >= 0 ? "+" : "-"}${
    Math.abs(difference).toFixed(3)
  } ms (${of("ssekit").toFixed(3)} vs ${of("raw").toFixed(3)})`;
}

function report(outcomes) {
  const cpu = cpus();
  const events = outcomes.find(({ results }) => results)?.results.events ?? 0;
  const lines = [
    "# Encode benchmark",
    "",
    `Written by \`npm run bench\` (scripts/bench.mjs) on ${
      new Date().toISOString().slice(0, 16).replace("T", " ")
    } UTC, ${platform()} ${arch()}, ${cpu.length} × ${
      cpu[0]?.model.trim() ?? "unknown CPU"
    }. Ratios compare implementations within one run of one runtime; absolute times on a shared machine vary from run to run.`,
    "",
    `Each implementation drains an async generator of ${
      events.toLocaleString("en-US")
    } events ` +
    "through a `Response` body: ssekit `createSSEStream` with default options; Hono `streamSSE` through `app.fetch`, one `await stream.writeSSE()` per event; better-sse `createResponse` with a fetch `Request` (retry and keep-alive off), one `session.push()` per event, which always writes `event:` and `id:` (a random UUID when none is given) and JSON-serializes string data too; raw, a `ReadableStream` enqueuing one `TextEncoder.encode()`d event per pull. Every implementation's output is parsed once per payload with the `EventSource` rules and compared event by event; each timed round must then produce the same byte count.",
    "",
    "## Summary",
    "",
    "ssekit's speed-up over Hono `streamSSE` (median time ratio, target in the header) and its time to first event minus the raw baseline's.",
    "",
    "| runtime | token (≥ 5×) | JSON (≥ 3×) | multi-line (≥ 1.3×) | first event, ssekit − raw | checks |",
    "| --- | --: | --: | --: | --: | --- |",
  ];
  for (const { runtime, results, error } of outcomes) {
    if (error) {
      lines.push(`| ${runtime.name} | — | — | — | — | ✗ ${error.message} |`);
      continue;
    }
    const byPayload = (name) =>
      ratioCell(results.targets.find((t) => t.payload === name));
    const failed = [
      ...results.throughput.filter((r) => r.error),
      ...results.stages.filter((r) => r.error),
      ...results.firstEvent.filter((r) => r.error),
    ];
    lines.push(
      `| ${results.runtime} | ${byPayload("token")} | ${byPayload("json")} | ${
        byPayload("multiline")
      } | ${firstEventCell(results)} | ${
        failed.length === 0 ? "✓" : `✗ ${failed.length} failed`
      } |`,
    );
  }
  for (const { runtime, results, error } of outcomes) {
    lines.push("");
    if (error) {
      lines.push(`## ${runtime.name}`, "", `✗ ${error.message}`);
    } else {
      lines.push(`## ${results.runtime}`, "", results.markdown.trimEnd());
    }
  }
  return lines.join("\n") + "\n";
}

function nodeReport(outcomes) {
  const lines = [
    "",
    "# Node adapter benchmark",
    "",
    "bench/node.ts: `createSSEStream` served through `ssekit/node` next to a plain `node:http` server that calls `res.write` once per event, on each runtime's `node:http`, servers in a child process and a raw-socket client in the parent.",
  ];
  for (const { runtime, results, error } of outcomes) {
    lines.push("");
    if (error) {
      lines.push(`## ${runtime.name} node:http`, "", `✗ ${error.message}`);
    } else {
      lines.push(
        `## ${results.runtime} node:http`,
        "",
        results.markdown.trimEnd(),
      );
    }
  }
  return lines.join("\n") + "\n";
}

function parseFailures(results) {
  return results.cases.flatMap((c) => c.results).filter((r) => r.error);
}

function parseReport(outcomes) {
  const lines = [
    "",
    "# Parse benchmark",
    "",
    "bench/parse.ts: a corpus of mixed events (short data, JSON with `event` and `id`, four-line data, comments, multi-byte UTF-8) fed as bytes, one chunk per pull, through ssekit's `SSEDecoderStream`, eventsource-parser's `createParser` behind a `TextDecoderStream` and its `EventSourceParserStream`, and raw baselines that do no spec work; ssekit's `parseSSE` and its `EventStreamInterpreter` (against `createParser`, both fed by hand) show each layer. Every parser's events are checked against the corpus (count, data length and a checksum of type, id and data) in a warm-up round; each timed round must see the same count and length.",
    "",
    "## Summary",
    "",
    "`SSEDecoderStream`'s speed-up (median time ratio) and the 8 MiB line's time, targets in the header.",
    "",
    "| runtime | × `createParser` pipeline, 16 KiB (≥ 1.3×) | × `EventSourceParserStream`, 16 KiB (≥ 2×) | × `createParser` pipeline, 7 B (≥ 1×) | 8 MiB line (< 50 ms) | checks |",
    "| --- | --: | --: | --: | --: | --- |",
  ];
  for (const { runtime, results, error } of outcomes) {
    if (error) {
      lines.push(`| ${runtime.name} | — | — | — | — | ✗ ${error.message} |`);
      continue;
    }
    const cells = results.targets.map((t) =>
      `${t.value.toFixed(2)}${t.unit === "×" ? "×" : " ms"} ${
        t.met ? "✓" : "✗"
      }`
    );
    const failed = parseFailures(results).length;
    lines.push(
      `| ${results.runtime} | ${cells.join(" | ")} | ${
        failed === 0 ? "✓" : `✗ ${failed} failed`
      } |`,
    );
  }
  for (const { runtime, results, error } of outcomes) {
    lines.push("");
    if (error) {
      lines.push(`## ${runtime.name} parse`, "", `✗ ${error.message}`);
    } else {
      lines.push(`## ${results.runtime} parse`, "", results.markdown.trimEnd());
    }
  }
  return lines.join("\n") + "\n";
}

async function runEach(file, json = true) {
  const outcomes = [];
  for (const runtime of runtimes) {
    console.error(`\n== ${runtime.name}: ${file} ==`);
    try {
      const results = await run(runtime.command, runtime.args(file), json);
      outcomes.push({ runtime, results });
    } catch (error) {
      console.error(`${runtime.name} ${file} failed: ${error.message}`);
      outcomes.push({ runtime, error });
    }
  }
  return outcomes;
}

// bench/fanout.ts: per N, 3 runtimes × 4–5 implementations and nginx's
// nchan × rounds of at most ~30 s each (N = 10,000).
const FANOUT_TIMEOUT_MS = 3_600_000;

// bench/relays.ts: a target round and a bisection of at most six steps,
// each round bounded by its length + 60 s, then three rounds of the best.
const RELAYS_TIMEOUT_MS = 1_200_000;

async function main() {
  await rm(outDir, { recursive: true, force: true });
  compile();
  const outcomes = await runEach("encode");
  const nodeOutcomes = await runEach("node");
  const parseOutcomes = await runEach("parse");
  // These print their own markdown; a crash is reported in their place.
  const sections = [];
  let sectionsBroken = false;
  // A harness of its own, run once from Deno.
  const once = async (name, what, timeout) => {
    if (skip.has(name)) return;
    console.error(`\n== ${name} (${what}) ==`);
    try {
      const results = await run(
        "deno",
        ["run", "-A", `bench/${name}.ts`],
        false,
        timeout,
      );
      sectionsBroken ||= /✗ [^|\s]/.test(results);
      sections.push(results);
    } catch (error) {
      sectionsBroken = true;
      sections.push(`## ${name}\n\nFailed: ${error.message}\n`);
    }
  };
  await once("relays", "Deno and Bun instances on Redis", RELAYS_TIMEOUT_MS);
  for (const file of ["relay", "hub", "memory_topics"]) {
    if (skip.has(file)) continue;
    for (const { runtime, results, error } of await runEach(file, false)) {
      // Their check columns say "✗ <what>" for output that failed its check.
      sectionsBroken ||= Boolean(error) || /✗ [^|\s]/.test(results);
      sections.push(
        results ?? `## ${file} (${runtime.name})\n\nFailed: ${error.message}\n`,
      );
    }
  }
  await once("topics", "Deno and Bun instances on Redis", TOPICS_TIMEOUT_MS);
  await once(
    "fanout",
    "a server per runtime and implementation",
    FANOUT_TIMEOUT_MS,
  );
  const markdown = report(outcomes) + nodeReport(nodeOutcomes) +
    parseReport(parseOutcomes) + "\n" + sections.join("\n");
  await writeFile(reportPath, markdown);
  // `deno fmt --check bench` covers the report too, so it is written in the
  // formatter's layout rather than a hand-maintained imitation of it.
  spawnSync("deno", ["fmt", "--quiet", reportPath], { cwd: root, env });
  await writeFile(
    rawPath,
    JSON.stringify(
      [...outcomes, ...nodeOutcomes, ...parseOutcomes].map((
        { runtime, results, error },
      ) => results ?? { runtime: runtime.name, error: error.message }),
      null,
      1,
    ),
  );
  console.log(markdown);
  console.error(`Wrote ${reportPath} and ${rawPath}`);
  // Missed targets are findings to report, not failures; a crashed runtime
  // or output that failed its check is.
  const broken = outcomes.some(({ results, error }) =>
    error ||
    results.throughput.some((r) => r.error) ||
    results.stages.some((r) => r.error)
  ) ||
    nodeOutcomes.some(({ results, error }) =>
      error || results.throughput.some((r) => r.error)
    ) ||
    parseOutcomes.some(({ results, error }) =>
      error || parseFailures(results).length > 0
    );
  process.exitCode = broken || sectionsBroken ? 1 : 0;
}

await main();
