// The worker that runs the core test suite inside workerd (bundled with the
// test files by core.workerd.ts). Everything runs in one Durable Object,
// `CoreTests`: the tests, the servers they start (see _serve.ts), and the
// Durable Object store's contract on the object's real storage. One object
// is one I/O context, so a hub made in a test can feed a response that
// another request opened, as it does in an application's object.
//
// The worker entry forwards every request to the object: the harness's
// (`/__ssekit/tree`, `/__ssekit/run/<id>`, `/__ssekit/stray`) and the test
// clients' requests to the test servers.
import type { Harness } from "../browser/_node_test_shim.ts";
import type { DurableObjectStorageLike } from "../../src/durable_object.ts";
import { dispatch, listeningAt } from "./_serve.ts";

interface Stub {
  fetch(request: Request): Promise<Response>;
}
interface Namespace {
  idFromName(name: string): unknown;
  get(id: unknown): Stub;
}
interface Env {
  TESTS: Namespace;
}

let current: DurableObjectStorageLike | undefined;

/** The storage of the object the tests run in. */
export function storage(): DurableObjectStorageLike {
  if (!current) throw new Error("no Durable Object is running the tests");
  return current;
}

// Two workerd deviations from the Streams standard that would otherwise
// fail tests of ssekit for what the runtime does, set right here:
//
// - pipeThrough() leaves its pipe's promise unhandled, so a transform
//   stream that errors (as SSEDecoderStream does on bad input) also raises
//   an unhandled rejection. The standard marks that promise handled.
// - A pending read() of a fetch() body or a socket that is aborted or
//   cancelled is reported as an unhandled rejection, then as handled a
//   moment later, though the read was awaited all along. Rejections are
//   passed on to the test harness only if still unhandled a task later.
ReadableStream.prototype.pipeThrough = function <T>(
  this: ReadableStream,
  transform: ReadableWritablePair<T, unknown>,
  options?: StreamPipeOptions,
): ReadableStream<T> {
  this.pipeTo(transform.writable, options).catch(() => {});
  return transform.readable;
};
const unhandled = new Set<Promise<unknown>>();
addEventListener("unhandledrejection", (event) => {
  if ((event as { again?: true }).again) return;
  event.stopImmediatePropagation();
  unhandled.add(event.promise);
  setTimeout(() => {
    if (!unhandled.delete(event.promise)) return;
    // PromiseRejectionEvent is not constructible in workerd.
    dispatchEvent(
      Object.assign(new Event("unhandledrejection"), {
        reason: event.reason,
        promise: event.promise,
        again: true,
      }),
    );
  }, 0);
});
addEventListener("rejectionhandled", (event) => {
  unhandled.delete(event.promise);
});

const harness = () =>
  (globalThis as unknown as { __ssekitTests: Harness }).__ssekitTests;

export class CoreTests {
  constructor(state: { storage: DurableObjectStorageLike }) {
    current = state.storage;
  }

  async fetch(request: Request): Promise<Response> {
    const { pathname, searchParams } = new URL(request.url);
    if (!pathname.startsWith("/__ssekit/")) return dispatch(request);
    listeningAt(request.url);
    if (pathname === "/__ssekit/tree") return Response.json(harness().tree());
    if (pathname === "/__ssekit/stray") return Response.json(harness().stray());
    const run = /^\/__ssekit\/run\/(\d+)$/.exec(pathname);
    if (run) {
      const timeout = Number(searchParams.get("timeout") ?? 60_000);
      return Response.json(await harness().run(Number(run[1]), timeout));
    }
    return new Response("no such harness path", { status: 404 });
  }
}

export default {
  fetch(request: Request, env: Env): Promise<Response> {
    return env.TESTS.get(env.TESTS.idFromName("core")).fetch(request);
  },
};
