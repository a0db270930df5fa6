/**
 * How `ssekit/mcp` names things (internal): each MCP stream is the topic
 * `<prefix><session>/<stream>` (both ids percent-encoded), and each event
 * id is `<stream>/<store id>`, so any instance finds the topic from the id
 * alone.
 *
 * @module
 */

import { checkOption } from "../_checks.ts";

/** Separates the percent-encoded stream id from the store's id. */
const SEPARATOR = "/";
const DEFAULT_PREFIX = "mcp:";
/** Hub topics are at most this long (UTF-16 code units). */
const MAX_TOPIC_LENGTH = 1_024;
// Hub topics may not hold them: a mistake, or log injection.
// deno-lint-ignore no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/** Percent-encodes a stream or session id: the result has no "/". */
export function encodeId(value: string, what: string): string {
  try {
    return encodeURIComponent(value);
  } catch {
    throw new TypeError(
      `Invalid MCP ${what}: expected a string without lone surrogates, got ${
        JSON.stringify(value)
      }`,
    );
  }
}

/** An event id of this store's, taken apart. */
export interface ParsedId {
  /** The stream id. */
  stream: string;
  /** The stream id, percent-encoded. */
  encoded: string;
  /** The store's id of the event. */
  entry: string;
}

/** The topics and event ids of one session's streams. */
export interface McpIds {
  /** The topic of a percent-encoded stream id. */
  topicOf(encodedStream: string): string;
  /** The stream and store id of an event id, or undefined when not ours. */
  parse(eventId: unknown): ParsedId | undefined;
  /** The event id of a store id on a percent-encoded stream. */
  idOf(encoded: string, entry: string): string;
}

/**
 * The names of `session`'s streams under `prefix`.
 *
 * @throws {TypeError} When `session` or `prefix` is not a string (or too
 * long for a topic).
 */
export function mcpIds(
  session: string | undefined,
  prefix: string = DEFAULT_PREFIX,
): McpIds {
  checkOption(
    typeof prefix === "string" && !CONTROL.test(prefix),
    "mcpEventStore",
    "prefix",
    "a string without control characters",
    prefix,
  );
  encodeId(prefix, "topic prefix"); // Throws on lone surrogates.
  checkOption(
    session === undefined || (typeof session === "string" && session !== ""),
    "mcpEventStore",
    "session",
    "a non-empty string (the Mcp-Session-Id)",
    session,
  );
  const scope = prefix +
    (session === undefined ? "" : encodeId(session, "session id") + SEPARATOR);
  if (scope.length >= MAX_TOPIC_LENGTH) {
    throw new TypeError(
      `Invalid mcpEventStore options: the prefix and session take ${scope.length} characters, leaving none of the ${MAX_TOPIC_LENGTH} a topic may have`,
    );
  }
  return {
    topicOf(encodedStream) {
      const topic = scope + encodedStream;
      if (topic.length > MAX_TOPIC_LENGTH) {
        throw new TypeError(
          `Invalid MCP stream id: its topic would have ${topic.length} characters, over the ${MAX_TOPIC_LENGTH} a topic may have`,
        );
      }
      return topic;
    },

    parse(eventId) {
      if (typeof eventId !== "string") return undefined;
      const at = eventId.indexOf(SEPARATOR);
      if (at <= 0 || at === eventId.length - 1) return undefined;
      const encoded = eventId.slice(0, at);
      let stream: string;
      try {
        stream = decodeURIComponent(encoded);
      } catch {
        return undefined;
      }
      // One spelling per stream; a topic that is too long was never stored.
      if (encodeURIComponent(stream) !== encoded) return undefined;
      if (scope.length + encoded.length > MAX_TOPIC_LENGTH) return undefined;
      return { stream, encoded, entry: eventId.slice(at + 1) };
    },

    idOf: (encoded, entry) => encoded + SEPARATOR + entry,
  };
}
