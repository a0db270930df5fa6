/**
 * The watchdog of a stream's body, run by its one timer (_stream_timer.ts):
 * a `:` comment after `keepAlive` ms without a write, so proxies and
 * servers keep the connection, and the stream given up once its client
 * has taken nothing for `stallTimeout` ms while output waited.
 *
 * Functions on the body's own state, as the timer's are: a stream sitting
 * idle keeps nothing more than its fields.
 *
 * @module
 */

import { schedule, type Timed, unschedule } from "./_stream_timer.ts";
import type { SSESink } from "./_body_shortcuts.ts";

/** What the watchdog keeps and needs of its body. */
export interface Watched extends Timed {
  /** The keep-alive interval and the stall timeout, 0 when off. */
  readonly keepAlive: number;
  readonly stallTimeout: number;
  /**
   * When the body last wrote. The next keep-alive check checks how long
   * the stream has been idle: rescheduling on every write costs more than
   * the write on some runtimes once thousands of streams share one event.
   */
  lastWrite: number;
  /**
   * Whether the keep-alive check may write a comment as soon as the stream
   * has been idle keepAlive ms: false after an event, until the check has
   * waited one more turn (see checkClocks).
   */
  quiet: boolean;
  /** Since when output has waited for demand (0: it has not). */
  blockedAt: number;
  /** Whether a read waits (undefined on an adopted body; see SSEBody). */
  wanted: boolean | undefined;
  readonly controller: SSESink;
  /** Writes a keep-alive comment. */
  comment(): void;
  /** Gives the stream up, dropping the connection. */
  abandon(reason: unknown): void;
}

/** The timer's check at `now`: stalled, then idle, then the next check. */
export function checkClocks(body: Watched, now: number): void {
  const { blockedAt, keepAlive, stallTimeout } = body;
  if (blockedAt !== 0 && now - blockedAt >= stallTimeout) {
    // As if the client had left, and the connection is dropped, since
    // ending it would wait on the same client.
    return body.abandon(
      new DOMException(
        `The client took nothing for ${stallTimeout} ms while events waited (stallTimeout); the stream was given up`,
        "TimeoutError",
      ),
    );
  }
  let next = Infinity;
  if (keepAlive) {
    const idle = now - body.lastWrite;
    if (idle < keepAlive) next = keepAlive - idle;
    else if (!body.quiet) {
      // The last write was an event: a publisher with the keep-alive's
      // period is due now too, and its event, written first, makes the
      // comment needless. Timers that came due together run in the order
      // they were due, this check first, so it looks again after them.
      body.quiet = true;
      next = 1;
    } else {
      next = keepAlive;
      // A reader that stopped reading gets no pile of comments: a sink
      // takes one while it has room, the stream (high-water mark 0)
      // while its queue is empty, so one at most waits for the reader.
      const demand = body.controller.desiredSize!;
      if (demand > 0 || (demand === 0 && body.wanted !== undefined)) {
        body.comment();
      }
    }
  }
  if (body.blockedAt !== 0) {
    next = Math.min(next, body.blockedAt + stallTimeout - now);
  }
  if (next !== Infinity && !body.finished) schedule(body, next);
}

/** Output waits for a client that takes nothing: the stall clock starts. */
export function blocked(body: Watched): void {
  if (body.stallTimeout === 0 || body.blockedAt !== 0) return;
  const now = body.blockedAt = Date.now();
  if (body.due !== 0 && body.due <= now + body.stallTimeout) {
    return;
  }
  unschedule(body);
  schedule(body, body.stallTimeout);
}

/**
 * The client asked for more: the stall clock stops, and the keep-alive
 * clock runs from the first ask on, so a `Response` never read is never
 * scheduled.
 */
export function pulled(body: Watched): void {
  body.blockedAt = 0;
  if (body.keepAlive && body.due === 0 && !body.finished) {
    body.lastWrite = Date.now();
    schedule(body, body.keepAlive);
  }
}
