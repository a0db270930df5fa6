/**
 * The source reader of a stream's body: it opens the source, of whichever
 * kind (an iterable, an async iterable, a `ReadableStream`, a hub's
 * pushes, or a function that makes one of those), takes its events into
 * the coalescer while the client has demand, and closes it.
 *
 * Functions on the body's own state, not an object of their own: a stream
 * sitting idle keeps nothing more than its fields. (A little over ~150
 * lines: one read loop with a branch per source kind, read best whole.)
 *
 * @module
 */

import { isThenable } from "./_checks.ts";
import type { PushReceiver, PushSource } from "./_body_shortcuts.ts";
import {
  closeSource,
  openSource,
  type SourceKind,
  sourceKind,
  type SourceReader,
} from "./_source_kind.ts";
import { type Coalescing, flush, take } from "./_coalescer.ts";
import { blocked, type Watched } from "./_stream_watchdog.ts";

/** What the source reader keeps and needs of its body. */
export interface Reading extends Coalescing, Watched, PushReceiver {
  /** The source once opened: its kind and reader. */
  kind: SourceKind;
  reader: SourceReader | undefined;
  /** A function source, until it has made the source. */
  makeSource: ((signal: AbortSignal) => unknown) | undefined;
  /** The signal given to a function source; only those need one. */
  aborter: AbortController | undefined;
  /** A pushing source may hand events to `deliver` (see `listen`). */
  listening: boolean;
  /** Resolves a listening body's pull once it stops listening. */
  parked: (() => void) | undefined;
  /** The source is done: what is pending goes out, then the end. */
  complete(): void;
}

/** Opens `source` (not a function) for `body`. */
export function openInto(body: Reading, source: unknown): void {
  const kind = sourceKind(source);
  body.reader = openSource(kind, source);
  body.kind = kind;
  if (kind === "pushes") body.clock = (source as PushSource).clock;
}

/** Closes the source, if it was opened. */
export function closeReader(body: Reading, reason: unknown): void {
  if (body.reader) closeSource(body.kind, body.reader, reason);
}

/** Takes events while the body has demand, opening the source first. */
export function pullSource(body: Reading): Promise<void> | void {
  return body.reader ? consume(body) : open(body);
}

function consume(body: Reading): Promise<void> | void {
  return body.kind === "pushes" ? listen(body) : read(body);
}

// Makes the source of a function source, at the first read.
async function open(body: Reading): Promise<void> {
  try {
    const made = await body.makeSource!(body.aborter!.signal);
    body.makeSource = undefined;
    const kind = sourceKind(made);
    if (body.finished) {
      return closeSource(kind, openSource(kind, made), undefined);
    }
    body.reader = openSource(kind, made);
    body.kind = kind;
  } catch (error) {
    return body.fail(error, false);
  }
  return consume(body);
}

// Takes events while the body has demand. Kept small, and the formatting
// out of it, because an idle stream waits inside it: a suspended async
// function keeps a slot for every local it has.
async function read(body: Reading): Promise<void> {
  const sync = body.kind === "sync";
  for (;;) {
    // The step and the item are overwritten before every wait: the
    // suspended function keeps its variables, and an idle stream must
    // not keep its last event.
    let item: unknown;
    try {
      let step:
        | IteratorResult<unknown>
        | PromiseLike<IteratorResult<unknown>> = body.kind === "reader"
          ? (body.reader as ReadableStreamDefaultReader<unknown>)
            .read() as Promise<IteratorResult<unknown>>
          : (body.reader as Iterator<unknown>).next();
      if (!sync) step = await step;
      if (body.finished) return;
      if ((step as IteratorResult<unknown>).done) return body.complete();
      item = (step as IteratorResult<unknown>).value;
      step = undefined!;
      if (sync && isThenable(item)) {
        item = await item;
        if (body.finished) return;
      }
    } catch (error) {
      return body.fail(error, false);
    }
    // Pending text is flushed by the watcher even after we return, so
    // demand alone decides whether to take another event: a waiting read
    // not yet answered, or room in the sink.
    if (!take(body, item, true)) return;
    if (!body.wanted && body.controller.desiredSize! <= 0) {
      return blocked(body);
    }
  }
}

// Asks a pushing source for events, which it hands to `deliver` at once,
// with no promise, watcher or iterator result per event. The pull waits
// until the body stops taking events (its sink or stream is full) or ends:
// a stream whose pull is under way does not pull again on every read, so
// each event costs one enqueue and no pull (about a tenth of the CPU per
// delivery on Deno with 10,000 streams, bench/fanout.ts).
function listen(body: Reading): Promise<void> | void {
  body.listening = true;
  (body.reader as PushSource).pushTo(body);
  if (!body.listening) return;
  return new Promise((resolve) => body.parked = resolve);
}

/** Stops taking pushed events, and lets a parked pull return. */
export function unlisten(body: Reading): void {
  body.listening = false;
  const parked = body.parked;
  if (parked === undefined) return;
  body.parked = undefined;
  parked();
}

/**
 * Takes an event a pushing source hands over. The source knows whether
 * more is ready, so the text is flushed as soon as nothing is: no watcher
 * needed to find out.
 */
export function deliver(body: Reading, value: unknown, more: boolean): boolean {
  if (!body.finished && take(body, value, false)) {
    if (!more) flush(body);
    if (!body.finished && hasRoom(body)) return true;
  }
  unlisten(body);
  if (!body.finished) blocked(body);
  return false;
}

// Whether the body takes another event now: a sink while it has room; a
// stream (high-water mark 0) while nothing waits in its queue, that is,
// while its reader keeps up, so at most one chunk waits for a slow one.
function hasRoom(body: Reading): boolean {
  const demand = body.controller.desiredSize!;
  return body.wanted === undefined ? demand > 0 : demand >= 0;
}

/** A pushing source ended, or failed with `failure.reason`. */
export function sourceEnded(
  body: Reading,
  failure?: { reason: unknown },
): void {
  unlisten(body);
  if (body.finished) return;
  if (failure) body.fail(failure.reason, false);
  else body.complete();
}
