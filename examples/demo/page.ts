// The demo page: a chat whose replies run on the server (hub.relay) and
// are followed with connectSSE, surviving reloads, and a live feed read
// with the browser's own EventSource. Plain HTML and an ES module, no build step
// beyond /ssekit.js; ids and data-state attributes are what the browser
// tests look for.

/** The demo's single page. */
export const PAGE: string = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>ssekit demo</title>
<link rel="icon" href="data:,">
<style>
  :root { font-family: system-ui, sans-serif; color: #1d2330; background: #f4f5f8; }
  body { margin: 0; }
  header { padding: 14px 24px; background: #1d2330; color: #fff; }
  header h1 { margin: 0; font-size: 18px; }
  header p { margin: 4px 0 0; font-size: 13px; color: #b9c0d0; }
  main { display: grid; grid-template-columns: 3fr 2fr; gap: 16px; padding: 16px 24px; }
  section { background: #fff; border-radius: 10px; box-shadow: 0 1px 3px #0002; padding: 14px 16px;
            display: flex; flex-direction: column; min-height: 520px; }
  h2 { margin: 0 0 10px; font-size: 15px; }
  h2 small { font-weight: normal; color: #6b7385; }
  #messages { flex: 1; overflow-y: auto; display: flex; flex-direction: column; gap: 8px; }
  .msg { max-width: 85%; padding: 8px 12px; border-radius: 12px; white-space: pre-wrap; line-height: 1.4; }
  .msg.user { align-self: flex-end; background: #2f6fed; color: #fff; }
  .msg.assistant { align-self: flex-start; background: #eef0f5; }
  .msg.assistant[data-state="streaming"]::after { content: "▍"; animation: blink 1s steps(1) infinite; }
  .msg.assistant[data-state="stopped"] .note, .msg.assistant[data-state="error"] .note { display: block; }
  .note { display: none; margin-top: 4px; font-size: 12px; color: #a0452b; }
  @keyframes blink { 50% { opacity: 0; } }
  form { display: flex; gap: 8px; margin-top: 10px; }
  textarea { flex: 1; resize: none; font: inherit; padding: 8px; border-radius: 8px; border: 1px solid #c9cedb; }
  button { font: inherit; padding: 6px 14px; border-radius: 8px; border: 0; background: #2f6fed; color: #fff; cursor: pointer; }
  button.secondary { background: #e2e5ee; color: #1d2330; }
  button:disabled { opacity: .45; cursor: default; }
  .bar { display: flex; gap: 8px; align-items: center; flex-wrap: wrap; margin-bottom: 8px; font-size: 13px; }
  .badge { padding: 2px 8px; border-radius: 99px; background: #e2e5ee; }
  .badge[data-state="open"] { background: #d5f2dc; color: #16602b; }
  .badge[data-state="reconnecting"] { background: #fff1c9; color: #7a5800; }
  .badge[data-state="closed"] { background: #f7d9d3; color: #8a2b18; }
  #feed-events { flex: 1; overflow-y: auto; margin: 0; padding: 0; list-style: none; font-size: 13px; }
  #feed-events li { padding: 3px 0; border-bottom: 1px solid #eef0f5; }
  #feed-events .id { color: #6b7385; font-family: ui-monospace, monospace; font-size: 11px; }
  #feed-events .type { font-weight: 600; }
  #feed-events li.gap { color: #a0452b; }
  #metrics { grid-column: 1 / -1; min-height: 0; }
  #metrics dl { display: grid; grid-template-columns: repeat(auto-fill, minmax(150px, 1fr)); gap: 6px 16px; margin: 0; font-size: 13px; }
  #metrics dt { color: #6b7385; }
  #metrics dd { margin: 0 0 4px; font-weight: 600; font-family: ui-monospace, monospace; }
</style>
</head>
<body>
<header>
  <h1>ssekit demo</h1>
  <p>Left: a fake model's reply, run on the server with hub.relay and followed with connectSSE: reload the page
     mid-reply and it goes on where it was; Stop works from any tab.
     Right: a hub topic read with the browser's native EventSource, which resumes with Last-Event-ID.</p>
</header>
<main>
  <section>
    <h2>Chat <small>hub.relay → connectSSE</small></h2>
    <div id="messages"></div>
    <form id="chat">
      <textarea id="prompt" rows="2" placeholder="Ask the fake model anything">Tell me about Server-Sent Events</textarea>
      <button id="send" type="submit">Send</button>
      <button id="stop" type="button" class="secondary" disabled>Stop</button>
    </form>
  </section>
  <section>
    <h2>Live feed <small>hub → EventSource</small></h2>
    <div class="bar">
      <span id="feed-status" class="badge" data-state="connecting">connecting</span>
      <span><b id="feed-count">0</b> events</span>
      <span><b id="feed-reconnects">0</b> reconnects</span>
      <span><b id="feed-gaps">0</b> gaps</span>
    </div>
    <div class="bar">
      <button id="cut" type="button" class="secondary">Cut connection (server-side)</button>
      <button id="feed-toggle" type="button" class="secondary">Stop feed</button>
    </div>
    <ul id="feed-events"></ul>
  </section>
  <section id="metrics">
    <h2>Server counters <small>sseMetrics() → /metrics, every second</small></h2>
    <dl id="metrics-list"></dl>
  </section>
</main>
<script type="module">
  import { connectSSE } from "/ssekit.js";

  const $ = (id) => document.getElementById(id);

  // Chat: a POST starts a reply, which the server runs to its end whoever
  // follows it (hub.relay into a topic of its own). The page follows it
  // with a GET, and keeps where it got to in localStorage: a reload, or
  // another tab, follows the same reply from there. Stop works from any
  // tab: the server stops the reply, and every follower sees it end.
  const SAVED = "ssekit-demo-reply";
  let following = null; // { topic, controller }
  const saved = () => JSON.parse(localStorage.getItem(SAVED) ?? "null");
  const save = (state) =>
    state ? localStorage.setItem(SAVED, JSON.stringify(state)) : localStorage.removeItem(SAVED);

  $("chat").addEventListener("submit", async (event) => {
    event.preventDefault();
    const prompt = $("prompt").value.trim();
    if (!prompt || following) return;
    $("send").disabled = true;
    const response = await fetch("/chat", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ prompt }),
    });
    const { topic, start } = await response.json();
    const state = { topic, prompt, text: "", lastEventId: start };
    save(state);
    follow(state);
  });
  $("stop").addEventListener("click", () => {
    if (!following) return;
    fetch("/chat/stop", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ topic: following.topic }),
    });
  });
  // Another tab started a reply, or finished one.
  window.addEventListener("storage", (event) => {
    if (event.key !== SAVED) return;
    const state = saved();
    if (state && state.topic !== following?.topic) follow(state);
  });

  async function follow(state) {
    following?.controller.abort();
    const controller = new AbortController();
    following = { topic: state.topic, controller };
    bubble("user", state.prompt);
    const reply = bubble("assistant", "");
    const text = reply.appendChild(document.createElement("span"));
    const note = reply.appendChild(document.createElement("span"));
    note.className = "note";
    text.textContent = state.text;
    reply.dataset.state = "streaming";
    $("send").disabled = true;
    $("stop").disabled = false;
    let outcome = "done";
    try {
      // GET, so it reconnects by itself (a network switch) and resumes
      // after the last token it got; the end of the reply is a 204.
      const tokens = connectSSE("/chat?topic=" + encodeURIComponent(state.topic), {
        lastEventId: state.lastEventId,
        reconnect: { delay: 500 },
        signal: controller.signal,
      });
      for await (const message of tokens) {
        if (message.type === "error") {
          const { error } = JSON.parse(message.data);
          outcome = error.type === "aborted" ? "stopped" : "error";
          note.textContent = error.type === "aborted"
            ? "stopped: the server cancelled the upstream (see the feed)"
            : error.message;
          continue;
        }
        text.textContent += JSON.parse(message.data);
        state.text = text.textContent;
        state.lastEventId = message.lastEventId;
        // Only the reply this page follows; another tab may own a newer one.
        if (saved()?.topic === state.topic) save(state);
        $("messages").scrollTop = $("messages").scrollHeight;
      }
    } catch (error) {
      outcome = "error";
      note.textContent = String(error);
    }
    if (controller.signal.aborted) return; // a newer reply took over
    reply.dataset.state = outcome;
    if (saved()?.topic === state.topic) save(null);
    following = null;
    $("send").disabled = false;
    $("stop").disabled = true;
  }

  const resumed = saved();
  if (resumed) follow(resumed);

  function bubble(role, content) {
    const element = $("messages").appendChild(document.createElement("div"));
    element.className = "msg " + role;
    element.textContent = content;
    return element;
  }

  // Feed: EventSource does the reconnecting; the page only checks that the
  // feed's sequence numbers have no holes.
  let source = null;
  let lastSeq = 0;
  let lastId = "";
  let reconnects = 0;
  const counts = { events: 0, gaps: 0 };
  function status(state) {
    $("feed-status").dataset.state = state;
    $("feed-status").textContent = state;
  }
  function show(event) {
    const { seq, text } = JSON.parse(event.data);
    const gap = lastSeq !== 0 && seq !== lastSeq + 1;
    if (gap) counts.gaps++;
    lastSeq = seq;
    lastId = event.lastEventId;
    counts.events++;
    const item = document.createElement("li");
    if (gap) item.className = "gap";
    item.innerHTML = '<span class="type"></span> <span class="text"></span> <span class="id"></span>';
    item.querySelector(".type").textContent = "#" + seq + " " + event.type;
    item.querySelector(".text").textContent = text;
    item.querySelector(".id").textContent = "id " + event.lastEventId;
    item.dataset.seq = seq;
    $("feed-events").prepend(item);
    $("feed-count").textContent = counts.events;
    $("feed-gaps").textContent = counts.gaps;
  }
  function startFeed() {
    // After "Stop feed", resume where we were: the hub reads ?lastEventId on
    // a first connection, where EventSource cannot send the header.
    source = new EventSource(lastId ? "/feed?lastEventId=" + encodeURIComponent(lastId) : "/feed");
    for (const type of ["tick", "chat", "cut"]) source.addEventListener(type, show);
    // The hub's word that history no longer reaches back to our id: a gap
    // it knows of. The count of sequence numbers starts over after it.
    source.addEventListener("reset", () => {
      counts.gaps++;
      $("feed-gaps").textContent = counts.gaps;
      lastSeq = 0;
    });
    let opens = 0;
    source.onopen = () => {
      if (opens++ > 0) $("feed-reconnects").textContent = ++reconnects;
      status("open");
    };
    source.onerror = () => status(source.readyState === EventSource.CLOSED ? "closed" : "reconnecting");
    $("feed-toggle").textContent = "Stop feed";
  }
  function stopFeed() {
    source.close();
    source = null;
    status("closed");
    $("feed-toggle").textContent = "Start feed";
  }
  $("feed-toggle").addEventListener("click", () => (source ? stopFeed() : startFeed()));
  $("cut").addEventListener("click", () => fetch("/feed/cut", { method: "POST" }));
  startFeed();

  // Counters: the server's sseMetrics() snapshot, once a second; closes
  // by reason (a cut, through the feed's own signal, is "aborted"). Polled
  // rather than streamed: a browser holds at most six connections to a
  // host, and two tabs of this page already hold two streams each.
  const LABELS = {
    openStreams: "open streams", streamsOpened: "streams opened", eventsSent: "events sent",
    bytesSent: "bytes sent", keepAlives: "keep-alives", resumes: "resumes",
    replayedEvents: "replayed events", resetsServed: "resets served",
    slowConsumerDisconnects: "slow-consumer disconnects", slowConsumerDrops: "slow-consumer drops",
    errors: "errors",
  };
  function showMetrics(snapshot) {
    const rows = Object.entries(LABELS).map(([key, label]) => [key, label, snapshot[key]]);
    for (const [reason, count] of Object.entries(snapshot.closed)) {
      rows.push(["closed-" + reason, "closed: " + reason, count]);
    }
    for (const [key, label, value] of rows) {
      let dd = document.getElementById("metric-" + key);
      if (!dd) {
        const dt = $("metrics-list").appendChild(document.createElement("dt"));
        dt.textContent = label;
        dd = $("metrics-list").appendChild(document.createElement("dd"));
        dd.id = "metric-" + key;
      }
      dd.textContent = value.toLocaleString();
    }
  }
  const poll = () => fetch("/metrics").then((response) => response.json()).then(showMetrics, () => {});
  poll();
  setInterval(poll, 1000);
</script>
</body>
</html>
`;
