// The demo as a person uses it, in Chromium, on each runtime: started by the
// same command as the README's (`npm run demo -- --runtime=…`), a prompt
// streamed into the page, a reply stopped (and the upstream cancelled on
// the server), the feed cut server-side and resumed without a gap. A
// screenshot of each run is kept in .artifacts/.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import type { BrowserContext, Locator, Page } from "playwright-core";
import { launchChromium } from "../../scripts/chromium.mjs";
import { fakeReply } from "../../examples/openai_relay.ts";
import type { DemoStats } from "../../examples/demo/app.ts";
import { root, spawnChild } from "../support/child.ts";
import { sleep, until } from "../support/time.ts";

const artifacts = join(root(), ".artifacts");

interface Demo {
  url: string;
  stats(): Promise<DemoStats>;
  stop(): Promise<void>;
}

// With a Redis (npm test starts one), the demo keeps its topics there.
const redis = process.env.SSEKIT_REDIS_URL;

// Starts `npm run demo`'s script on a free port.
async function startDemo(runtime: string): Promise<Demo> {
  const args = [
    join(root(), "scripts", "demo.mjs"),
    `--runtime=${runtime}`,
    "--port=0",
  ];
  if (redis) {
    args.push(
      `--redis=${redis}`,
      `--redis-prefix=ssekit-demo-test:${process.pid}:${Date.now()}:${runtime}:`,
    );
  }
  const child = await spawnChild(process.execPath, args, {
    stopWith: "SIGTERM",
  });
  return {
    url: child.url,
    stats: async () =>
      (await fetch(new URL("/stats", child.url), {
        signal: AbortSignal.timeout(10_000),
      })).json(),
    stop: child.stop,
  };
}

/**
 * Sends `prompt` and returns its reply's bubble once the page shows it:
 * the page adds it when the server has started the reply, so `.last()`
 * right after the click could still be the previous reply.
 */
async function send(page: Page, prompt: string): Promise<Locator> {
  const replies = page.locator(".msg.assistant");
  const count = await replies.count();
  await page.fill("#prompt", prompt);
  await page.click("#send");
  const reply = replies.nth(count);
  await reply.waitFor({ timeout: 10_000 });
  return reply;
}

const feedCount = async (page: Page) =>
  Number(await page.textContent("#feed-count"));
// A reply bubble's text, without its status note.
const textOf = async (reply: Locator) =>
  await reply.locator("span").first().textContent() ?? "";

let browser: BrowserContext;
before(async () => {
  browser = await launchChromium();
  mkdirSync(artifacts, { recursive: true });
});
after(() => browser?.close());

for (const runtime of ["node", "deno", "bun"]) {
  describe(`the demo on ${runtime}`, { timeout: 120_000 }, () => {
    let demo: Demo;
    let page: Page;
    const errors: string[] = [];
    before(async () => {
      demo = await startDemo(runtime);
      page = await browser.newPage();
      await page.setViewportSize({ width: 1200, height: 720 });
      page.on("pageerror", (error) => errors.push(error.message));
      page.on("console", (message) => {
        if (message.type() === "error") errors.push(message.text());
      });
      await page.goto(demo.url);
    });
    after(async () => {
      await page?.close();
      await demo?.stop();
    });

    test("a prompt streams the fake model's reply into the page", async () => {
      const prompt = `Hello from Chromium on ${runtime} <b>&</b> "quotes" ✓`;
      const reply = await send(page, prompt);
      // Mid-stream: some text shown, the cursor still there.
      await until(
        async () => [
          await reply.getAttribute("data-state"),
          await textOf(reply),
        ],
        ([state, text]) => state === "streaming" && text !== "",
        "the reply streaming",
      );
      await reply.and(page.locator('[data-state="done"]')).waitFor({
        timeout: 30_000,
      });
      assert.equal(await textOf(reply), fakeReply(prompt).join(""));
      assert.equal(
        await page.locator(".msg.user").last().textContent(),
        prompt,
      );
      await page.screenshot({ path: join(artifacts, `demo-${runtime}.png`) });
    });

    test("Stop ends the reply and the server cancels the upstream", async () => {
      const before = await demo.stats();
      const reply = await send(page, "A reply to stop halfway");
      await until(
        () => textOf(reply),
        (text) => text.split(" ").length > 5,
        "a few words of the reply",
      );
      await page.click("#stop");
      await reply.and(page.locator('[data-state="stopped"]')).waitFor({
        timeout: 5_000,
      });
      const shown = await textOf(reply);
      assert.ok(
        shown.length < fakeReply("A reply to stop halfway").join("").length,
      );
      await until(
        demo.stats,
        (stats) =>
          stats.activeReplies === 0 &&
          stats.cancelledReplies === before.cancelledReplies + 1,
        "the upstream reply cancelled",
      );
      // The feed reports it too, as the page shows it.
      await page.locator("#feed-events li", {
        hasText: "stopped by the client",
      }).first().waitFor({ timeout: 5_000 });
    });

    test(`a reload mid-reply goes on where it was${redis ? " (hub on Redis)" : ""}`, async () => {
      const before = await demo.stats();
      const prompt = `A reply that outlives a reload on ${runtime}`;
      const sent = await send(page, prompt);
      await until(
        () => textOf(sent),
        (text) => text.split(" ").length > 5,
        "a few words of the reply",
      );
      await page.reload();
      const reply = page.locator(".msg.assistant").last();
      await reply.and(page.locator('[data-state="done"]')).waitFor({
        timeout: 30_000,
      });
      // Every token once, in order: the page resumed after the last one.
      assert.equal(await textOf(reply), fakeReply(prompt).join(""));
      assert.equal(
        (await demo.stats()).cancelledReplies,
        before.cancelledReplies,
        "the reload did not cancel the upstream",
      );
    });

    test("Stop in another tab stops the reply this tab follows", async () => {
      const before = await demo.stats();
      const reply = await send(page, "A reply stopped from another tab");
      await until(() => textOf(reply), (text) => text !== "", "the reply");
      const other = await browser.newPage();
      try {
        await other.goto(demo.url);
        const mirrored = other.locator(".msg.assistant").last();
        await until(() => textOf(mirrored), (t) => t !== "", "the other tab");
        await other.click("#stop");
        for (
          const [tab, bubble] of [[page, reply], [other, mirrored]] as const
        ) {
          await bubble.and(tab.locator('[data-state="stopped"]')).waitFor({
            timeout: 5_000,
          });
        }
        assert.equal(await reply.getAttribute("data-state"), "stopped");
        assert.equal(await mirrored.getAttribute("data-state"), "stopped");
        await until(
          demo.stats,
          (stats) => stats.cancelledReplies === before.cancelledReplies + 1,
          "the upstream cancelled",
        );
      } finally {
        await other.close();
      }
    });

    test("the feed resumes without a gap after a server-side cut", async () => {
      await page.locator('#feed-status[data-state="open"]').waitFor({
        timeout: 10_000,
      });
      const before = await demo.stats();
      await page.click("#cut");
      await until(demo.stats, (stats) => stats.cuts === before.cuts + 1, "cut");
      await until(
        () => page.textContent("#feed-reconnects"),
        (text) => Number(text) >= 1,
        "the EventSource reconnecting",
      );
      // Events published while the connection was down arrive, in order:
      // the page counts any hole in the feed's sequence numbers as a gap.
      const count = await feedCount(page);
      await until(() => feedCount(page), (n) => n >= count + 2, "more events");
      assert.equal(await page.textContent("#feed-gaps"), "0");
      assert.equal(
        await page.getAttribute("#feed-status", "data-state"),
        "open",
      );
      assert.equal((await demo.stats()).feedConnections, 1);
    });

    test("Stop feed closes the server's stream; Start resumes after its last id", async () => {
      await page.locator("#feed-toggle", { hasText: "Stop feed" }).click();
      await page.locator('#feed-status[data-state="closed"]').waitFor({
        timeout: 5_000,
      });
      await until(
        demo.stats,
        (stats) => stats.feedConnections === 0,
        "the server's stream closed",
      );
      const count = await feedCount(page);
      await sleep(1_500); // at least one tick published meanwhile
      await page.click("#feed-toggle");
      await until(() => feedCount(page), (n) => n >= count + 2, "resumed");
      assert.equal(await page.textContent("#feed-gaps"), "0");
      assert.deepEqual(errors, []);
    });
  });
}
