/**
 * A stream body that reports to hooks.
 *
 * @module
 */

import {
  callHook,
  type SSECloseReason,
  type SSEHooks,
  type SSELogger,
} from "./hooks.ts";
import type { SSEStreamOptions } from "./stream.ts";
import { type Encoded, encoder } from "./_body_shortcuts.ts";
import { SSEBody } from "./_sse_body.ts";

/**
 * A body that reports to hooks: made instead of a plain one when
 * `options.hooks` is given, so a stream without hooks runs none of this.
 * Open is reported at the first pull (the server began reading), close
 * once, from `finish`, and only after an open, so a `Response` never served
 * leaves no open stream counted.
 */
export class HookedSSEBody extends SSEBody {
  hooks: SSEHooks;
  logger: SSELogger;
  /** The opening line's length, reported as sent at the open. */
  preludeBytes = 0;
  opened = false;
  /** Events appended since the last flush, and sent so far. */
  pendingEvents = 0;
  events = 0;
  bytes = 0;

  constructor(
    options: SSEStreamOptions,
    keepAlive: number,
    stallTimeout: number,
    hooks: SSEHooks,
  ) {
    super(options, keepAlive, stallTimeout);
    this.hooks = hooks;
    this.logger = options.logger ?? console;
  }

  override pull(controller?: unknown): Promise<void> | void {
    if (!this.opened && !this.finished) {
      this.opened = true;
      callHook(this.hooks, "onOpen", { side: "server" }, this.logger);
      this.sent(this.preludeBytes, 0, false);
    }
    return super.pull(controller);
  }

  sent(bytes: number, events: number, keepAlive: boolean): void {
    this.bytes += bytes;
    this.events += events;
    callHook(this.hooks, "onSend", { events, bytes, keepAlive }, this.logger);
  }

  // One text may hold many events (a relay's batch, see formattedBatch): each
  // ends in the only blank line it has, since every line of an event has
  // a field name or a colon.
  override append(text: string, shared?: Encoded): void {
    for (
      let at = text.indexOf("\n\n");
      at !== -1;
      at = text.indexOf("\n\n", at + 2)
    ) {
      this.pendingEvents++;
    }
    super.append(text, shared);
  }

  // Only flush writes through here: the keep-alive comment goes to the
  // plain write, so events still pending are not counted with it.
  override write(bytes: Uint8Array): boolean {
    const events = this.pendingEvents;
    this.pendingEvents = 0;
    const written = super.write(bytes);
    if (written) this.sent(bytes.length, events, false);
    return written;
  }

  override comment(): void {
    if (super.write(encoder.encode(":\n"))) this.sent(2, 0, true);
  }

  override fail(error: unknown, sourceOpen: boolean): void {
    if (this.finished) return;
    callHook(this.hooks, "onError", { where: "stream", error }, this.logger);
    super.fail(error, sourceOpen);
  }

  override finish(reason: SSECloseReason, error?: unknown): void {
    super.finish(reason);
    if (!this.opened) return;
    callHook(this.hooks, "onClose", {
      side: "server",
      reason,
      events: this.events,
      bytes: this.bytes,
      ...(reason === "error" || reason === "stalled" ? { error } : {}),
    }, this.logger);
  }
}
