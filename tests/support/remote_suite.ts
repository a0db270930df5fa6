// Runs test files somewhere other than this process (headless Chromium,
// workerd) and reports each of their tests as a node:test subtest here, so
// a failure over there fails the run here. The runners (tests/browser/
// core.browser.ts, tests/workerd/core.workerd.ts) bundle the files with the
// stand-ins below and say how to reach the bundle; this file holds what they
// share: the stand-ins, the mapping of stacks back to TypeScript, and the
// mirroring of the remote suite tree.
import type { TestContext } from "node:test";
import type { SourceMap } from "node:module";
import { join, resolve } from "node:path";
import type { Plugin, PluginBuild } from "esbuild";
import type { Outcome, TreeNode } from "../browser/_node_test_shim.ts";

/** As `bun test --timeout 60000` gives each test. */
export const TEST_TIMEOUT = 60_000;

/**
 * An esbuild plugin swapping node:test and node:assert/strict for the
 * browser shims, and src/node.ts behind tests/support/server.ts for
 * `server`, the runner's own way to serve a test's handler; `more` adds
 * the runner's other stand-ins.
 */
export function standIns(
  root: string,
  server: string,
  more: (build: PluginBuild) => void = () => {},
): Plugin {
  const shims = join(root, "tests", "browser");
  return {
    name: "remote-suite-stand-ins",
    setup(b) {
      b.onResolve({ filter: /^node:test$/ }, () => ({
        path: join(shims, "_node_test_shim.ts"),
      }));
      b.onResolve({ filter: /^node:assert\/strict$/ }, () => ({
        path: join(shims, "_assert_shim.ts"),
      }));
      b.onResolve(
        { filter: /\/src\/node\.ts$/ },
        ({ importer }) =>
          importer === join(root, "tests", "support", "server.ts")
            ? { path: server }
            : undefined,
      );
      more(b);
    },
  };
}

/**
 * Turns a remote test's failure into an Error whose stack points at the
 * TypeScript: `frame` matches a bundle position, with line and column as
 * its two groups.
 */
export function remoteError(
  error: NonNullable<Outcome["error"]>,
  map: SourceMap,
  root: string,
  frame: RegExp,
): Error {
  const thrown = new Error(error.message);
  thrown.name = error.name;
  thrown.stack = mapStack(error.stack, map, root, frame);
  return thrown;
}

/** Points a stack's bundle positions (per `frame`) back at the TypeScript. */
export function mapStack(
  stack: string,
  map: SourceMap,
  root: string,
  frame: RegExp,
): string {
  return stack.replace(frame, (found, line: string, column: string) => {
    const entry = map.findEntry(Number(line) - 1, Number(column) - 1);
    if (!("originalSource" in entry)) return found;
    return `${resolve(root, entry.originalSource)}:${entry.originalLine + 1}:${
      entry.originalColumn + 1
    }`;
  });
}

/** How many remote tests ran to a pass or a failure, passed, were skipped. */
export interface Tally {
  ran: number;
  passed: number;
  skipped: number;
}

/**
 * Mirrors the remote suites and tests as node:test subtests, in order.
 * `run` runs one remote test by id and throws its failure; a test named in
 * `skipped` is reported as skipped with its reason instead.
 */
export async function mirrorSuite(
  t: TestContext,
  suite: TreeNode,
  run: (id: number) => Promise<void>,
  tally: Tally,
  skipped: Record<string, string> = {},
): Promise<void> {
  for (const node of suite.children ?? []) {
    if (node.kind === "suite") {
      await t.test(
        node.name,
        (st) => mirrorSuite(st, node, run, tally, skipped),
      );
      continue;
    }
    const skip = skipped[node.name];
    if (skip) {
      tally.skipped++;
      await t.test(node.name, { skip }, () => {});
      continue;
    }
    await t.test(node.name, { timeout: TEST_TIMEOUT + 5_000 }, async () => {
      tally.ran++;
      await run(node.id);
      tally.passed++;
    });
  }
}
