// The recipe's hub and producers, one per server: on globalThis, because
// `next dev` evaluates this module anew after an edit (and a second hub
// would not know the first one's subscribers); made on the first request,
// not at import, because `next build` imports the routes too.
import process from "node:process";
import { createRecipe, type Recipe } from "../recipe.ts";

const server = globalThis as { ssekitRecipe?: Promise<Recipe> };

/** The recipe; `UPSTREAM` is the chat completions URL its relay reads. */
export function recipe(): Promise<Recipe> {
  return server.ssekitRecipe ??= createRecipe({
    upstream: process.env.UPSTREAM,
  });
}
