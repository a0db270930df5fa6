// Next.js's middleware (proxy.ts since Next.js 16): bearer auth for every
// POST. A Response it returns answers the request; nothing lets it through.
import { TOKEN } from "../recipe.ts";

export function proxy(request: Request): Response | undefined {
  if (
    request.method === "POST" &&
    request.headers.get("authorization") !== `Bearer ${TOKEN}`
  ) {
    return new Response(null, { status: 401 });
  }
}

export const config = { matcher: ["/chat", "/relay", "/topics/:topic"] };
