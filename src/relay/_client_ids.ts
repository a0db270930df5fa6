/**
 * What a mapped relay's client holds as its last event id, and the ids
 * that keep it on the upstream's (WHATWG HTML §9.2.6, "dispatch the
 * event", step 1).
 *
 * @module
 */

import { formatEvent } from "../encode.ts";
import type { SSEEvent } from "../types.ts";

/**
 * The last event id a mapped relay's client holds. An event the map gives
 * an id of its own sets it; any other event carries the upstream's id where
 * the client holds another. Where the upstream's id moves with no event
 * (an id-only block, or a message the map dropped), an id-only block
 * brings the client along.
 */
export class ClientIds {
  /** The client's last event id. */
  held: string;
  /** The upstream's last event id as of the last event sent. */
  seen: string;

  constructor(start: string) {
    this.held = this.seen = start;
  }

  /** The event to send for a message whose last event id is `upstream`. */
  give<E extends SSEEvent | string>(event: E, upstream: string): E | SSEEvent {
    this.seen = upstream;
    const id = typeof event === "object" && event !== null
      ? event.id
      : undefined;
    if (id !== undefined) {
      this.held = String(id);
      return event;
    }
    if (upstream === this.held) return event;
    this.held = upstream;
    return typeof event === "string"
      ? { data: event, id: upstream }
      : { ...event as SSEEvent, id: upstream };
  }

  /** An id-only block when the upstream's id moved with no event. */
  settle(upstream: string): string {
    if (upstream === this.seen) return "";
    this.held = this.seen = upstream;
    return formatEvent({ id: upstream });
  }
}
