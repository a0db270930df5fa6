// `node:test` for the browser bundle of the core tests. Registering mirrors
// node:test (describe bodies run at once, tests are collected); running is
// left to the Node side (core.browser.ts), which walks the collected tree
// through the `Harness` on globalThis and runs one test per call, so that
// every browser test is a node:test subtest of its own there. The workerd
// harness (tests/workerd/) uses it the same way. Only what the core test
// files use is here: describe() with a name and a function, test() with a
// name, optionally `{ timeout }`, and a function. Anything else fails the
// bundle or the test.
import { inspect } from "./_assert_shim.ts";

type TestFn = () => unknown;
type SuiteFn = () => unknown;

/** What the Node side sees of the collected tests. */
export interface TreeNode {
  id: number;
  kind: "suite" | "test";
  name: string;
  children?: TreeNode[];
}

export interface Outcome {
  status: "pass" | "fail";
  error?: { name: string; message: string; stack: string };
}

/** Installed on globalThis as `__ssekitTests`. */
export interface Harness {
  tree(): TreeNode;
  run(id: number, timeout: number): Promise<Outcome>;
  /** Errors nobody caught outside any test. */
  stray(): string[];
}

interface Suite {
  id: number;
  kind: "suite";
  name: string;
  children: (Suite | Test)[];
}

interface Test {
  id: number;
  kind: "test";
  name: string;
  fn: TestFn;
  /** Its own timeout, when shorter than the harness's. */
  timeout?: number;
}

interface TestOptions {
  timeout?: number;
}

const root: Suite = { id: 0, kind: "suite", name: "", children: [] };
const byId: (Suite | Test)[] = [root];
let current = root;

// Options or a missing name would be dropped silently: refuse them.
function check(kind: string, name: unknown, fn: unknown): void {
  if (typeof name !== "string" || typeof fn !== "function") {
    throw new TypeError(
      `${kind}(name, fn) is all the browser shim of node:test supports`,
    );
  }
}

export function test(name: string, fn: TestFn): void;
export function test(name: string, options: TestOptions, fn: TestFn): void;
export function test(
  name: string,
  optionsOrFn: TestOptions | TestFn,
  maybeFn?: TestFn,
): void {
  const [options, fn] = typeof optionsOrFn === "function"
    ? [{}, optionsOrFn]
    : [optionsOrFn, maybeFn];
  check("test", name, fn);
  if (Object.keys(options).some((key) => key !== "timeout")) {
    throw new TypeError(
      `test("${name}"): only the timeout option is supported by the shim of node:test`,
    );
  }
  const node: Test = {
    id: byId.length,
    kind: "test",
    name,
    fn: fn as TestFn,
    timeout: options.timeout,
  };
  byId.push(node);
  current.children.push(node);
}

export function describe(name: string, fn: SuiteFn): void {
  check("describe", name, fn);
  const suite: Suite = { id: byId.length, kind: "suite", name, children: [] };
  byId.push(suite);
  current.children.push(suite);
  const outer = current;
  current = suite;
  try {
    if (fn() instanceof Promise) {
      // Tests registered after an await would land in the wrong suite.
      throw new Error(
        `describe("${name}"): an async body is not supported in the browser`,
      );
    }
  } finally {
    current = outer;
  }
}

function errorOf(error: unknown): NonNullable<Outcome["error"]> {
  if (error instanceof Error) {
    return {
      name: error.name,
      message: error.message,
      stack: error.stack ?? `${error.name}: ${error.message}`,
    };
  }
  const text = `Non-error thrown: ${inspect(error)}`;
  return { name: "Error", message: text, stack: text };
}

/** Errors nobody caught; one arriving while a test runs fails that test. */
let running: ((error: unknown) => void) | undefined;
const stray: string[] = [];
function uncaught(error: unknown): void {
  if (running) running(error);
  else stray.push(errorOf(error).stack);
}
globalThis.addEventListener?.("error", (event) => uncaught(event.error));
globalThis.addEventListener?.(
  "unhandledrejection",
  (event) => uncaught(event.reason),
);

async function run(id: number, limit: number): Promise<Outcome> {
  const node = byId[id];
  if (!node || node.kind !== "test") throw new Error(`no test ${id}`);
  const timeout = Math.min(limit, node.timeout ?? limit);
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await new Promise<void>((resolve, reject) => {
      running = reject;
      timer = setTimeout(
        () =>
          reject(new Error(`test "${node.name}" timed out after ${timeout}ms`)),
        timeout,
      );
      Promise.resolve().then(node.fn).then(() => resolve(), reject);
    });
    return { status: "pass" };
  } catch (error) {
    return { status: "fail", error: errorOf(error) };
  } finally {
    clearTimeout(timer);
    running = undefined;
  }
}

function toTree(node: Suite | Test): TreeNode {
  const out: TreeNode = { id: node.id, kind: node.kind, name: node.name };
  if (node.kind === "suite") out.children = node.children.map(toTree);
  return out;
}

const harness: Harness = {
  tree: () => toTree(root),
  run,
  stray: () => stray.splice(0),
};
(globalThis as { __ssekitTests?: Harness }).__ssekitTests = harness;
