/**
 * {@linkcode getLastEventId}: where a reconnecting client says how far it
 * got.
 *
 * @module
 */

const decoder = new TextDecoder("utf-8", { fatal: true });

/**
 * Reads the id a reconnecting client resumes from: the `Last-Event-ID`
 * header, or else a `lastEventId` query parameter (for the first connection
 * of a browser `EventSource`, which cannot set headers). Returns `""` when
 * there is neither.
 *
 * Clients send the header as the UTF-8 bytes of the id, and servers hand
 * header values over one character per byte; this undoes that, so an id
 * like `café` or `…` comes back intact. A value that is not valid UTF-8 is
 * returned as received.
 *
 * @example Resuming a stream
 * ```ts
 * import { getLastEventId } from "@ssekit/ssekit";
 *
 * const request = new Request("http://localhost/events", {
 *   headers: { "Last-Event-ID": "41" },
 * });
 * getLastEventId(request); // "41"
 * ```
 *
 * @param request The incoming request.
 * @returns The id to resume after, or `""`.
 */
export function getLastEventId(request: Request): string {
  const header = request.headers.get("last-event-id");
  // Clients omit the header rather than send it empty, but proxies differ.
  if (!header) {
    return new URL(request.url).searchParams.get("lastEventId") ?? "";
  }
  const bytes = new Uint8Array(header.length);
  for (let i = 0; i < header.length; i++) {
    const code = header.charCodeAt(i);
    // Already decoded by a server that understood the bytes.
    if (code > 0xff) return header;
    bytes[i] = code;
  }
  try {
    return decoder.decode(bytes);
  } catch {
    return header;
  }
}
