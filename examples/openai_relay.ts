// Relaying an LLM's token stream, offline: a fake OpenAI-compatible upstream
// (chat.completion.chunk events, then `data: [DONE]`) and a relay that
// forwards only the token deltas and a final `event: done` to the browser.
// The demo (`npm run demo`, examples/demo/) serves both on every runtime.
import { createSSEStream, relaySSE, type SSEMessage } from "../mod.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The fake model's reply to a prompt, as the tokens it streams. */
export function fakeReply(prompt: string): string[] {
  const text = `You said: "${prompt}". This reply is streamed token by token ` +
    "from an embedded fake model: an OpenAI-compatible upstream sends " +
    "chat.completion.chunk events, ssekit's relaySSE keeps only the deltas, " +
    "and connectSSE renders them as they arrive. Press Stop at any time and " +
    "the upstream request is cancelled on the server.";
  return text.match(/\S+\s*/g) ?? [];
}

/** Options for {@linkcode fakeOpenAI}. */
export interface FakeOpenAIOptions {
  /** Milliseconds before each token. @default {30} */
  delay?: number;
  /** Called when the reply starts streaming. */
  onStart?: () => void;
  /**
   * Called once the reply stream is over: `completed` is false when the
   * client went away first and the generator was cancelled.
   */
  onEnd?: (info: { sent: number; total: number; completed: boolean }) => void;
}

/**
 * A fake OpenAI-compatible `/v1/chat/completions` endpoint with
 * `stream: true`: one `chat.completion.chunk` per token, then `[DONE]`.
 */
export async function fakeOpenAI(
  request: Request,
  { delay = 30, onStart, onEnd }: FakeOpenAIOptions = {},
): Promise<Response> {
  const { messages } = await request.json() as {
    messages: { role: string; content: string }[];
  };
  const prompt = messages.at(-1)?.content ?? "";
  const chunk = (delta: object, finish: string | null = null) => ({
    data: {
      id: "chatcmpl-fake",
      object: "chat.completion.chunk",
      created: Math.floor(Date.now() / 1000),
      model: "fake-gpt",
      choices: [{ index: 0, delta, finish_reason: finish }],
    },
  });
  return createSSEStream(
    async function* () {
      const tokens = fakeReply(prompt);
      let sent = 0;
      let completed = false;
      onStart?.();
      try {
        yield chunk({ role: "assistant", content: "" });
        for (const token of tokens) {
          await sleep(delay);
          yield chunk({ content: token });
          sent++;
        }
        yield chunk({}, "stop");
        yield "[DONE]";
        completed = true;
      } finally {
        onEnd?.({ sent, total: tokens.length, completed });
      }
    }(),
    { signal: request.signal },
  );
}

interface CompletionChunk {
  choices: { delta: { content?: string } }[];
}

/** The request a chat sends to an OpenAI-compatible upstream. */
export function completionRequest(
  upstreamUrl: string,
  prompt: string,
  signal: AbortSignal,
): Promise<Response> {
  return fetch(upstreamUrl, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({
      model: "fake-gpt",
      stream: true,
      messages: [{ role: "user", content: prompt }],
    }),
    signal,
  });
}

/**
 * The token of one chat.completion.chunk as a JSON string (any text
 * survives), or nothing for a chunk without one and for `[DONE]`.
 */
export function tokenOf(message: SSEMessage): string | undefined {
  if (message.data === "[DONE]") return undefined;
  const token = (JSON.parse(message.data) as CompletionChunk).choices[0]
    ?.delta.content;
  return token ? JSON.stringify(token) : undefined;
}

/**
 * The relay: POST `{ prompt }`, get `data: "<token>"` events (each token a
 * JSON string, so any text survives) and a final `event: done`. When the
 * browser leaves, the upstream request is aborted, so no more tokens are
 * paid for.
 */
export async function relayChat(
  request: Request,
  upstreamUrl: string,
): Promise<Response> {
  const { prompt } = await request.json() as { prompt: string };
  return relaySSE(
    (signal) => completionRequest(upstreamUrl, prompt, signal),
    {
      signal: request.signal,
      timeout: 60_000,
      map: (message) => {
        if (message.data === "[DONE]") return { event: "done", data: "" };
        const token = tokenOf(message);
        return token ? { data: token } : undefined;
      },
    },
  );
}
