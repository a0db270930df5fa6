/**
 * The one timer of each stream (internal to createSSEStream), which
 * watches both clocks: keep-alive (how long since the last write) and stall
 * (how long the client has taken nothing while output waits). It checks
 * them when it fires rather than being reset by every write.
 *
 * Not one timer shared by all streams: where each request has its own
 * context (Cloudflare Workers), a timer belongs to the request that set it
 * and may not touch another request's stream. (The streams of one hub do
 * share one, _shared_clock.ts: they share an I/O context anyway.) The
 * stream rides along as the timer's argument, so no closure per stream;
 * and a timer that fired is re-armed with `refresh()` where the runtime
 * has it (Node, Bun, Deno's Node timers) for the same delay, so an idle
 * stream makes no new timer every period.
 *
 * A stream's check is due keepAlive ms after its last write. After an
 * event, that is when a publisher with the keep-alive's period (or a
 * divisor of it) publishes again; when both come due together (the loop
 * was busy), the check runs first, so it waits one more millisecond, once,
 * for the event to be written rather than a comment (checkClocks in
 * _stream_watchdog.ts). Not a random spread of the checks: every stream
 * checked a little early would write a comment before that publisher's
 * every event (measured in bench/fanout.ts, issue 17).
 *
 * @module
 */

import type { ClockEntry, SharedClock } from "./_shared_clock.ts";

type Timer = ReturnType<typeof setTimeout>;

/** What the timer needs of its stream. */
export interface Timed extends ClockEntry {
  /** The clock its checks share, for a stream a hub feeds (see openInto). */
  clock: SharedClock | undefined;
  /** The armed timer, undefined while none is (or a clock is used). */
  timer: Timer | undefined;
  /** The last timer that fired, and its delay, for `refresh()`. */
  spent: Timer | undefined;
  spentDelay: number;
}

/** Arms the stream's timer to check in `delay` ms. */
export function schedule(timed: Timed, delay: number): void {
  const clock = timed.clock;
  if (clock !== undefined) return clock.add(timed, Date.now() + delay);
  const spent = timed.spent;
  timed.spent = undefined;
  if (
    spent !== undefined && timed.spentDelay === delay &&
    typeof (spent as { refresh?: unknown }).refresh === "function"
  ) {
    timed.timer = (spent as unknown as { refresh(): Timer }).refresh();
  } else {
    timed.timer = setTimeout(check, delay, timed, delay);
  }
  timed.due = Date.now() + delay;
}

/** Disarms the stream's timer. */
export function unschedule(timed: Timed): void {
  if (timed.clock !== undefined) return timed.clock.remove(timed);
  if (timed.timer !== undefined) clearTimeout(timed.timer);
  timed.timer = undefined;
  timed.spent = undefined;
  timed.due = 0;
}

function check(timed: Timed, delay: number): void {
  timed.spent = timed.timer;
  timed.spentDelay = delay;
  timed.timer = undefined;
  timed.due = 0;
  if (!timed.finished) timed.tick(Date.now());
  // Not re-armed: nothing may refresh it later.
  if (timed.timer === undefined) timed.spent = undefined;
}
