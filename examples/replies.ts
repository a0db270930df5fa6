// The runtime-free half of the recipes (examples/recipe.ts,
// examples/workers/worker.ts): the token producer and the relay's map.
// Nothing here imports `node:*`, so a Worker bundles it as it is.
import type { RelayMapResult, SSEEvent, SSEMessage } from "../mod.ts"; // "ssekit"
import { fakeReply } from "./openai_relay.ts";

/** Token streams whose generator started, whose `finally` ran, and which ran to their end. */
export interface ReplyCounts {
  started: number;
  finished: number;
  completed: number;
}

/** A token producer that counts its replies, for `GET /stats`. */
export interface Replies {
  counts: ReplyCounts;
  /**
   * A reply to `prompt`, a token event at a time, then `event: done`;
   * `finished` is called from its `finally`.
   */
  reply(prompt: string, finished?: () => void): AsyncGenerator<SSEEvent>;
}

/** Makes a counting token producer. */
export function createReplies(): Replies {
  const counts = { started: 0, finished: 0, completed: 0 };
  return {
    counts,
    async *reply(prompt, finished) {
      counts.started++;
      try {
        for (const token of fakeReply(prompt)) {
          yield { event: "token", data: token };
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
        yield { event: "done", data: "" };
        counts.completed++;
      } finally {
        // Runs when the client leaves too: createSSEStream returns the
        // generator as soon as it sees the disconnect.
        counts.finished++;
        finished?.();
      }
    },
  };
}

/**
 * The relay's `map`: each chat.completion.chunk's token as `event: token`,
 * `[DONE]` as `event: done`, anything else dropped.
 */
export function relayToken(message: SSEMessage): RelayMapResult {
  if (message.data === "[DONE]") return { event: "done", data: "" };
  const chunk = JSON.parse(message.data) as {
    choices: { delta: { content?: string } }[];
  };
  const token = chunk.choices[0]?.delta.content;
  return token ? { event: "token", data: token } : undefined;
}
