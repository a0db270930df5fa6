/**
 * The `response` of a hub: a topic as a `text/event-stream` response.
 *
 * @module
 */

import type { SSEHooks } from "./hooks.ts";
import type { Subscription } from "./_hub_subscription.ts";

// The hooks of a response's stream, made per response and only where the
// hub has hooks: a subscription ended for falling behind looks done to its
// stream, and is reported as "slow-consumer"; where the stream's signal is
// the request's, its abort is the client leaving (Deno and Bun abort it
// when the client disconnects).
export function streamHooks(
  hooks: SSEHooks,
  subscription: Subscription,
  requestSignal: boolean,
): SSEHooks {
  const { onClose } = hooks;
  if (onClose === undefined) return hooks;
  const wrapped: SSEHooks = Object.create(hooks);
  wrapped.onClose = (info) =>
    onClose.call(
      hooks,
      info.reason === "done" && subscription.slow
        ? { ...info, reason: "slow-consumer" }
        : info.reason === "aborted" && requestSignal
        ? { ...info, reason: "client-left" }
        : info,
    );
  return wrapped;
}
