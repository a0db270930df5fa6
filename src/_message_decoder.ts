/**
 * The receiving side of typed events: each message a typed reader
 * (`parseSSE`, `connectSSE`) reads is decoded by the stream's definition
 * (`events.ts`): its data as JSON, its type among the schemas', and the
 * schema's verdict.
 *
 * @module
 */

import type { SSEMessage } from "./types.ts";
import { checkCallback } from "./_checks.ts";
import {
  checkEvents,
  type DecodedMessage,
  type MessageDecoder,
  type SSEEventMap,
  type SSEEvents,
  SSEValidationError,
  type TypedReadOptions,
} from "./events.ts";
import type { StandardSchemaV1 } from "./standard_schema.ts";

/**
 * Decodes a received message by a definition: JSON data, a known type and
 * the schema's verdict; throws an {@linkcode SSEValidationError} otherwise.
 */
async function decodeMessage(
  events: SSEEvents<SSEEventMap>,
  message: SSEMessage,
): Promise<DecodedMessage> {
  const { schemas } = events;
  let schema: StandardSchemaV1 | undefined;
  if (schemas !== undefined) {
    schema = Object.hasOwn(schemas, message.type)
      ? schemas[message.type]
      : undefined;
    if (schema === undefined) {
      throw new SSEValidationError(
        message,
        "the stream's definition has no such type",
      );
    }
  }
  let data: unknown;
  try {
    data = JSON.parse(message.data);
  } catch (error) {
    throw new SSEValidationError(
      message,
      `its data is not JSON (${(error as Error).message})`,
    );
  }
  if (schema !== undefined) {
    const result = await schema["~standard"].validate(data);
    if (result.issues) {
      throw new SSEValidationError(
        message,
        `its schema refused it: ${
          result.issues.map((issue) => issue.message).join("; ")
        }`,
        result.issues,
      );
    }
    data = result.value;
  }
  return { ...message, data };
}

/**
 * The decoder of `owner`'s typed options, checked before the reader is
 * made: a reader made and then dropped by a throw would hold its body.
 */
export function messageDecoder(
  owner: string,
  { events, onInvalid }: TypedReadOptions<SSEEventMap>,
): MessageDecoder {
  checkEvents(events, owner);
  checkCallback(owner, "onInvalid", onInvalid);
  return async (message) => {
    try {
      return await decodeMessage(events, message);
    } catch (error) {
      if (!(error instanceof SSEValidationError) || !onInvalid) throw error;
      onInvalid(error);
      return undefined;
    }
  };
}
