// Forwards to tests/support/ for the test files whose imports move in the
// next commit.
export { sleep, until, within } from "./support/time.ts";
export { streamOf } from "./support/streams.ts";
export { deferred } from "./support/deferred.ts";
