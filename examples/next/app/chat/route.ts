// POST /chat {"prompt"}: the reply, a token event at a time. The Request's
// signal aborts when the client leaves, and ends the reply's generator.
import { createSSEStream } from "../../../../mod.ts"; // "ssekit"
import { recipe } from "../../recipe.ts";

export async function POST(request: Request): Promise<Response> {
  const { prompt } = await request.json();
  return createSSEStream((await recipe()).reply(prompt), {
    signal: request.signal,
  });
}
