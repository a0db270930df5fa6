/**
 * {@linkcode SSEResponseError}: a response that is not an event stream.
 *
 * @module
 */

/**
 * The response that made a connection fail for good: a status other than
 * 200 (or 204, which ends a stream cleanly) or a `Content-Type` that is not
 * `text/event-stream`. `connectSSE` throws it from iteration; `relaySSE`
 * hands it to `onError`.
 *
 * @example Telling an expired session from other failures
 * ```ts
 * import assert from "node:assert/strict";
 * import { connectSSE, SSEResponseError } from "@ssekit/ssekit";
 *
 * // A server whose session expired; in an app, leave `fetch` out.
 * const expired = () => Promise.resolve(new Response("Log in", { status: 401 }));
 * let message = "";
 * try {
 *   for await (const { data } of connectSSE("https://app.example/events", { fetch: expired })) {
 *     assert.fail(`no message comes: ${data}`);
 *   }
 * } catch (error) {
 *   if (error instanceof SSEResponseError && error.status === 401) {
 *     message = `log in again (${error.body})`;
 *   } else throw error;
 * }
 * assert.equal(message, "log in again (Log in)");
 * ```
 */
export class SSEResponseError extends Error {
  /** The response status. */
  readonly status: number;
  /** The response headers. */
  readonly headers: Headers;
  /** The start of the response body as text, at most {@linkcode BODY_EXCERPT_LIMIT} bytes. */
  readonly body: string;

  /**
   * Creates the error.
   *
   * @param message What went wrong.
   * @param status The response status.
   * @param headers The response headers.
   * @param body The start of the response body.
   */
  constructor(
    message: string,
    status: number,
    headers: Headers,
    body: string,
  ) {
    super(message);
    this.name = "SSEResponseError";
    this.status = status;
    this.headers = headers;
    this.body = body;
  }
}

/**
 * How many bytes of a failed response's body {@linkcode SSEResponseError} keeps.
 *
 * @example A long error page, cut short
 * ```ts
 * import assert from "node:assert/strict";
 * import { BODY_EXCERPT_LIMIT, connectSSE, SSEResponseError } from "@ssekit/ssekit";
 *
 * const page = () => Promise.resolve(new Response("x".repeat(100_000), { status: 502 }));
 * await assert.rejects(
 *   connectSSE("https://app.example/events", { fetch: page }).next(),
 *   (error) => error instanceof SSEResponseError && error.body.length === BODY_EXCERPT_LIMIT,
 * );
 * ```
 */
export const BODY_EXCERPT_LIMIT = 2048;

function isEventStream(response: Response): boolean {
  // Repeated headers arrive joined with commas; like Fetch's "extract a
  // MIME type", the last one counts.
  const type = (response.headers.get("content-type") ?? "").split(",").at(-1)!;
  const semicolon = type.indexOf(";");
  return (semicolon === -1 ? type : type.slice(0, semicolon)).trim()
    .toLowerCase() === "text/event-stream";
}

async function excerpt(response: Response): Promise<string> {
  const reader = response.body?.getReader();
  if (!reader) return "";
  // An error body that trickles must not hold up the error it explains.
  const timer = setTimeout(() => reader.cancel().catch(() => {}), 1000);
  const decoder = new TextDecoder();
  let text = "";
  let size = 0;
  try {
    while (size < BODY_EXCERPT_LIMIT) {
      const { done, value } = await reader.read();
      if (done) break;
      const part = value.subarray(0, BODY_EXCERPT_LIMIT - size);
      size += part.length;
      text += decoder.decode(part, { stream: true });
    }
  } catch {
    // A body that fails while being read for an error message adds nothing.
  } finally {
    clearTimeout(timer);
    reader.cancel().catch(() => {});
  }
  return text + decoder.decode();
}

/**
 * Checks a response the way `EventSource` does before announcing the
 * connection: status 200 and a `text/event-stream` type (case-insensitive,
 * parameters ignored). Resolves with the error to fail with, having read an
 * excerpt of the body and cancelled it, or with `undefined` when the stream
 * may be read. 204 is for the caller to handle first.
 */
export async function checkEventStream(
  response: Response,
  url: string,
): Promise<SSEResponseError | undefined> {
  if (response.status === 200 && isEventStream(response)) return undefined;
  const message = response.status === 200
    ? `Expected Content-Type text/event-stream from ${url}, got ${
      response.headers.get("content-type") ?? "none"
    }`
    : `Expected status 200 from ${url}, got ${response.status} ${response.statusText}`
      .trimEnd();
  return new SSEResponseError(
    message,
    response.status,
    response.headers,
    await excerpt(response),
  );
}
