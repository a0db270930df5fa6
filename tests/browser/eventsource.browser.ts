// Chromium's own EventSource against ssekit hub servers on Deno, Bun and
// Node (tests/browser/_es_server.ts, one process per runtime): events arrive
// in order with the type, data and lastEventId the server sent; a stream the
// server cuts while events keep coming resumes with Last-Event-ID and gets
// exactly the missed events, also across a server restart when the hub is on
// Redis; a 204 stops the reconnecting. Runs on Node, from the compiled
// .build/tests/browser/ (scripts/test.mjs, "browser tests (Chromium)").
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import type { BrowserContext, Page } from "playwright-core";
import { launchChromium } from "../../scripts/chromium.mjs";
import type { SSEEvent } from "../../src/types.ts";
import { type Child, spawnChild } from "../support/child.ts";
import type { LogEntry } from "./_es_server.ts";
import { sleep, until, within } from "../support/time.ts";

/** The reconnection delay the servers ask for: short, so tests are quick. */
const RETRY = 150;
const RUNTIMES = ["deno", "bun", "node"] as const;
type Runtime = typeof RUNTIMES[number];

const noRedis = process.env.SSEKIT_REDIS_URL
  ? undefined
  : "SSEKIT_REDIS_URL is not set (npm test starts a Redis and sets it)";

// ---------------------------------------------------------------------------
// Servers

const script = join("tests", "browser", "_es_server.ts");
const commands: Record<Runtime, [string, string[]]> = {
  deno: ["deno", ["run", "-A", script]],
  bun: ["bun", [script]],
  // Node runs the compiled server next to this compiled file.
  node: [process.execPath, [
    fileURLToPath(new URL("./_es_server.js", import.meta.url)),
  ]],
};

const children = new Set<Child>();

async function startServer(runtime: Runtime, ...args: string[]) {
  const [command, base] = commands[runtime];
  const child = await spawnChild(command, [
    ...base,
    `--retry=${RETRY}`,
    ...args,
  ]);
  children.add(child);
  return child;
}

after(async () => {
  await Promise.all([...children].map((child) => child.stop()));
});

async function call<T>(
  method: "GET" | "POST",
  base: string,
  path: string,
  body?: unknown,
): Promise<T> {
  const response = await fetch(new URL(path, base), {
    method,
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  }).catch((error) => {
    throw new Error(`${method} ${path}: ${error.message}`, { cause: error });
  });
  assert.ok(response.ok, `${method} ${path}: ${response.status}`);
  return response.status === 204 ? undefined as T : await response.json();
}

/** Publishes `events` on `topic`, in order; resolves to their ids. */
const publish = (base: string, topic: string, events: SSEEvent[]) =>
  call<string[]>("POST", base, `/publish?topic=${topic}`, events);

/** The requests the server got on paths starting with `prefix`. */
async function requests(base: string, prefix: string): Promise<LogEntry[]> {
  const log = await call<LogEntry[]>("GET", base, "/log");
  return log.filter((entry) => entry.path.startsWith(prefix));
}

// ---------------------------------------------------------------------------
// The page's EventSource

interface Received {
  type: string;
  data: string;
  lastEventId: string;
  origin: string;
}

/** What the page's EventSource has done so far. */
interface Probe {
  received: Received[];
  /** One per error event: the state then, and how far it had got. */
  errors: { readyState: number; received: number; lastEventId: string }[];
  opens: number;
  readyState: number;
}

type PageGlobal = { probe: Probe; source: EventSource };

let context: BrowserContext;

before(async () => {
  context = await launchChromium();
  context.setDefaultTimeout(15_000);
});

after(async () => {
  await context?.close();
});

/**
 * Opens a page of the server at `base` whose EventSource listens to `path`
 * for events of `types`, runs `body`, and closes the page (and with it the
 * EventSource).
 */
async function withSource(
  base: string,
  path: string,
  types: string[],
  body: (source: PageSource) => Promise<void>,
): Promise<void> {
  const page = await context.newPage();
  try {
    await page.goto(base);
    await page.evaluate(([path, types]) => {
      const page = globalThis as unknown as PageGlobal;
      const source = new EventSource(path);
      const probe: Probe = {
        received: [],
        errors: [],
        opens: 0,
        readyState: 0,
      };
      for (const type of types) {
        source.addEventListener(type, (event) => {
          const { data, lastEventId, origin } = event as MessageEvent<string>;
          probe.received.push({ type, data, lastEventId, origin });
        });
      }
      source.addEventListener("open", () => probe.opens++);
      source.addEventListener("error", () =>
        probe.errors.push({
          readyState: source.readyState,
          received: probe.received.length,
          lastEventId: probe.received.at(-1)?.lastEventId ?? "",
        }));
      page.probe = probe;
      page.source = source;
    }, [path, types] as const);
    await body(new PageSource(page));
  } finally {
    await page.close();
  }
}

class PageSource {
  readonly #page: Page;

  constructor(page: Page) {
    this.#page = page;
  }

  state(): Promise<Probe> {
    return within(
      this.#page.evaluate(() => {
        const { probe, source } = globalThis as unknown as PageGlobal;
        return { ...probe, readyState: source.readyState };
      }),
      10_000,
      "reading the page's state",
    );
  }

  /** Polls the page until `done`; fails with what it saw after `ms`. */
  until(
    what: string,
    done: (probe: Probe) => boolean,
    ms = 10_000,
  ): Promise<Probe> {
    return until(() => this.state(), done, what, ms);
  }
}

const lastIds = (probe: Probe) => probe.received.map((r) => r.lastEventId);

// ---------------------------------------------------------------------------
// The tests

for (const runtime of RUNTIMES) {
  describe(`EventSource against a ${runtime} server`, () => {
    let server: Child;
    let origin: string;

    before(async () => {
      server = await startServer(runtime);
      origin = new URL(server.url).origin;
    });

    test("receives events in order, with their type, data and lastEventId", {
      timeout: 30_000,
    }, async () => {
      const sent: SSEEvent[] = [
        { event: "note", data: "naïve café ☕ 日本語 😀" },
        { data: "line one\nline two\r\nline three\rline four" },
        { data: "  leading and trailing spaces  " },
        // Field names inside data stay data.
        { data: "id: 999\nevent: evil\nretry: 1\n: comment" },
        { event: "note", data: "" },
        { event: "json", data: { text: "é\n", list: [1, 2] } },
        { data: "last" },
      ];
      const expected = [
        { type: "note", data: "naïve café ☕ 日本語 😀" },
        { type: "message", data: "line one\nline two\nline three\nline four" },
        { type: "message", data: "  leading and trailing spaces  " },
        { type: "message", data: "id: 999\nevent: evil\nretry: 1\n: comment" },
        { type: "note", data: "" },
        { type: "json", data: '{"text":"é\\n","list":[1,2]}' },
        { type: "message", data: "last" },
      ];
      await withSource(
        server.url,
        "/events?topic=order",
        ["message", "note", "json"],
        async (source) => {
          // A subscriber without Last-Event-ID gets what comes after it
          // connected.
          await source.until("open", (probe) => probe.opens === 1);
          const ids = await publish(server.url, "order", sent);
          const probe = await source.until(
            "every event",
            (probe) => probe.received.length >= sent.length,
          );
          assert.deepEqual(
            probe.received,
            expected.map((event, i) => ({
              ...event,
              lastEventId: ids[i],
              origin,
            })),
          );
          assert.deepEqual(probe.errors, []);
          assert.equal(probe.readyState, 1);
        },
      );
      const log = await requests(server.url, "/events?topic=order");
      assert.deepEqual(log.map((entry) => entry.header), [null]);
    });

    for (const how of ["end", "error"]) {
      test(
        `resumes exactly where it was when the server ${
          how === "end" ? "ends" : "drops"
        } the stream while events keep coming`,
        {
          timeout: 30_000,
        },
        async () => {
          const topic = `cut-${how}`;
          await withSource(
            server.url,
            `/events?topic=${topic}`,
            ["tick", "reset"],
            async (source) => {
              await source.until("open", (probe) => probe.opens === 1);
              await call(
                "POST",
                server.url,
                `/publisher/start?topic=${topic}&every=10`,
              );
              let ids: string[] = [];
              try {
                await source.until(
                  "events before the cut",
                  (probe) => probe.received.length >= 20,
                );
                const cut = await call<number>(
                  "POST",
                  server.url,
                  `/cut?how=${how}`,
                );
                assert.ok(cut >= 1, "a stream was open to cut");
                await source.until(
                  "the reconnection and more events",
                  (probe) =>
                    probe.opens === 2 &&
                    probe.received.length >= probe.errors[0].received + 20,
                );
              } finally {
                ids = await call<string[]>(
                  "POST",
                  server.url,
                  "/publisher/stop",
                );
              }
              const probe = await source.until(
                "every published event",
                (probe) => probe.received.at(-1)?.lastEventId === ids.at(-1),
              );
              assert.deepEqual(lastIds(probe), ids, "every id once, in order");
              assert.deepEqual(
                probe.received.map(({ type, data }) => ({ type, data })),
                ids.map((_, n) => ({ type: "tick", data: String(n) })),
              );
              // One error event, while reconnecting (not failed).
              assert.equal(probe.errors.length, 1);
              const [error] = probe.errors;
              assert.equal(error.readyState, 0);
              assert.ok(
                error.received < ids.length,
                "events were published after the cut",
              );
              assert.equal(probe.readyState, 1);
              const log = await requests(server.url, `/events?topic=${topic}`);
              assert.deepEqual(
                log.map((entry) => entry.header),
                [null, error.lastEventId],
                "the reconnection sent the last id seen before the cut",
              );
            },
          );
        },
      );
    }

    test("a 204 on reconnection closes it for good", {
      timeout: 30_000,
    }, async () => {
      // Non-ASCII ids: the browser sends them back as UTF-8 and
      // getLastEventId decodes them.
      const sent: SSEEvent[] = [
        { event: "note", id: "café ☕ 1", data: "first" },
        { id: "naïve…2", data: "second" },
      ];
      const path = `/once?events=${encodeURIComponent(JSON.stringify(sent))}`;
      await withSource(
        server.url,
        path,
        ["message", "note"],
        async (source) => {
          await source.until("CLOSED", (probe) => probe.readyState === 2);
          // Many reconnection delays, for a reconnection that must not come.
          await sleep(RETRY * 8);
          const probe = await source.state();
          assert.deepEqual(probe.received, [
            { type: "note", data: "first", lastEventId: "café ☕ 1", origin },
            { type: "message", data: "second", lastEventId: "naïve…2", origin },
          ]);
          assert.equal(probe.opens, 1);
          // The end of the stream (reconnecting), then the 204 (closed).
          assert.deepEqual(
            probe.errors.map((error) => error.readyState),
            [0, 2],
          );
          assert.equal(probe.readyState, 2);
        },
      );
      const log = await requests(server.url, "/once");
      assert.deepEqual(
        log.map((entry) => entry.lastEventId),
        ["", "naïve…2"],
        "one reconnection, with the last id, and no more after the 204",
      );
    });

    test("resumes across a server restart when the hub is on Redis", {
      // Skipped without a Redis, except under CI, where it must run.
      skip: process.env.CI !== "true" && noRedis,
      timeout: 60_000,
    }, async () => {
      if (noRedis) assert.fail(noRedis);
      const prefix =
        `--redis-prefix=ssekit-browser:${process.pid}:${Date.now()}:${runtime}:`;
      let instance = await startServer(runtime, prefix);
      // Another instance publishes, as the rest of a cluster would.
      const publisher = await startServer("node", prefix);
      const port = new URL(instance.url).port;
      const notes = (...data: string[]) =>
        publish(
          publisher.url,
          "r",
          data.map((text) => ({ event: "note", data: text })),
        );
      try {
        // A first connection resumes after an id it was given (the query
        // parameter): exactly-once holds from there, however long this
        // instance's Redis tail takes to start.
        const [start] = await notes("start");
        await withSource(
          instance.url,
          `/events?topic=r&lastEventId=${encodeURIComponent(start)}`,
          ["note", "reset"],
          async (source) => {
            const sent = await notes("a0", "a1", "a2");
            await source.until(
              "events before the restart",
              (probe) => probe.received.length === 3,
            );
            await instance.kill();
            await source.until(
              "the page noticed",
              (probe) => probe.errors.length > 0,
            );
            sent.push(...await notes("m0", "m1", "m2", "m3", "m4"));
            instance = await startServer(runtime, prefix, `--port=${port}`);
            await source.until(
              "the missed events",
              (probe) => probe.received.length >= 8,
            );
            sent.push(...await notes("b0", "b1"));
            const probe = await source.until(
              "the events after the restart",
              (probe) => probe.received.length >= 10,
            );
            await sleep(RETRY * 2); // For duplicates, if any were coming.
            const final = await source.state();
            assert.deepEqual(final.received, probe.received);
            assert.deepEqual(lastIds(final), sent);
            assert.deepEqual(
              final.received.map((r) => r.data),
              ["a0", "a1", "a2", "m0", "m1", "m2", "m3", "m4", "b0", "b1"],
            );
            assert.equal(final.readyState, 1);
            // The header wins over the first connection's query parameter.
            const log = await requests(instance.url, "/events");
            assert.deepEqual(
              log.map((entry) => entry.header),
              [sent[2]],
              "the restarted server got one connection, resuming after a2",
            );
          },
        );
      } finally {
        await Promise.all([instance.stop(), publisher.stop()]);
      }
    });
  });
}
