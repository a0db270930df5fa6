// The examples work as their comments say.
import { test } from "node:test";
import assert from "node:assert/strict";
import { connectSSE } from "../mod.ts";
import { fakeOpenAI, fakeReply, relayChat } from "../examples/openai_relay.ts";
import { serve } from "./_server.ts";

test("examples/openai_relay.ts relays only the token deltas, then done", async () => {
  const upstream = await serve((request) => fakeOpenAI(request, { delay: 1 }));
  const relay = await serve((request) => relayChat(request, upstream.url));
  try {
    const stream = connectSSE(relay.url, {
      method: "POST",
      body: JSON.stringify({ prompt: "hello\r\nworld" }),
      reconnect: false,
    });
    const tokens: string[] = [];
    for await (const message of stream) {
      if (message.type === "done") break;
      assert.equal(message.type, "message");
      tokens.push(JSON.parse(message.data));
    }
    assert.deepEqual(tokens, fakeReply("hello\r\nworld"));
    assert.match(tokens.join(""), /^You said: "hello\r\nworld"\./);
  } finally {
    await relay.close();
    await upstream.close();
  }
});
