/**
 * How modules check what they are given: {@linkcode checkOption}, the one
 * test-and-throw for options and its one message style, with the tests
 * most options need ({@linkcode checkCallback}, {@linkcode isObject},
 * {@linkcode isCount}, {@linkcode isPositive}); how a message shows
 * the value it got ({@linkcode describe}: enough to find the mistake, never
 * so much that it dumps a large object); and the one test of "is this a
 * promise" that every module shares.
 *
 * @module
 */

/** Shows `value` in an error message: strings quoted, others with their kind. */
export function describe(value: unknown): string {
  switch (typeof value) {
    case "string":
      return JSON.stringify(value);
    case "number":
    case "boolean":
    case "bigint":
      return `${typeof value} ${String(value)}`;
    case "undefined":
      return "undefined";
    case "function":
      return "a function";
    case "symbol":
      return "a symbol";
  }
  if (value === null) return "null";
  const name = (value as { constructor?: { name?: string } }).constructor?.name;
  if (!name || name === "Object") return "an object";
  return `${/^[aeiou]/i.test(name) ? "an" : "a"} ${name}`;
}

/**
 * Throws, unless `valid`, the one error every module gives for a bad
 * option: `Invalid <owner> option "<name>": expected <expected>, got
 * <value>` (a `TypeError` unless told; a `RangeError` for a value of the
 * right kind out of its range).
 */
export function checkOption(
  valid: boolean,
  owner: string,
  name: string,
  expected: string,
  value: unknown,
  kind: ErrorConstructor = TypeError,
): void {
  if (valid) return;
  throw new kind(
    `Invalid ${owner} option "${name}": expected ${expected}, got ${
      describe(value)
    }`,
  );
}

/** `checkOption` for an optional callback: undefined, or a function. */
export function checkCallback(
  owner: string,
  name: string,
  value: unknown,
): void {
  checkOption(
    value === undefined || typeof value === "function",
    owner,
    name,
    "a function",
    value,
  );
}

/** Whether `value` is an object (a function or `null` is not). */
export function isObject(value: unknown): value is object {
  return typeof value === "object" && value !== null;
}

/** Whether `value` is a safe integer ≥ `min`. */
export function isCount(value: unknown, min: number): value is number {
  return Number.isSafeInteger(value) && (value as number) >= min;
}

/** Whether `value` is a number > 0, `Infinity` included. */
export function isPositive(value: unknown): value is number {
  return typeof value === "number" && value > 0;
}

/** Whether `value` can be awaited: what `await` and `for await` treat as a promise. */
export function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as PromiseLike<unknown> | null)?.then === "function";
}
