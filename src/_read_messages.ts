/**
 * The async iterator of {@linkcode parseSSE}: it reads the body only when
 * the next message is asked for, and for a typed stream decodes each
 * message in the same turn, so that one chain of calls keeps them in order.
 *
 * @module
 */

import type { SSEMessage } from "./types.ts";
import { describe } from "./_checks.ts";
import { Interpreter, type SSEDecoderOptions } from "./_interpreter.ts";
import type { MessageDecoder } from "./events.ts";
import { Queue } from "./_queue.ts";

/**
 * Reads the messages of a `Response` or a `ReadableStream`; with `decode`,
 * the decoded messages of a typed stream (an invalid one fails the read
 * and cancels the body, unless the decoder skips it).
 */
export function readMessages(
  input: Response | ReadableStream<Uint8Array> | ReadableStream<string>,
  options?: SSEDecoderOptions,
  decode?: MessageDecoder,
): AsyncIterableIterator<SSEMessage> {
  const queue = new Queue<SSEMessage>();
  const interpreter = new Interpreter(options, (message) => {
    queue.push(message);
  });
  const candidate = input as unknown as Record<string, unknown> | null;
  let stream: ReadableStream<Uint8Array | string> | null;
  if (typeof candidate?.getReader === "function") {
    stream = input as ReadableStream<Uint8Array | string>;
  } else if (
    typeof candidate === "object" && candidate && "body" in candidate
  ) {
    stream = (input as Response).body;
  } else {
    throw new TypeError(
      `Invalid parseSSE input: expected a Response or a ReadableStream, got ${
        describe(input)
      }`,
    );
  }
  let reader: ReadableStreamDefaultReader<Uint8Array | string> | undefined =
    stream?.getReader();
  let busy: Promise<IteratorResult<SSEMessage>> | undefined;

  const take = (): IteratorResult<SSEMessage> => ({
    done: false,
    value: queue.shift()!,
  });
  const close = (): void => {
    const open = reader;
    reader = undefined;
    queue.clear();
    try {
      open?.releaseLock();
    } catch {
      // Already released by the stream's end; nothing is left to free.
    }
  };
  // Cancelling first settles a pending read, so releasing the lock cannot
  // fail on it. A body that already failed rejects its cancel; leaving the
  // loop must not throw for it.
  const cancel = async (): Promise<void> => {
    const cancelled = reader?.cancel();
    close();
    await cancelled?.catch(() => {});
  };
  const pull = async (): Promise<IteratorResult<SSEMessage>> => {
    for (;;) {
      if (queue.length > 0) {
        if (!decode) return take();
        let value;
        try {
          value = await decode(take().value);
        } catch (error) {
          await cancel();
          throw error;
        }
        // A typed stream's messages are decoded ones.
        if (value !== undefined) return { done: false, value } as never;
        continue;
      }
      const open = reader;
      if (open === undefined) return { done: true, value: undefined };
      let chunk: ReadableStreamReadResult<Uint8Array | string>;
      try {
        chunk = await open.read();
      } catch (error) {
        close();
        throw error;
      }
      // `return()` ran while the read was pending.
      if (reader !== open) return { done: true, value: undefined };
      try {
        if (chunk.done) {
          interpreter.end();
          close();
        } else interpreter.push(chunk.value);
      } catch (error) {
        // Messages decoded before the failure are dropped with the body: the
        // error says the stream cannot be trusted past this point anyway.
        const cancelled = open.cancel(error);
        close();
        cancelled.then(undefined, () => {});
        throw error;
      }
    }
  };

  return {
    next(): Promise<IteratorResult<SSEMessage>> {
      // Messages parsed from one chunk are handed out without a read; a
      // call made while another still reads waits its turn, keeping order.
      if (busy === undefined && queue.length > 0 && !decode) {
        return Promise.resolve(take());
      }
      const step = busy === undefined ? pull() : busy.then(pull, pull);
      busy = step;
      const settle = () => {
        if (busy === step) busy = undefined;
      };
      step.then(settle, settle);
      return step;
    },
    async return(value?: unknown): Promise<IteratorResult<SSEMessage>> {
      await cancel();
      return { done: true, value: value as undefined };
    },
    [Symbol.asyncIterator](): AsyncIterableIterator<SSEMessage> {
      return this;
    },
  };
}
