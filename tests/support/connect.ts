// Helpers shared by the connectSSE test files (which also run in
// Chromium, so nothing here may need node:*).
import type { SSEConnection, SSEMessage } from "../../mod.ts";

export const SSE = { "Content-Type": "text/event-stream" };
export const fast = { reconnect: { delay: 10, backoff: 0 } };

export async function take(
  stream: AsyncIterator<SSEMessage>,
  count: number,
): Promise<SSEMessage[]> {
  const messages: SSEMessage[] = [];
  while (messages.length < count) {
    const { done, value } = await stream.next();
    if (done) break;
    messages.push(value);
  }
  return messages;
}

/**
 * Runs `body` on `stream` and closes it however `body` ends, so a failing
 * test leaves no reconnection loop behind.
 */
export async function closing(
  stream: SSEConnection,
  body: (stream: SSEConnection) => Promise<void>,
): Promise<void> {
  try {
    await body(stream);
  } finally {
    stream.close();
  }
}
