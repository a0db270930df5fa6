/**
 * The shapes that cross ssekit's public API: {@linkcode SSEEvent} is what a
 * server sends, {@linkcode SSEMessage} is what a client receives.
 *
 * @module
 */

/**
 * One event to send. Every field is optional; a bare string stands for
 * `{ data: string }`.
 *
 * @example Sending a JSON payload with a type and an id
 * ```ts
 * import type { SSEEvent } from "@ssekit/ssekit";
 *
 * const event: SSEEvent = { event: "price", id: 42, data: { symbol: "ACME", price: 9.5 } };
 * ```
 */
export interface SSEEvent {
  /**
   * The payload. Strings are sent as they are, split on CR, LF and CRLF into
   * one `data:` line each; anything else goes through the `serialize` option
   * (`JSON.stringify` by default). `undefined` sends no `data:` line.
   */
  data?: unknown;
  /** The event type the client dispatches (`message` when absent). No CR or LF. */
  event?: string;
  /** The event id; `""` resets the client's last event id. No CR, LF or NUL. */
  id?: string | number;
  /** The client's reconnection delay in milliseconds: a non-negative integer. */
  retry?: number;
  /** A comment, ignored by clients; multi-line comments become one `:` line each. */
  comment?: string;
}

/**
 * One dispatched event as a client receives it; the fields mirror the
 * browser's `MessageEvent` for `EventSource`.
 *
 * @example Reading the fields
 * ```ts
 * import type { SSEMessage } from "@ssekit/ssekit";
 *
 * function show(message: SSEMessage): string {
 *   return `${message.type} #${message.lastEventId}: ${message.data}`;
 * }
 * ```
 */
export interface SSEMessage {
  /** The event type: `"message"` unless an `event` field said otherwise. */
  type: string;
  /** The data lines joined with `\n`. */
  data: string;
  /** The persisted last event id, as `EventSource` exposes it. */
  lastEventId: string;
  /** The `id` field of this event's own block, when it had one. */
  id?: string;
}
