/**
 * The checks of a hub's arguments: topic names, subscribe options, and
 * calls after close.
 *
 * @module
 */

import { describe } from "./_checks.ts";
import type { HubSubscribeOptions } from "./_hub_options.ts";

/** The error of a call made after `close()`. */
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

/** Throws a `TypeError` unless `topic` is a valid topic name. */
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

/** Throws a `TypeError` for a bad option of `subscribe`. */
export function checkSubscribeOptions(options: HubSubscribeOptions): void {
  const { lastEventId, signal } = options;
  if (lastEventId !== undefined && typeof lastEventId !== "string") {
    throw new TypeError(
      `Invalid subscribe option "lastEventId": expected a string, got ${typeof lastEventId}`,
    );
  }
  if (
    signal !== undefined &&
    typeof (signal as Partial<AbortSignal>)?.addEventListener !== "function"
  ) {
    throw new TypeError(
      `Invalid subscribe option "signal": expected an AbortSignal, got ${typeof signal}`,
    );
  }
}
