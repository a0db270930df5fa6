// `node:test` for the browser bundle of the core tests. Registering mirrors
// node:test (describe bodies run at once, tests are collected); running is
// left to the Node side (core.browser.ts), which walks the collected tree
// through the `Harness` on globalThis and runs one test per call, so that
// every browser test is a node:test subtest of its own there.
import { inspect } from "./_assert_shim.ts";

type Done = (error?: unknown) => void;
type TestFn = (t: TestContext, done: Done) => unknown;
type SuiteFn = (s: { name: string; signal: AbortSignal }) => unknown;
type HookFn = (t: TestContext) => unknown;

export interface TestOptions {
  skip?: boolean | string;
  todo?: boolean | string;
  timeout?: number;
  concurrency?: number | boolean;
  only?: boolean;
}

/** What the Node side sees of the collected tests. */
export interface TreeNode {
  id: number;
  kind: "suite" | "test";
  name: string;
  /** A reason when skipped or todo; `true` when given without one. */
  skip?: string | true;
  todo?: string | true;
  children?: TreeNode[];
}

export interface Outcome {
  status: "pass" | "fail" | "skip" | "todo";
  /** For skip and todo: the reason given to t.skip() / t.todo(). */
  reason?: string;
  error?: { name: string; message: string; stack: string };
}

/** Installed on globalThis as `__ssekitTests`. */
export interface Harness {
  tree(): TreeNode;
  /** Runs a suite's `before` hooks. */
  enter(id: number): Promise<Outcome>;
  /** Runs a suite's `after` hooks. */
  leave(id: number): Promise<Outcome>;
  run(id: number, defaultTimeout: number): Promise<Outcome>;
  /** Errors nobody caught outside any test. */
  stray(): string[];
}

interface Hooks {
  before: HookFn[];
  after: HookFn[];
  beforeEach: HookFn[];
  afterEach: HookFn[];
}

interface Suite {
  id: number;
  kind: "suite";
  name: string;
  parent?: Suite;
  options: TestOptions;
  hooks: Hooks;
  children: (Suite | Test)[];
}

interface Test {
  id: number;
  kind: "test";
  name: string;
  parent: Suite;
  options: TestOptions;
  fn?: TestFn;
}

const newHooks = (): Hooks => ({
  before: [],
  after: [],
  beforeEach: [],
  afterEach: [],
});
const root: Suite = {
  id: 0,
  kind: "suite",
  name: "",
  options: {},
  hooks: newHooks(),
  children: [],
};
const byId: (Suite | Test)[] = [root];
let current = root;

function parseArgs<F>(
  args: unknown[],
): { name: string; options: TestOptions; fn?: F } {
  let [name, options, fn] = args as [unknown, unknown, unknown];
  if (typeof name === "function") [name, options, fn] = [name.name, {}, name];
  else if (typeof name === "object" && name !== null) {
    [name, options, fn] = [undefined, name, options];
  }
  if (typeof options === "function") [options, fn] = [{}, options];
  return {
    name: typeof name === "string" && name ? name : "<anonymous>",
    options: (options ?? {}) as TestOptions,
    fn: fn as F | undefined,
  };
}

function register<F>(kind: "suite" | "test", args: unknown[]): void {
  const { name, options, fn } = parseArgs<F>(args);
  if (kind === "test") {
    const test: Test = {
      id: byId.length,
      kind,
      name,
      parent: current,
      options,
      fn: fn as TestFn | undefined,
    };
    byId.push(test);
    current.children.push(test);
    return;
  }
  const suite: Suite = {
    id: byId.length,
    kind,
    name,
    parent: current,
    options,
    hooks: newHooks(),
    children: [],
  };
  byId.push(suite);
  current.children.push(suite);
  const outer = current;
  current = suite;
  try {
    const result = (fn as SuiteFn | undefined)?.({
      name,
      signal: new AbortController().signal,
    });
    if (result instanceof Promise) {
      // Tests registered after an await would land in the wrong suite.
      throw new Error(
        `describe("${name}"): an async body is not supported in the browser`,
      );
    }
  } finally {
    current = outer;
  }
}

type Register = ((...args: unknown[]) => void) & {
  skip: (...args: unknown[]) => void;
  todo: (...args: unknown[]) => void;
  only: (...args: unknown[]) => void;
};

function registrar(kind: "suite" | "test"): Register {
  const plain = (...args: unknown[]) => register(kind, args);
  const withOption = (extra: TestOptions) => (...args: unknown[]) => {
    const { name, options, fn } = parseArgs(args);
    register(kind, [name, { ...options, ...extra }, fn]);
  };
  return Object.assign(plain, {
    skip: withOption({ skip: true }),
    todo: withOption({ todo: true }),
    // Without --test-only, node:test runs `only` tests like any other.
    only: withOption({ only: true }),
  });
}

export const test: Register = registrar("test");
export const it: Register = test;
export const describe: Register = registrar("suite");
export const suite: Register = describe;

const hook = (kind: keyof Hooks) => (fn: HookFn): void => {
  current.hooks[kind].push(fn);
};
export const before: (fn: HookFn) => void = hook("before");
export const after: (fn: HookFn) => void = hook("after");
export const beforeEach: (fn: HookFn) => void = hook("beforeEach");
export const afterEach: (fn: HookFn) => void = hook("afterEach");

// ------------------------------------------------------------------ running

class TestContext {
  readonly name: string;
  readonly signal: AbortSignal;
  skipped?: string;
  todoReason?: string;

  constructor(name: string, signal: AbortSignal) {
    this.name = name;
    this.signal = signal;
  }

  // Like node:test, these mark the outcome; the function goes on running.
  skip(message = ""): void {
    this.skipped = message;
  }

  todo(message = ""): void {
    this.todoReason = message;
  }

  diagnostic(message: string): void {
    console.log(`# ${this.name}: ${message}`);
  }

  test(): never {
    throw new Error("t.test() subtests are not supported in the browser");
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

const reason = (value: boolean | string | undefined) =>
  typeof value === "string" && value ? value : true;

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

async function call(
  fn: TestFn | HookFn,
  t: TestContext,
  timeout: number,
  what: string,
): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await new Promise<void>((resolve, reject) => {
      running = reject;
      if (Number.isFinite(timeout)) {
        timer = setTimeout(
          () => reject(new Error(`${what} timed out after ${timeout}ms`)),
          timeout,
        );
      }
      // node:test passes a `done` callback to functions that declare one.
      if (fn.length >= 2) {
        fn(t, (error?: unknown) => error ? reject(error) : resolve());
        return;
      }
      Promise.resolve().then(() => fn(t, () => {})).then(
        () => resolve(),
        reject,
      );
    });
  } finally {
    clearTimeout(timer);
    running = undefined;
  }
}

function ancestors(node: Suite | Test): Suite[] {
  const chain: Suite[] = [];
  for (let s = node.parent; s; s = s.parent) chain.unshift(s);
  return chain;
}

async function runHooks(
  id: number,
  kind: "before" | "after",
): Promise<Outcome> {
  const suite = byId[id];
  if (!suite || suite.kind !== "suite") throw new Error(`no suite ${id}`);
  const t = new TestContext(suite.name, new AbortController().signal);
  try {
    for (const fn of suite.hooks[kind]) {
      await call(fn, t, Infinity, `${kind} hook of "${suite.name}"`);
    }
    return { status: "pass" };
  } catch (error) {
    return { status: "fail", error: errorOf(error) };
  }
}

async function run(id: number, defaultTimeout: number): Promise<Outcome> {
  const test = byId[id];
  if (!test || test.kind !== "test") throw new Error(`no test ${id}`);
  const aborter = new AbortController();
  const t = new TestContext(test.name, aborter.signal);
  const chain = ancestors(test);
  let failure: unknown;
  let failed = false;
  try {
    for (const suite of chain) {
      for (const fn of suite.hooks.beforeEach) {
        await call(fn, t, Infinity, `beforeEach hook of "${suite.name}"`);
      }
    }
    if (test.fn) {
      await call(
        test.fn,
        t,
        test.options.timeout ?? defaultTimeout,
        `test "${test.name}"`,
      );
    }
  } catch (error) {
    failed = true;
    failure = error;
  }
  for (const suite of chain.reverse()) {
    for (const fn of suite.hooks.afterEach) {
      try {
        await call(fn, t, Infinity, `afterEach hook of "${suite.name}"`);
      } catch (error) {
        if (!failed) [failed, failure] = [true, error];
      }
    }
  }
  aborter.abort();
  if (failed) return { status: "fail", error: errorOf(failure) };
  if (t.todoReason !== undefined) {
    return { status: "todo", reason: t.todoReason };
  }
  if (t.skipped !== undefined) return { status: "skip", reason: t.skipped };
  return { status: "pass" };
}

function toTree(node: Suite | Test): TreeNode {
  const out: TreeNode = { id: node.id, kind: node.kind, name: node.name };
  if (node.options.skip) out.skip = reason(node.options.skip);
  if (node.options.todo) out.todo = reason(node.options.todo);
  else if (node.kind === "test" && !node.fn) out.todo = true;
  if (node.kind === "suite") out.children = node.children.map(toTree);
  return out;
}

const harness: Harness = {
  tree: () => toTree(root),
  enter: (id) => runHooks(id, "before"),
  leave: (id) => runHooks(id, "after"),
  run,
  stray: () => stray.splice(0),
};
(globalThis as { __ssekitTests?: Harness }).__ssekitTests = harness;
