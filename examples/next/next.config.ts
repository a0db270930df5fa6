// Next.js 16 (App Router): route handlers, served by `next start`.
//
//   cd examples/next && next build && next start [-p 8000]
//
// then the curl lines of examples/recipe.ts. UPSTREAM=<url> makes /relay
// read a real OpenAI-compatible upstream instead of the fake model.
import type { NextConfig } from "next";

const config: NextConfig = {
  // What the cors package does for a simple request.
  headers: () =>
    Promise.resolve([{
      source: "/:path*",
      headers: [{ key: "access-control-allow-origin", value: "*" }],
    }]),
};

export default config;
