// `node:assert/strict` for the browser and workerd bundles of the core
// tests. Node's current strict mode: `lib/internal/util/comparisons.js` for
// deep equality and `lib/assert.js` for the error matchers of throws() and
// rejects(). Only what the core test files call is here (deepEqual, equal,
// ok, throws, rejects, match, notEqual, fail, notDeepEqual; throws() and
// rejects() with all four matcher kinds: class, RegExp, object, function):
// a test that calls anything else fails loudly, "assert.x is not a function".
//
// Kept over the npm `assert` package (2.1.0), measured on this suite:
// bundled in its place (with `process.env` stubbed), it too passes the 131
// Chromium and the workerd tests, and saves these ~600 lines, but it is
// 39 packages (2.9 MB installed, util and es-* polyfills) and an 11 times
// larger bundle (169 KB from 79 modules, against 15 KB from this file),
// ports an older Node's assert (messages differ), and needs a `process` in
// workerd. Nothing smaller runs the suites. The other two stand-ins have
// no package to replace them: _node_test_shim.ts is the protocol by which
// the Node side runs each page test as a subtest, and _server_bridge.ts
// lets the page's tests serve through a real node:http socket.

export class AssertionError extends Error {
  override name = "AssertionError";
  readonly code = "ERR_ASSERTION";
  actual: unknown;
  expected: unknown;
  operator: string;
  generatedMessage: boolean;

  constructor(options: {
    message?: string;
    actual?: unknown;
    expected?: unknown;
    operator: string;
    generated: string;
  }) {
    super(options.message ?? options.generated);
    this.actual = options.actual;
    this.expected = options.expected;
    this.operator = options.operator;
    this.generatedMessage = options.message === undefined;
  }
}

type Message = string | Error | undefined;

function fail(
  message: Message,
  generated: string,
  details: { actual?: unknown; expected?: unknown; operator: string },
): never {
  // Node throws an Error given as the message instead of its own.
  if (message instanceof Error) throw message;
  throw new AssertionError({ message, generated, ...details });
}

// ---------------------------------------------------------------- inspect

const tagOf = (value: object): string => Object.prototype.toString.call(value);

function quote(text: string): string {
  return `'${
    JSON.stringify(text).slice(1, -1).replace(/\\"/g, '"').replace(/'/g, "\\'")
  }'`;
}

/** A compact `util.inspect` for assertion messages and reported throws. */
export function inspect(value: unknown, depth = 4, seen = new Set()): string {
  if (typeof value === "string") return quote(value);
  if (typeof value === "bigint") return `${value}n`;
  if (typeof value === "number") {
    return Object.is(value, -0) ? "-0" : `${value}`;
  }
  if (typeof value === "symbol") return value.toString();
  if (typeof value === "function") {
    return `[${
      /^class\b/.test(Function.prototype.toString.call(value))
        ? "class"
        : "Function"
    } ${value.name || "(anonymous)"}]`;
  }
  if (value === null || typeof value !== "object") return String(value);
  if (seen.has(value)) return "[Circular *]";
  if (value instanceof Error) {
    return value.stack?.startsWith(`${value.name}: `) || !value.stack
      ? `${value.name}: ${value.message}`
      : `${value.name}: ${value.message}\n${value.stack}`;
  }
  if (value instanceof RegExp) return String(value);
  if (value instanceof Date) return value.toISOString();
  if (depth < 0) return Array.isArray(value) ? "[Array]" : "[Object]";
  seen.add(value);
  const inner = (v: unknown) => inspect(v, depth - 1, seen);
  let body: string[];
  let prefix = "";
  if (ArrayBuffer.isView(value) && !(value instanceof DataView)) {
    prefix = `${value.constructor.name}(${(value as Uint8Array).length}) `;
    body = Array.from(value as Uint8Array, (n) => inner(n));
  } else if (Array.isArray(value)) {
    body = Array.from(value, inner);
  } else if (value instanceof Map) {
    prefix = `Map(${value.size}) `;
    body = [...value].map(([k, v]) => `${inner(k)} => ${inner(v)}`);
  } else if (value instanceof Set) {
    prefix = `Set(${value.size}) `;
    body = [...value].map(inner);
  } else {
    const proto = Object.getPrototypeOf(value);
    const name = proto === null
      ? "[Object: null prototype]"
      : proto.constructor?.name ?? "";
    prefix = name && name !== "Object" ? `${name} ` : "";
    body = Reflect.ownKeys(value)
      .filter((key) => Object.prototype.propertyIsEnumerable.call(value, key))
      .map((key) =>
        `${
          typeof key === "symbol"
            ? `[${key.toString()}]`
            : /^[A-Za-z_$][\w$]*$/.test(key)
            ? key
            : quote(key)
        }: ${inner((value as Record<PropertyKey, unknown>)[key])}`
      );
  }
  seen.delete(value);
  const [open, close] = Array.isArray(value) || ArrayBuffer.isView(value)
    ? ["[", "]"]
    : ["{", "}"];
  if (body.length === 0) return `${prefix}${open}${close}`;
  const flat = `${prefix}${open} ${body.join(", ")} ${close}`;
  if (flat.length <= 72 && !flat.includes("\n")) return flat;
  return `${prefix}${open}\n${
    body.map((line) => "  " + line.replace(/\n/g, "\n  ")).join(",\n")
  }\n${close}`;
}

// ---------------------------------------------------------- deep equality

const enumerableKeys = (value: object): PropertyKey[] =>
  Reflect.ownKeys(value).filter((key) =>
    Object.prototype.propertyIsEnumerable.call(value, key)
  );

// The bytes of a buffer, or the bytes a view looks at.
function bytesOf(value: ArrayBufferView | ArrayBuffer): Uint8Array {
  return value instanceof ArrayBuffer ||
      tagOf(value) === "[object SharedArrayBuffer]"
    ? new Uint8Array(value as ArrayBuffer)
    : new Uint8Array(
      (value as ArrayBufferView).buffer,
      (value as ArrayBufferView).byteOffset,
      (value as ArrayBufferView).byteLength,
    );
}

function sameBytes(a: ArrayBufferView | ArrayBuffer, b: typeof a): boolean {
  const x = bytesOf(a);
  const y = bytesOf(b);
  if (x.length !== y.length) return false;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

type Memo = Map<object, Set<object>>;

/** Node's `isDeepStrictEqual`. */
export function isDeepStrictEqual(
  a: unknown,
  b: unknown,
  memo: Memo = new Map(),
): boolean {
  if (Object.is(a, b)) return true;
  if (
    typeof a !== "object" || typeof b !== "object" || a === null || b === null
  ) return false;
  if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return false;
  const tag = tagOf(a);
  if (tag !== tagOf(b)) return false;
  // A pair already under comparison is assumed equal (cycles).
  if (memo.get(a)?.has(b)) return true;
  if (!memo.has(a)) memo.set(a, new Set());
  memo.get(a)!.add(b);
  try {
    return compareObjects(a, b, tag, memo);
  } finally {
    memo.get(a)!.delete(b);
  }
}

function compareObjects(a: object, b: object, tag: string, memo: Memo) {
  const equal = (x: unknown, y: unknown) => isDeepStrictEqual(x, y, memo);
  let skipIndexKeys = false;
  if (Array.isArray(a)) {
    const other = b as unknown[];
    if (a.length !== other.length) return false;
    for (let i = 0; i < a.length; i++) {
      // Strict mode tells a hole from an explicit undefined.
      if ((i in a) !== (i in other)) return false;
      if (!equal(a[i], other[i])) return false;
    }
    skipIndexKeys = true;
  } else if (ArrayBuffer.isView(a)) {
    // Float arrays compare by bytes too, so -0 and 0 differ and NaN equals
    // itself, as in Node's strict mode.
    if (!sameBytes(a, b as ArrayBufferView)) return false;
    skipIndexKeys = !(a instanceof DataView);
  } else if (
    tag === "[object ArrayBuffer]" || tag === "[object SharedArrayBuffer]"
  ) {
    if (!sameBytes(a as ArrayBuffer, b as ArrayBuffer)) return false;
  } else if (a instanceof Date) {
    if (!Object.is(a.getTime(), (b as Date).getTime())) return false;
  } else if (a instanceof RegExp) {
    const other = b as RegExp;
    if (
      a.source !== other.source || a.flags !== other.flags ||
      a.lastIndex !== other.lastIndex
    ) return false;
  } else if (a instanceof Error) {
    const other = b as Error;
    // Non-enumerable, so the key walk below would miss them.
    if (a.message !== other.message || a.name !== other.name) return false;
    if (("cause" in a) !== ("cause" in other)) return false;
    if ("cause" in a && !equal(a.cause, other.cause)) return false;
    if (
      a instanceof AggregateError &&
      !equal(a.errors, (other as AggregateError).errors)
    ) return false;
  } else if (
    tag === "[object Number]" || tag === "[object String]" ||
    tag === "[object Boolean]" || tag === "[object BigInt]" ||
    tag === "[object Symbol]"
  ) {
    if (!Object.is(a.valueOf(), b.valueOf())) return false;
    skipIndexKeys = tag === "[object String]";
  } else if (a instanceof Map) {
    if (!mapsEqual(a, b as Map<unknown, unknown>, equal)) return false;
  } else if (a instanceof Set) {
    if (!setsEqual(a, b as Set<unknown>, equal)) return false;
  } else if (typeof URL === "function" && a instanceof URL) {
    if (a.href !== (b as URL).href) return false;
  }
  const isIndex = (key: PropertyKey) =>
    typeof key === "string" && /^(0|[1-9]\d*)$/.test(key);
  const keysA = enumerableKeys(a).filter((k) => !(skipIndexKeys && isIndex(k)));
  const keysB = enumerableKeys(b).filter((k) => !(skipIndexKeys && isIndex(k)));
  if (keysA.length !== keysB.length) return false;
  for (const key of keysA) {
    if (!Object.prototype.propertyIsEnumerable.call(b, key)) return false;
    if (
      !equal(
        (a as Record<PropertyKey, unknown>)[key],
        (b as Record<PropertyKey, unknown>)[key],
      )
    ) return false;
  }
  return true;
}

type Equal = (x: unknown, y: unknown) => boolean;
const isObject = (value: unknown): value is object =>
  (typeof value === "object" && value !== null) || typeof value === "function";

function setsEqual(a: Set<unknown>, b: Set<unknown>, equal: Equal): boolean {
  if (a.size !== b.size) return false;
  // Primitives must be in both; objects pair up with deep-equal partners.
  const unmatched: unknown[] = [];
  for (const value of a) {
    if (b.has(value)) continue;
    if (!isObject(value)) return false;
    unmatched.push(value);
  }
  if (unmatched.length === 0) return true;
  const candidates = [...b].filter((value) => isObject(value) && !a.has(value));
  for (const value of unmatched) {
    const index = candidates.findIndex((candidate) => equal(value, candidate));
    if (index === -1) return false;
    candidates.splice(index, 1);
  }
  return true;
}

function mapsEqual(
  a: Map<unknown, unknown>,
  b: Map<unknown, unknown>,
  equal: Equal,
): boolean {
  if (a.size !== b.size) return false;
  const unmatched: [unknown, unknown][] = [];
  for (const [key, value] of a) {
    if (b.has(key)) {
      if (!equal(value, b.get(key))) return false;
    } else if (!isObject(key)) return false;
    else unmatched.push([key, value]);
  }
  if (unmatched.length === 0) return true;
  const candidates = [...b].filter(([key]) => isObject(key) && !a.has(key));
  for (const [key, value] of unmatched) {
    const index = candidates.findIndex(([k, v]) =>
      equal(key, k) && equal(value, v)
    );
    if (index === -1) return false;
    candidates.splice(index, 1);
  }
  return true;
}

// ------------------------------------------------------------- assertions

function ok(value: unknown, message?: Message): void {
  if (!value) {
    fail(
      message,
      `The expression evaluated to a falsy value:\n\n  assert.ok(${
        inspect(value)
      })\n`,
      { actual: value, expected: true, operator: "==" },
    );
  }
}

function diff(title: string, actual: unknown, expected: unknown): string {
  return `${title}\n+ actual - expected\n\n+ ${
    inspect(actual).replace(/\n/g, "\n+ ")
  }\n- ${inspect(expected).replace(/\n/g, "\n- ")}\n`;
}

function equal(actual: unknown, expected: unknown, message?: Message): void {
  if (!Object.is(actual, expected)) {
    fail(
      message,
      diff("Expected values to be strictly equal:", actual, expected),
      {
        actual,
        expected,
        operator: "strictEqual",
      },
    );
  }
}

function deepEqual(
  actual: unknown,
  expected: unknown,
  message?: Message,
): void {
  if (!isDeepStrictEqual(actual, expected)) {
    fail(
      message,
      diff("Expected values to be strictly deep-equal:", actual, expected),
      { actual, expected, operator: "deepStrictEqual" },
    );
  }
}

function notEqual(actual: unknown, expected: unknown, message?: Message): void {
  if (Object.is(actual, expected)) {
    fail(
      message,
      `Expected "actual" to be strictly unequal to: ${inspect(expected)}`,
      { actual, expected, operator: "notStrictEqual" },
    );
  }
}

function notDeepEqual(
  actual: unknown,
  expected: unknown,
  message?: Message,
): void {
  if (isDeepStrictEqual(actual, expected)) {
    fail(
      message,
      `Expected "actual" not to be strictly deep-equal to: ${
        inspect(expected)
      }`,
      { actual, expected, operator: "notDeepStrictEqual" },
    );
  }
}

function match(string: unknown, regexp: RegExp, message?: Message): void {
  if (!(regexp instanceof RegExp)) {
    throw new TypeError('The "regexp" argument must be an instance of RegExp.');
  }
  if (typeof string !== "string") {
    fail(
      message,
      `The "string" argument must be of type string. Received type ${typeof string} (${
        inspect(string)
      })`,
      { actual: string, expected: regexp, operator: "match" },
    );
  }
  if (regexp.exec(string) === null) {
    fail(
      message,
      `The input did not match the regular expression ${regexp}. Input:\n\n${
        inspect(string)
      }\n`,
      { actual: string, expected: regexp, operator: "match" },
    );
  }
}

type ErrorMatcher =
  | RegExp
  | (new (...args: never[]) => unknown)
  | ((error: unknown) => unknown)
  | object;

/** Node's `expectedException`: how throws() and rejects() judge an error. */
function checkError(
  actual: unknown,
  expected: ErrorMatcher | undefined,
  message: Message,
  operator: string,
): void {
  if (expected === undefined) return;
  if (expected instanceof RegExp) {
    if (expected.exec(String(actual)) !== null) return;
    fail(
      message,
      `The input did not match the regular expression ${expected}. Input:\n\n${
        inspect(String(actual))
      }\n`,
      { actual, expected, operator },
    );
  }
  if (typeof expected === "function") {
    if (
      expected.prototype !== undefined &&
      actual instanceof (expected as new () => unknown)
    ) return;
    if (Object.prototype.isPrototypeOf.call(Error, expected)) {
      fail(
        message,
        `The error is expected to be an instance of "${expected.name}". Received ${
          isObject(actual) && actual.constructor?.name
            ? `"${actual.constructor.name}"`
            : inspect(actual)
        }\n\nError message:\n\n${(actual as Error)?.message ?? actual}`,
        { actual, expected, operator },
      );
    }
    const result = (expected as (error: unknown) => unknown).call({}, actual);
    if (result !== true) {
      fail(
        message,
        `The ${
          expected.name ? `"${expected.name}" ` : ""
        }validation function is expected to return "true". Received ${
          inspect(result)
        }\n\nCaught error:\n\n${inspect(actual)}`,
        { actual, expected, operator },
      );
    }
    return;
  }
  if (!isObject(actual)) {
    fail(
      message,
      `The "error" argument must be of type object. Received ${
        inspect(actual)
      }`,
      { actual, expected, operator },
    );
  }
  const keys = Object.keys(expected);
  // An Error's name and message are not enumerable, yet they are compared.
  if (expected instanceof Error) keys.push("name", "message");
  else if (keys.length === 0) {
    throw new TypeError(
      "The argument 'error' may not be an empty object. Received {}",
    );
  }
  for (const key of keys) {
    const want = (expected as Record<string, unknown>)[key];
    const got = (actual as Record<string, unknown>)[key];
    if (typeof got === "string" && want instanceof RegExp && want.exec(got)) {
      continue;
    }
    if (!isDeepStrictEqual(got, want)) {
      fail(
        message,
        diff(
          `Expected values to be strictly deep-equal (key "${key}"):`,
          got,
          want,
        ),
        { actual, expected, operator },
      );
    }
  }
}

const NO_ERROR = Symbol("no error");

function splitArgs(
  expected: ErrorMatcher | string | undefined,
  message: Message,
): [ErrorMatcher | undefined, Message] {
  // A string in the matcher's place is the message.
  return typeof expected === "string"
    ? [undefined, expected]
    : [expected, message];
}

function describeMissing(expected: ErrorMatcher | undefined, message: Message) {
  const name = typeof expected === "function" && expected.name
    ? ` (${expected.name})`
    : "";
  return `${name}${typeof message === "string" ? `: ${message}` : "."}`;
}

// What throws and rejects share once they know what was thrown, if anything.
function expectCaught(
  caught: unknown,
  expected: ErrorMatcher | undefined,
  msg: Message,
  operator: "throws" | "rejects",
): void {
  if (caught === NO_ERROR) {
    const what = operator === "throws" ? "exception" : "rejection";
    fail(
      msg instanceof Error ? msg : undefined,
      `Missing expected ${what}${describeMissing(expected, msg)}`,
      { actual: undefined, expected, operator },
    );
  }
  checkError(caught, expected, msg, operator);
}

function throws(
  fn: () => unknown,
  expectedOrMessage?: ErrorMatcher | string,
  message?: Message,
): void {
  if (typeof fn !== "function") {
    throw new TypeError('The "fn" argument must be of type function.');
  }
  const [expected, msg] = splitArgs(expectedOrMessage, message);
  let caught: unknown = NO_ERROR;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  expectCaught(caught, expected, msg, "throws");
}

function isThenable(value: unknown): value is Promise<unknown> {
  return value instanceof Promise ||
    (isObject(value) &&
      typeof (value as Promise<unknown>).then === "function" &&
      typeof (value as Promise<unknown>).catch === "function");
}

async function settle(
  promiseOrFn: Promise<unknown> | (() => Promise<unknown>),
): Promise<unknown> {
  let promise: unknown = promiseOrFn;
  if (typeof promiseOrFn === "function") {
    promise = promiseOrFn();
    if (!isThenable(promise)) {
      throw new TypeError(
        `Expected instance of Promise to be returned from the "promiseFn" function but got ${
          inspect(promise)
        }.`,
      );
    }
  } else if (!isThenable(promiseOrFn)) {
    throw new TypeError(
      'The "promiseFn" argument must be of type function or an instance of Promise.',
    );
  }
  try {
    await promise;
  } catch (error) {
    return error;
  }
  return NO_ERROR;
}

async function rejects(
  promiseOrFn: Promise<unknown> | (() => Promise<unknown>),
  expectedOrMessage?: ErrorMatcher | string,
  message?: Message,
): Promise<void> {
  const [expected, msg] = splitArgs(expectedOrMessage, message);
  const caught = await settle(promiseOrFn);
  expectCaught(caught, expected, msg, "rejects");
}

const assert = Object.assign(
  (value: unknown, message?: Message): void => ok(value, message),
  {
    AssertionError,
    ok,
    equal,
    strictEqual: equal,
    deepEqual,
    deepStrictEqual: deepEqual,
    notEqual,
    notStrictEqual: notEqual,
    notDeepEqual,
    notDeepStrictEqual: notDeepEqual,
    match,
    throws,
    rejects,
  },
);

export default Object.assign(assert, { strict: assert });
