// The core test suite (encoder, parser, client) run inside headless
// Chromium. esbuild bundles the three test files with node:test and
// node:assert/strict swapped for browser shims, and src/node.ts (behind
// tests/support/server.ts) swapped for a bridge whose servers this file's
// node:http server stands for. Each browser test becomes a node:test
// subtest here, so a failure in Chromium fails the Node run.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import {
  createServer,
  type IncomingMessage,
  type ServerResponse,
} from "node:http";
import type { AddressInfo } from "node:net";
import { SourceMap } from "node:module";
import { join } from "node:path";
import process from "node:process";
import { build } from "esbuild";
import type { Page } from "playwright-core";
import { root } from "../support/child.ts";
import { launchChromium } from "../../scripts/chromium.mjs";
import type { Harness } from "./_node_test_shim.ts";
import {
  mapStack,
  mirrorSuite,
  remoteError,
  standIns,
  type Tally,
  TEST_TIMEOUT,
} from "../support/remote_suite.ts";
import type {
  Bridge,
  BridgedChunk,
  BridgedHead,
  BridgedRequest,
} from "./_server_bridge.ts";

const TEST_FILES = [
  "tests/encode.test.ts",
  "tests/parse.test.ts",
  "tests/client.test.ts",
];
// Just under the 131 tests the three files hold today, so an empty run, a
// file that failed to register or a lost server kind cannot pass.
const MIN_TESTS = 120;
const PAGE = "/__ssekit/";
const BUNDLE = "/__ssekit/bundle.js";

async function bundle(root: string): Promise<{ js: string; map: SourceMap }> {
  const server = join(root, "tests", "browser", "_server_bridge.ts");
  const result = await build({
    stdin: {
      contents: TEST_FILES.map((file) => `import "./${file}";`).join("\n"),
      resolveDir: root,
      sourcefile: "core-browser-entry.ts",
      loader: "ts",
    },
    bundle: true,
    format: "esm",
    platform: "browser",
    // Not written: only names the output, so the map's paths are root-relative.
    outfile: join(root, "core-browser.js"),
    write: false,
    sourcemap: "external",
    sourcesContent: false,
    logLevel: "silent",
    plugins: [standIns(root, server)],
  });
  const js = result.outputFiles.find((f) => f.path.endsWith(".js"))!.text;
  const map = result.outputFiles.find((f) => f.path.endsWith(".js.map"))!.text;
  return { js, map: new SourceMap(JSON.parse(map)) };
}

// A position in the bundle, as Chromium's stacks name it.
const FRAME = /https?:\/\/[^\s)]+\/__ssekit\/bundle\.js:(\d+):(\d+)/g;

/**
 * The node:http server the page is loaded from. Every other path goes
 * through the bridge to the test servers in the page: same origin, so the
 * tests' fetches need no CORS.
 */
async function startHost(js: string) {
  let page: Page | undefined;
  let lastId = 0;
  const html =
    `<!doctype html><meta charset="utf-8"><title>ssekit core tests</title>
<link rel="icon" href="data:,"><script type="module" src="${BUNDLE}"></script>`;

  async function forward(req: IncomingMessage, res: ServerResponse) {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const id = ++lastId;
    res.on("close", () => {
      if (res.writableFinished) return;
      page?.evaluate(
        (id) =>
          (globalThis as unknown as { __ssekitBridge: Bridge })
            .__ssekitBridge.abort(id),
        id,
      ).catch(() => {});
    });
    const headers: [string, string][] = [];
    for (let i = 0; i < req.rawHeaders.length; i += 2) {
      headers.push([req.rawHeaders[i], req.rawHeaders[i + 1]]);
    }
    const request: BridgedRequest = {
      id,
      method: req.method!,
      url: new URL(req.url!, `http://${req.headers.host}`).href,
      headers,
      body: Buffer.concat(chunks).toString("base64"),
    };
    const head = await page?.evaluate(
      (r) =>
        (globalThis as unknown as { __ssekitBridge: Bridge })
          .__ssekitBridge.handle(r),
      request,
    ).catch(() => null);
    // No server open in the page: as a closed port, the connection fails.
    if (!head) return void req.socket.destroy();
    if (res.destroyed) return;
    await respond(id, head, res);
  }

  async function respond(id: number, head: BridgedHead, res: ServerResponse) {
    const fields: Record<string, string | string[]> = {};
    for (const [name, value] of head.headers) {
      const seen = fields[name];
      fields[name] = seen === undefined
        ? value
        : [...(Array.isArray(seen) ? seen : [seen]), value];
    }
    res.socket?.setNoDelay(true);
    if (head.statusText) res.statusMessage = head.statusText;
    res.writeHead(head.status, fields);
    if (!head.body) return void res.end();
    res.flushHeaders();
    for (;;) {
      const chunk: BridgedChunk = await page!.evaluate(
        (id) =>
          (globalThis as unknown as { __ssekitBridge: Bridge })
            .__ssekitBridge.next(id),
        id,
      ).catch(() => ({ done: true, reset: true }));
      if (res.destroyed) return;
      if (chunk.reset) return void res.destroy();
      if (chunk.done) return void res.end();
      // The next pull waits for the socket, as ssekit/node's backpressure does.
      if (!res.write(Buffer.from(chunk.data!, "base64"))) {
        await new Promise<void>((resolve) => {
          const done = () => {
            res.off("drain", done);
            res.off("close", done);
            resolve();
          };
          res.once("drain", done);
          res.once("close", done);
        });
      }
    }
  }

  const server = createServer((req, res) => {
    const path = req.url?.split("?")[0];
    if (path === PAGE || path === BUNDLE) {
      const [type, body] = path === PAGE
        ? ["text/html", html]
        : ["text/javascript", js];
      res.writeHead(200, {
        "Content-Type": `${type}; charset=utf-8`,
        "Cache-Control": "no-store",
      });
      return void res.end(body);
    }
    forward(req, res).catch((error) => {
      console.error("server bridge (Node side):", error);
      res.destroy();
    });
  });
  await new Promise<void>((resolve) =>
    server.listen(0, "127.0.0.1", () => resolve())
  );
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    attach(p: Page) {
      page = p;
    },
    close() {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

test("the core test suite passes in Chromium", {
  timeout: 10 * 60_000,
}, async (t) => {
  const checkout = root();
  const { js, map } = await bundle(checkout);
  const host = await startHost(js);
  const context = await launchChromium();
  try {
    const page = context.pages()[0] ?? await context.newPage();
    host.attach(page);
    const pageErrors: string[] = [];
    page.on("pageerror", (error) => {
      pageErrors.push(
        mapStack(error.stack ?? String(error), map, checkout, FRAME),
      );
    });
    page.on("console", (message) => {
      // Chromium logs every non-2xx fetch; the client tests make many.
      if (message.text().startsWith("Failed to load resource:")) return;
      if (message.type() === "error" || message.type() === "warning") {
        process.stderr.write(
          `[chromium ${message.type()}] ${message.text()}\n`,
        );
      }
    });
    await page.goto(host.origin + PAGE);
    assert.deepEqual(pageErrors, [], "the bundle loads without errors");

    const browser = await page.evaluate(() => ({
      userAgent: navigator.userAgent,
      brands: (navigator as { userAgentData?: { brands: { brand: string }[] } })
        .userAgentData?.brands.map((b) => b.brand) ?? [],
    }));
    assert.match(browser.userAgent, /\b(Headless)?Chrome\/\d+/);
    assert.ok(browser.brands.includes("Chromium"), String(browser.brands));
    t.diagnostic(browser.userAgent);

    const tree = await page.evaluate(() =>
      (globalThis as unknown as { __ssekitTests: Harness }).__ssekitTests
        .tree()
    );
    const tally: Tally = { ran: 0, passed: 0, skipped: 0 };
    await mirrorSuite(t, tree, async (id) => {
      const outcome = await page.evaluate(
        ([id, timeout]) =>
          (globalThis as unknown as { __ssekitTests: Harness })
            .__ssekitTests.run(id, timeout),
        [id, TEST_TIMEOUT] as const,
      );
      if (outcome.status === "fail") {
        throw remoteError(outcome.error!, map, checkout, FRAME);
      }
    }, tally);
    const stray = await page.evaluate(() =>
      (globalThis as unknown as { __ssekitTests: Harness }).__ssekitTests
        .stray()
    );
    assert.deepEqual(stray, [], "errors thrown outside any test");
    t.diagnostic(
      `Chromium ran ${tally.ran} tests: ${tally.passed} passed`,
    );
    assert.ok(
      tally.ran >= MIN_TESTS,
      `only ${tally.ran} tests ran in Chromium`,
    );
  } finally {
    await context.close();
    await host.close();
  }
});
