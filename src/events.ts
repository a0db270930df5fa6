/**
 * Typed events: one definition of the events a stream carries, made with
 * {@linkcode defineEvents} and given to both ends as their `events` option,
 * so what a server sends and what a client reads cannot drift apart. The
 * server side checks at compile time (a misspelled event name or a wrong
 * data shape does not compile); the client side decodes every `data` as
 * JSON and, with schemas, validates it at run time (any Standard Schema:
 * zod, valibot, arktype…), so a message is never passed on as a type it is
 * not.
 *
 * On the wire a typed stream is plain SSE whose data is always JSON (a
 * string too is sent as a JSON string), so untyped clients read it as well.
 * A typed reader decodes each message with `_message_decoder.ts`.
 *
 * (Over ~150 lines: it is the public types of typed events, each with its
 * documentation and example, read together; the code is `defineEvents`,
 * the validation error and two small send-side checks. The Standard Schema
 * types it builds on are `standard_schema.ts`.)
 *
 * @module
 */

import type { SSEEvent, SSEMessage } from "./types.ts";
import { checkOption, describe } from "./_checks.ts";
import type {
  StandardSchemaIssue,
  StandardSchemaResult,
  StandardSchemaV1,
} from "./standard_schema.ts";

// Re-exported so this module documents on its own (deno doc --lint).
export type { StandardSchemaIssue, StandardSchemaResult, StandardSchemaV1 };

/**
 * A map from event type to the type of its data, describing one stream.
 *
 * @example A chat reply's events
 * ```ts
 * import type { SSEEventMap } from "@ssekit/ssekit";
 *
 * type Chat = { token: string; done: { usage: number } };
 * const check: SSEEventMap = {} as Chat;
 * ```
 */
export type SSEEventMap = { [type: string]: unknown };

/**
 * One event of map `M` as a server sends it: `event` names one of the
 * map's types (it may be left out for `"message"`) and `data` has that
 * type's shape.
 *
 * @example A token
 * ```ts
 * import type { TypedSSEEvent } from "@ssekit/ssekit";
 *
 * type Chat = { token: string; done: { usage: number } };
 * const event: TypedSSEEvent<Chat> = { event: "token", data: "Hel" };
 * ```
 */
export type TypedSSEEvent<M extends SSEEventMap> =
  | {
    [K in keyof M & string]: TypedEventFields & { event: K; data: M[K] };
  }[keyof M & string]
  // Written apart, not as a conditional inside the mapped type: TypeScript
  // then keeps a literal `event` a callback returns (a map's) as a literal.
  | ("message" extends keyof M
    ? TypedEventFields & { event?: undefined; data: M["message"] }
    : never);

/**
 * The fields every typed event may carry besides its type and data.
 *
 * @example A typed event with an id and a retry hint
 * ```ts
 * import type { TypedEventFields } from "@ssekit/ssekit";
 *
 * const fields: TypedEventFields = { id: 42, retry: 5_000, comment: "resumable" };
 * ```
 */
export interface TypedEventFields {
  /** The event id. */
  id?: string | number;
  /** A reconnection delay hint in milliseconds. */
  retry?: number;
  /** A comment line. */
  comment?: string;
}

/**
 * One message of map `M` as a client receives it: checking `type` narrows
 * `data` to that type's shape.
 *
 * @example Narrowing
 * ```ts
 * import type { TypedSSEMessage } from "@ssekit/ssekit";
 *
 * type Chat = { token: string; done: { usage: number } };
 * function show(message: TypedSSEMessage<Chat>): string {
 *   return message.type === "token" ? message.data : `${message.data.usage} tokens`;
 * }
 * ```
 */
export type TypedSSEMessage<M extends SSEEventMap> = {
  [K in keyof M & string]: {
    type: K;
    data: M[K];
    lastEventId: string;
    id?: string;
  };
}[keyof M & string];

/**
 * The schemas of a map's types, each optional.
 *
 * @example Schemas for some of a map's types
 * ```ts
 * import type { SSEEventSchemas } from "@ssekit/ssekit";
 *
 * const schemas: SSEEventSchemas<{ token: string; done: null }> = {
 *   token: {
 *     "~standard": {
 *       version: 1,
 *       vendor: "example",
 *       validate: (value) =>
 *         typeof value === "string" ? { value } : { issues: [{ message: "not a string" }] },
 *     },
 *   },
 * };
 * ```
 */
export type SSEEventSchemas<M extends SSEEventMap> = {
  readonly [K in keyof M]?: StandardSchemaV1<unknown, M[K]>;
};

/**
 * The definition of a stream's events (see {@linkcode defineEvents}): give
 * it as the `events` option to `createSSEStream`, `createHub`, `relaySSE`,
 * `connectSSE` and `parseSSE`.
 *
 * @example A definition for a server and its clients
 * ```ts
 * import assert from "node:assert/strict";
 * import { defineEvents, type SSEEvents } from "@ssekit/ssekit";
 *
 * const chat: SSEEvents<{ token: string; done: null }> = defineEvents();
 * assert.equal(chat.schemas, undefined); // types only: checked at compile time
 * ```
 */
export interface SSEEvents<M extends SSEEventMap> {
  /** The schemas by event type, when the definition has them. */
  readonly schemas: SSEEventSchemas<M> | undefined;
  /** Type-only: never set at run time. */
  readonly map?: M;
}

/**
 * The output type of a Standard Schema.
 *
 * @example The type a schema validates to
 * ```ts
 * import type { SchemaOutput, StandardSchemaV1 } from "@ssekit/ssekit";
 *
 * type Price = SchemaOutput<StandardSchemaV1<unknown, number>>;
 * const price: Price = 9.5;
 * ```
 */
export type SchemaOutput<S> = S extends StandardSchemaV1<unknown, infer O> ? O
  : never;

/**
 * Defines a stream's events, from a map type (`defineEvents<Chat>()`:
 * JSON data, types checked at compile time only) or from schemas
 * (`defineEvents({ token: z.string(), done: z.object(…) })`: the map is
 * their output types, and clients validate every message).
 *
 * @example Shared by a server and a client
 * ```ts
 * import assert from "node:assert/strict";
 * import { createSSEStream, defineEvents, parseSSE } from "@ssekit/ssekit";
 *
 * type Chat = { token: string; done: { usage: number } };
 * const chat = defineEvents<Chat>();
 *
 * const response = createSSEStream([
 *   { event: "token", data: "Hel" },
 *   { event: "token", data: "lo" },
 *   { event: "done", data: { usage: 2 } },
 * ], { events: chat });
 * const tokens: string[] = [];
 * let usage = 0;
 * for await (const message of parseSSE(response, { events: chat })) {
 *   if (message.type === "done") usage = message.data.usage; // a number
 *   else tokens.push(message.data); // a string
 * }
 * assert.deepEqual([tokens, usage], [["Hel", "lo"], 2]);
 * ```
 *
 * @param schemas Standard Schemas by event type (optional).
 * @returns The definition.
 * @throws {TypeError} When a schema is not a Standard Schema.
 */
export function defineEvents<M extends SSEEventMap>(): SSEEvents<M>;
/**
 * Defines a stream's events from Standard Schemas: the map is their output
 * types, and clients validate every message with them.
 *
 * @param schemas Standard Schemas by event type.
 * @returns The definition.
 */
export function defineEvents<S extends Record<string, StandardSchemaV1>>(
  schemas: S,
): SSEEvents<{ [K in keyof S]: SchemaOutput<S[K]> }>;
export function defineEvents(
  schemas?: Record<string, StandardSchemaV1>,
): SSEEvents<SSEEventMap> {
  if (schemas !== undefined) {
    if (typeof schemas !== "object" || schemas === null) {
      throw new TypeError(
        `Invalid defineEvents schemas: expected an object of Standard Schemas by event type, got ${
          describe(schemas)
        }`,
      );
    }
    for (const [type, schema] of Object.entries(schemas)) {
      if (
        typeof (schema as Partial<StandardSchemaV1> | null)?.["~standard"]
          ?.validate !== "function"
      ) {
        throw new TypeError(
          `Invalid defineEvents schema for ${
            JSON.stringify(type)
          }: expected a Standard Schema (with ["~standard"].validate), got ${
            describe(schema)
          }`,
        );
      }
    }
  }
  return Object.freeze({ schemas: schemas && Object.freeze({ ...schemas }) });
}

/**
 * A message that is not what the stream's definition says: its data is not
 * JSON, its type is not one the schemas name, or a schema refused it. The
 * message is kept, as received, for inspection.
 *
 * @example Reading past bad messages
 * ```ts
 * import assert from "node:assert/strict";
 * import { defineEvents, parseSSE, SSEValidationError } from "@ssekit/ssekit";
 *
 * const chat = defineEvents<{ token: string }>();
 * const body = ReadableStream.from([
 *   'event: token\ndata: "Hel"\n\n',
 *   "event: token\ndata: lo\n\n", // not JSON
 *   'event: token\ndata: "lo"\n\n',
 * ]);
 * const invalid: SSEValidationError[] = [];
 * const tokens = [];
 * for await (
 *   const message of parseSSE(body, {
 *     events: chat,
 *     onInvalid: (error) => invalid.push(error), // skipped, not thrown
 *   })
 * ) tokens.push(message.data);
 * assert.deepEqual(tokens, ["Hel", "lo"]);
 * assert.equal(invalid[0].received.data, "lo");
 * ```
 */
export class SSEValidationError extends TypeError {
  /** The message as it was received, its data the raw text. */
  readonly received: SSEMessage;
  /** What the schema found, when a schema refused it. */
  readonly issues: readonly StandardSchemaIssue[];

  /**
   * Makes the error for a message that is not what its stream says.
   *
   * @param received The message as received.
   * @param reason What is wrong with it.
   * @param issues The schema's issues, if any.
   */
  constructor(
    received: SSEMessage,
    reason: string,
    issues: readonly StandardSchemaIssue[] = [],
  ) {
    super(
      `Invalid SSE message of type ${JSON.stringify(received.type)}: ${reason}`,
    );
    this.name = "SSEValidationError";
    this.received = received;
    this.issues = issues;
  }
}

/**
 * Checks an `events` option of `owner`: undefined, or what defineEvents
 * made. ("SSE" until every caller names itself.)
 */
export function checkEvents(events: unknown, owner = "SSE"): void {
  checkOption(
    events === undefined ||
      (typeof events === "object" && events !== null && "schemas" in events),
    owner,
    "events",
    "the result of defineEvents()",
    events,
  );
}

/**
 * The event as a typed stream sends it: its data as JSON, strings
 * included, so a client decodes every data alike.
 */
export function jsonEvent(event: SSEEvent | string): SSEEvent {
  if (typeof event === "string") return { data: JSON.stringify(event) };
  if (event.data === undefined) return event;
  const data = JSON.stringify(event.data);
  if (typeof data !== "string") {
    throw new TypeError(
      `Invalid SSE event field "data": a typed stream's data must be JSON, got ${
        describe(event.data)
      }`,
    );
  }
  return { ...event, data };
}

/**
 * A received message with its data decoded.
 *
 * @example A message whose JSON data is parsed
 * ```ts
 * import type { DecodedMessage } from "@ssekit/ssekit";
 *
 * const message: DecodedMessage = { type: "token", data: { text: "Hi" }, lastEventId: "" };
 * ```
 */
export type DecodedMessage = Omit<SSEMessage, "data"> & { data: unknown };

/**
 * Options of the readers (`parseSSE`, `connectSSE`) for a typed stream.
 *
 * @example Skipping messages that do not match
 * ```ts
 * import { defineEvents, type TypedReadOptions } from "@ssekit/ssekit";
 *
 * const options: TypedReadOptions<{ token: string }> = {
 *   events: defineEvents<{ token: string }>(),
 *   onInvalid: (error) => console.warn(error.message),
 * };
 * ```
 */
export interface TypedReadOptions<M extends SSEEventMap> {
  /** The stream's events ({@linkcode defineEvents}). */
  events: SSEEvents<M>;
  /**
   * Called with each message that is not what the definition says; it is
   * then skipped. Without it, reading fails with the
   * {@linkcode SSEValidationError} (and the stream is closed).
   */
  onInvalid?: (error: SSEValidationError) => void;
}

/**
 * Decodes one message of a typed reader (`parseSSE`, `connectSSE`): the
 * decoded message, or undefined when it is invalid and `onInvalid` took it.
 * Without `onInvalid`, the {@linkcode SSEValidationError} is thrown.
 */
export type MessageDecoder = (
  message: SSEMessage,
) => Promise<DecodedMessage | undefined>;
