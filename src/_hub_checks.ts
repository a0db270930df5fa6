/**
 * The checks of a hub's arguments: topic names, and calls after close.
 *
 * @module
 */

import { describe } from "./_checks.ts";

/** Who the hub's options are given to, as option errors name it. */
export const OWNER = "createHub";
export const DEFAULT_MAX_QUEUE = 256;
export const DEFAULT_CLOSE_RETRY = { min: 1_000, max: 5_000 };
export function hubClosed(method: string): TypeError {
  return new TypeError(
    `The hub is closed: ${method}() is not allowed after close(); create a new hub`,
  );
}

/** The longest topic name, in UTF-16 code units. */
const MAX_TOPIC_LENGTH = 1_024;
// Control characters and lone surrogates: a name with them is a mistake
// or an attack (log injection, keys two names could share).
const BAD_TOPIC =
  // deno-lint-ignore no-control-regex
  /[\u0000-\u001f\u007f-\u009f]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

export function checkTopic(topic: unknown): asserts topic is string {
  if (
    typeof topic !== "string" || topic === "" ||
    topic.length > MAX_TOPIC_LENGTH || BAD_TOPIC.test(topic)
  ) {
    throw new TypeError(
      `Invalid topic: expected a non-empty string of at most ${MAX_TOPIC_LENGTH} characters without control characters or lone surrogates, got ${
        typeof topic !== "string"
          ? describe(topic)
          : topic.length > MAX_TOPIC_LENGTH
          ? `${topic.length} characters`
          : JSON.stringify(topic)
      }`,
    );
  }
}
