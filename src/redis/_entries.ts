/**
 * How the Redis store (internal to `ssekit/redis`) checks topics and ids,
 * and maps a {@linkcode HubRecord} to a stream entry's fields and back.
 *
 * @module
 */

import type { HubEntry, HubRecord } from "../store.ts";

const MAX_TOPIC_LENGTH = 1_024;
const ID = /^(0|[1-9][0-9]*)-(0|[1-9][0-9]*)$/;
const MAX_ID_PART = "18446744073709551615"; // Redis ids are two u64s.
/** Redis rejects an entry without fields; this one stands for "none". */
const EMPTY_FIELD = "_";

/** A stream entry as `XRANGE` (and the read script) answers it. */
export type RawEntry = [id: string, fields: string[]];

/** Whether `id` is a stream id Redis would accept (`<ms>-<seq>`, two u64s). */
export function validId(id: string): boolean {
  const match = ID.exec(id);
  return match !== null &&
    match.slice(1).every((part) =>
      part.length < MAX_ID_PART.length ||
      (part.length === MAX_ID_PART.length && part <= MAX_ID_PART)
    );
}

/** Throws unless `topic` names one key of its own. */
export function checkTopic(topic: unknown): asserts topic is string {
  if (
    typeof topic !== "string" || topic === "" ||
    topic.length > MAX_TOPIC_LENGTH || /[\uD800-\uDFFF]/u.test(topic)
  ) {
    throw new TypeError(
      `Invalid topic for redisStore: expected a non-empty string of at most ${MAX_TOPIC_LENGTH} characters without lone surrogates (two such topics would share a key), got ${
        typeof topic === "string" ? `${topic.length} characters` : typeof topic
      }`,
    );
  }
}

/** The stream entry fields for `record`. */
export function toFields(record: HubRecord): string[] {
  const fields: string[] = [];
  if (record.event !== undefined) fields.push("event", record.event);
  if (record.data !== undefined) fields.push("data", record.data);
  if (record.retry !== undefined) fields.push("retry", String(record.retry));
  if (record.comment !== undefined) fields.push("comment", record.comment);
  if (record.end) fields.push("end", "1");
  return fields.length > 0 ? fields : [EMPTY_FIELD, ""];
}

/** The entry `id` whose fields are `fields`. */
export function toEntry(id: string, fields: readonly string[]): HubEntry {
  const entry: { -readonly [K in keyof HubEntry]: HubEntry[K] } = { id };
  for (let i = 0; i < fields.length; i += 2) {
    const value = fields[i + 1];
    switch (fields[i]) {
      case "event":
        entry.event = value;
        break;
      case "data":
        entry.data = value;
        break;
      case "retry":
        entry.retry = Number(value);
        break;
      case "comment":
        entry.comment = value;
        break;
      case "end":
        entry.end = true;
        break;
    }
  }
  return Object.freeze(entry);
}
