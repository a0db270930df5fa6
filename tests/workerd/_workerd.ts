// Worker bundles and workerd configs for the tests that run ssekit inside
// workerd: the core suite (core.workerd.ts) and the Workers recipe
// (examples/workers/, checked by tests/frameworks.test.ts).
import { join } from "node:path";
import { build, type Plugin } from "esbuild";
import { capnpString, startWorkerd } from "../../scripts/workerd.mjs";

/** A worker's code as workerd loads it, and the map back to the TypeScript. */
export interface Bundle {
  js: string;
  map: string;
}

/**
 * Bundles `entry` (TypeScript source, resolved from `root`) as one ES
 * module for workerd. `plugins` swap modules for stand-ins.
 */
export async function bundleWorker(
  root: string,
  entry: string,
  plugins: Plugin[] = [],
): Promise<Bundle> {
  const result = await build({
    stdin: {
      contents: entry,
      resolveDir: root,
      sourcefile: "worker-entry.ts",
      loader: "ts",
    },
    bundle: true,
    format: "esm",
    platform: "neutral",
    mainFields: ["module", "main"],
    // Not written: only names the output, so the map's paths are root-relative.
    outfile: join(root, "worker.js"),
    write: false,
    sourcemap: "external",
    sourcesContent: false,
    logLevel: "silent",
    plugins,
  });
  const file = (suffix: string) =>
    result.outputFiles.find((f) => f.path.endsWith(suffix))!.text;
  return { js: file(".js"), map: file(".js.map") };
}

export interface WorkerConfig {
  /** The Durable Object class the worker exports, and its binding's name. */
  durableObject: { className: string; binding: string };
  /** Plain-text bindings (`env.NAME`). */
  text?: Record<string, string>;
  /**
   * Where the objects keep their storage: a directory (relative to the
   * config's), so that it outlives workerd; in memory by default.
   */
  storageDir?: string;
}

// Before the newest date workerd knows: a fixed date, so an upgrade of
// workerd does not change the behaviour under test.
const COMPATIBILITY_DATE = "2025-11-01";

/**
 * A workerd config serving `worker.js` on 127.0.0.1 (a free port), with
 * outbound fetches allowed to reach 127.0.0.1 (the test servers, and the
 * worker's own socket).
 */
export function workerConfig(config: WorkerConfig): string {
  const { className, binding } = config.durableObject;
  const bindings = [
    `(name = ${capnpString(binding)}, durableObjectNamespace = ${
      capnpString(className)
    })`,
    ...Object.entries(config.text ?? {}).map(([name, value]) =>
      `(name = ${capnpString(name)}, text = ${capnpString(value)})`
    ),
  ];
  const storage = config.storageDir === undefined
    ? "(inMemory = void)"
    : `(localDisk = "storage")`;
  const disk = config.storageDir === undefined ? "" : `
    (name = "storage", disk = (path = ${
    capnpString(config.storageDir)
  }, writable = true)),`;
  return `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [
    (name = "main", worker = .worker),
    (name = "net", network = (allow = ["public", "private", "local"])),${disk}
  ],
  sockets = [(name = "http", address = "127.0.0.1:0", http = (), service = "main")],
);
const worker :Workerd.Worker = (
  modules = [(name = "worker.js", esModule = embed "worker.js")],
  compatibilityDate = "${COMPATIBILITY_DATE}",
  durableObjectNamespaces = [
    (className = ${capnpString(className)}, uniqueKey = ${
    capnpString(`ssekit-${className}`)
  }),
  ],
  durableObjectStorage = ${storage},
  bindings = [${bindings.join(", ")}],
  globalOutbound = "net",
);
`;
}

/** Starts workerd serving `bundle` as configured; see scripts/workerd.mjs. */
export function serveWorker(
  bundle: Bundle,
  config: WorkerConfig,
  dir?: string,
): Promise<{ url: string; dir: string; stop(): Promise<void> }> {
  return startWorkerd(workerConfig(config), {
    files: { "worker.js": bundle.js },
    dir,
  });
}
