// A ticking SSE server on Deno: `deno run -A examples/deno.ts`, then open
// http://127.0.0.1:8000 in a browser (or `curl -N http://127.0.0.1:8000/events`).
import { createSSEStream } from "../mod.ts";

const page = `<!doctype html>
<title>ssekit demo</title>
<ul id="log"></ul>
<script>
  const log = document.getElementById("log");
  new EventSource("/events").addEventListener("tick", (event) => {
    log.insertAdjacentHTML("afterbegin", "<li>#" + event.lastEventId + " " + event.data + "</li>");
  });
</script>`;

Deno.serve({ hostname: "127.0.0.1", port: 8000 }, (request) => {
  if (new URL(request.url).pathname !== "/events") {
    return new Response(page, { headers: { "Content-Type": "text/html" } });
  }
  return createSSEStream(
    async function* () {
      for (let i = 0;; i++) {
        yield { event: "tick", id: i, data: { now: new Date().toISOString() } };
        await new Promise((resolve) => setTimeout(resolve, 1000));
      }
    }(),
    { signal: request.signal },
  );
});
