// POST /relay {"prompt"}: an OpenAI-compatible upstream's tokens, relayed.
// The client's leaving aborts the upstream request.
import { relaySSE } from "../../../../mod.ts"; // "ssekit"
import { completionRequest } from "../../../openai_relay.ts";
import { relayToken } from "../../../recipe.ts";
import { recipe } from "../../recipe.ts";

export async function POST(request: Request): Promise<Response> {
  const { prompt } = await request.json();
  const { upstream } = await recipe();
  return relaySSE(
    (signal) => completionRequest(upstream, prompt, signal),
    { signal: request.signal, map: relayToken },
  );
}
