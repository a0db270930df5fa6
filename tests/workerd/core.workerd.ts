// The core test suite (encoder, parser, client, events, hub, memory store)
// and the Durable Object store's contract, run inside workerd. esbuild
// bundles the test files with node:test and node:assert/strict swapped for
// the browser's shims (tests/browser/), and src/node.ts (behind
// tests/support/server.ts) swapped for _serve.ts, whose servers workerd's own
// socket serves. Each test in workerd becomes a node:test subtest here, so a
// failure in workerd fails the Node run. Without nodejs_compat: the core
// must not need it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { SourceMap } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { root } from "../support/child.ts";
import { RawClient } from "../support/raw_client.ts";
import { startWorkersRecipe } from "./_recipe.ts";
import type { Outcome, TreeNode } from "../browser/_node_test_shim.ts";
import {
  mirrorSuite,
  remoteError,
  standIns,
  type Tally,
  TEST_TIMEOUT,
} from "../support/remote_suite.ts";
import { bundleWorker, serveWorker } from "./_workerd.ts";

const TEST_FILES = [
  "tests/encode.test.ts",
  "tests/parse.test.ts",
  "tests/client.test.ts",
  "tests/events.test.ts",
  "tests/hub.test.ts",
  "tests/memory_store.test.ts",
  "tests/shared_clock.test.ts",
  "tests/hub_body.test.ts",
  "tests/workerd/_durable_object_suite.ts",
];
// Just under the tests the files hold today, so an empty run or a file
// that failed to register cannot pass.
const MIN_TESTS = 180;

/**
 * Tests that cannot run in a worker, by name, and why. Each is reported as
 * skipped with its reason.
 */
// workerd sees that a client left only when it next writes to the
// response: a stream that has nothing more to send never learns of it.
const UNTIL_NEXT_WRITE =
  "workerd notices a client's leaving only at the response's next write, and this test's server writes nothing after the client leaves";
const SKIPPED: Record<string, string> = {
  "close() ends a pending next() at once and aborts the request":
    UNTIL_NEXT_WRITE,
  "resumes after the Last-Event-ID header, then streams live events":
    UNTIL_NEXT_WRITE,
  "takes lastEventId from the query on a first connect; the header wins":
    UNTIL_NEXT_WRITE,
  "gives up after maxAttempts failed attempts with the last network error":
    "a worker cannot refuse a connection: workerd's socket answers (503) where a closed port would fail the fetch",
};

async function bundle(root: string) {
  const server = join(root, "tests", "workerd", "_serve.ts");
  const swap = standIns(root, server, (b) => {
    b.onResolve({ filter: /^node:(buffer|net)$/ }, () => ({
      path: join(root, "tests", "workerd", "_node_shims.ts"),
    }));
    b.onResolve({ filter: /^cloudflare:/ }, ({ path }) => ({
      path,
      external: true,
    }));
  });
  const entry = [
    `export { default, CoreTests } from "./tests/workerd/_worker.ts";`,
    ...TEST_FILES.map((file) => `import "./${file}";`),
  ].join("\n");
  const { js, map } = await bundleWorker(root, entry, [swap]);
  return { js, map: new SourceMap(JSON.parse(map)) };
}

// A position in the bundle, as workerd's stacks name it.
const FRAME = /\bworker\.js:(\d+):(\d+)/g;

test("the core test suite passes in workerd", {
  timeout: 10 * 60_000,
}, async (t) => {
  const checkout = root();
  const { js, map } = await bundle(checkout);
  const worker = await serveWorker({ js, map: "" }, {
    durableObject: { className: "CoreTests", binding: "TESTS" },
  });
  try {
    const harness = async <T>(path: string): Promise<T> => {
      const response = await fetch(new URL(`/__ssekit/${path}`, worker.url));
      if (!response.ok) {
        throw new Error(`${path}: ${response.status} ${await response.text()}`);
      }
      return await response.json() as T;
    };
    const tree = await harness<TreeNode>("tree");
    const tally: Tally = { ran: 0, passed: 0, skipped: 0 };
    await mirrorSuite(
      t,
      tree,
      async (id) => {
        const outcome = await harness<Outcome>(
          `run/${id}?timeout=${TEST_TIMEOUT}`,
        );
        if (outcome.status === "fail") {
          throw remoteError(outcome.error!, map, checkout, FRAME);
        }
      },
      tally,
      SKIPPED,
    );
    assert.deepEqual(
      await harness<string[]>("stray"),
      [],
      "errors thrown outside any test",
    );
    t.diagnostic(
      `workerd ran ${tally.ran} tests: ${tally.passed} passed, ${tally.skipped} skipped`,
    );
    assert.ok(tally.ran >= MIN_TESTS, `only ${tally.ran} tests ran in workerd`);
  } finally {
    await worker.stop();
  }
});

test("a topic's history in the Workers recipe's Durable Object survives a restart of workerd", async () => {
  const storage = mkdtempSync(join(tmpdir(), "ssekit-do-"));
  // Nothing is relayed here.
  const upstream = "http://127.0.0.1:9/";
  const publish = async (url: string, data: string) => {
    const response = await fetch(new URL("/topics/news", url), {
      method: "POST",
      headers: {
        authorization: "Bearer secret",
        "content-type": "application/json",
      },
      body: JSON.stringify({ data }),
    });
    assert.equal(response.status, 200);
    return ((await response.json()) as { id: string }).id;
  };
  try {
    let worker = await startWorkersRecipe(upstream, storage);
    const ids = [];
    for (const data of ["one", "two", "three"]) {
      ids.push(await publish(worker.url, data));
    }
    await worker.stop();
    worker = await startWorkersRecipe(upstream, storage);
    try {
      const client = new RawClient(new URL("/topics/news", worker.url).href, {
        "Last-Event-ID": ids[0],
      });
      await client.waitFor(`id: ${ids[2]}\n`);
      const four = await publish(worker.url, "four");
      await client.waitFor(`id: ${four}\n`);
      assert.equal(
        client.body,
        `:\nid: ${ids[1]}\ndata: two\n\nid: ${ids[2]}\ndata: three\n\n` +
          `id: ${four}\ndata: four\n\n`,
      );
      client.close();
    } finally {
      await worker.stop();
    }
  } finally {
    rmSync(storage, { recursive: true, force: true });
  }
});
