/**
 * The body of the `Request` that `ssekit/node` hands a handler when a body
 * parser before it (Express's `express.json()`, `text()`, `raw()`,
 * `urlencoded()`) has read it already (internal): rebuilt from what the
 * parser left in `req.body`.
 *
 * @module
 */

import type { IncomingMessage } from "node:http";
import { describe } from "./_checks.ts";

// Whether something before the handler (a body parser: express.json, text,
// raw, urlencoded, Fastify's) has read the request body to its end, so the
// socket has nothing more to give. readableEnded is the signal on Node, Deno
// and Bun alike; complete without readable is on-finished's (what
// body-parser itself checks), for look-alikes without readableEnded.
// req.body alone is no signal: body-parser sets it to undefined on every
// request it sees, even one whose content-type it skips unread.
export function bodyConsumed(req: IncomingMessage): boolean {
  return req.readableEnded || (req.complete && !req.readable);
}

// The framing of the body as it came; a body rebuilt from what a parser left
// has its own length, and is never compressed (parsers inflate).
const FRAMING = new Set([
  "content-length",
  "content-encoding",
  "transfer-encoding",
]);
// The essence of a JSON media type: application/json, text/json, and any
// +json suffix (application/problem+json, application/vnd.api+json).
const JSON_TYPE = /^[\w.+-]+\/(?:[\w.+-]+\+)?json$/;
const FORM_TYPE = "application/x-www-form-urlencoded";
const CHARSET = /(;\s*charset\s*=\s*)("[^"]*"|[^;\s]*)/i;

// A content-type for a body now encoded as UTF-8 (a parser decoded it from
// the charset it declared).
function utf8ContentType(type: string): string {
  const match = CHARSET.exec(type);
  if (!match || /^"?utf-8"?$/i.test(match[2])) return type;
  return type.replace(CHARSET, "$1utf-8");
}

// Encodes a parsed form back as qs and body-parser's urlencoded parse it:
// repeated keys for an array, brackets for a nested object (a[b]=c), and
// an index for an object inside an array (a[0][b]=c).
function formEncode(value: object): string {
  const params = new URLSearchParams();
  const add = (key: string, item: unknown): void => {
    if (Array.isArray(item)) {
      item.forEach((element, i) =>
        add(
          element !== null && typeof element === "object"
            ? `${key}[${i}]`
            : key,
          element,
        )
      );
    } else if (item !== null && typeof item === "object") {
      for (const [name, inner] of Object.entries(item)) {
        add(`${key}[${name}]`, inner);
      }
    } else if (item !== undefined) {
      params.append(key, item === null ? "" : String(item));
    }
  };
  for (const [name, item] of Object.entries(value)) add(name, item);
  return params.toString();
}

function isJSON(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

// What the Request's body is built from when a parser read the stream:
// the bytes, text or value the parser left in req.body, with a content-type
// that describes it. Mutates `headers` (the request's, as a list).
export function parsedBody(
  req: IncomingMessage & { body?: unknown },
  headers: [string, string][],
): BodyInit {
  const { body } = req;
  let type = req.headers["content-type"];
  const essence = type?.split(";")[0].trim().toLowerCase() ?? "";
  const rebuilt = (): BodyInit => {
    // A Buffer (express.raw) is a Uint8Array over an ArrayBuffer.
    if (body instanceof Uint8Array) return body as Uint8Array<ArrayBuffer>;
    if (body instanceof ArrayBuffer) return body;
    if (
      typeof body === "string" &&
      // A JSON parser (strict: false) leaves a top-level string as its
      // value, where a text parser leaves the JSON text itself.
      (!JSON_TYPE.test(essence) || isJSON(body))
    ) {
      if (type !== undefined) type = utf8ContentType(type);
      return body;
    }
    if (essence === FORM_TYPE && body !== null && typeof body === "object") {
      type = utf8ContentType(type!);
      return formEncode(body);
    }
    // A body that was empty all along is still the whole body.
    if (body === undefined && req.headers["content-length"] === "0") return "";
    let json: string | undefined;
    let cause: unknown;
    try {
      // undefined for a function or a symbol; throws for a cycle or a bigint.
      json = JSON.stringify(body);
    } catch (error) {
      cause = error;
    }
    if (json === undefined) {
      throw new TypeError(
        `The request body was already read by a body parser, which left ${
          body === undefined
            ? "no req.body"
            : `a req.body that cannot be sent as JSON (${describe(body)})`
        } to rebuild it from: put the handler before the parser, or leave the parsed body in req.body`,
        { cause },
      );
    }
    type = type !== undefined && JSON_TYPE.test(essence)
      ? utf8ContentType(type)
      : "application/json";
    return json;
  };
  let init: BodyInit;
  try {
    init = rebuilt();
  } catch (error) {
    // In the body, not thrown: a handler that does not read it still runs,
    // and one that does gets a rejection it can answer, never a wait.
    init = new ReadableStream({ start: (c) => c.error(error) });
  }
  for (let i = headers.length - 1; i >= 0; i--) {
    const name = headers[i][0].toLowerCase();
    if (FRAMING.has(name) || name === "content-type") headers.splice(i, 1);
  }
  if (type !== undefined) headers.push(["content-type", type]);
  return init;
}
