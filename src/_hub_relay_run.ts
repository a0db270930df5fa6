/**
 * One run of `hub.relay`, start to end: the upstream read, each mapped
 * event published, and the topic ended, after an error event when the run
 * failed or was stopped.
 *
 * @module
 */

import { parseSSE } from "./parse.ts";
import { checkEventStream } from "./response_error.ts";
import type { RelayMapResult, RelayUpstream } from "./relay.ts";
import type { HubRecord, HubStore } from "./store.ts";
import type { SSEEvent } from "./types.ts";
import type { SSELogger } from "./hooks.ts";
import type { HubRelayOptions, HubRelayOutcome } from "./hub_relay.ts";

/** The last event of a failed run: it reveals nothing of the cause. */
export const FAILED: HubRecord = Object.freeze({
  event: "error",
  data: '{"error":{"message":"The generation failed","type":"server_error"}}',
});
/** The last event of a stopped run. */
const ABORTED: HubRecord = Object.freeze({
  event: "error",
  data: '{"error":{"message":"The generation was stopped","type":"aborted"}}',
});

/** What the runs need of their hub. */
export interface RelayHub {
  readonly store: HubStore;
  publish(topic: string, event: SSEEvent | string): Promise<string>;
  end(topic: string, event?: SSEEvent | string): Promise<string>;
  /** Where a failed run is logged by default. */
  readonly logger: SSELogger;
}

/** A run under way. */
export interface Run {
  readonly topic: string;
  readonly holder: string;
  readonly stop: AbortController;
  readonly deadline: number;
  readonly idle: number;
  active: number;
  /** A renewal waits for the store: the next tick does not add another. */
  renewing: boolean;
}

/**
 * Runs `run` to its end; it is in `runs` until then. Resolves to how it
 * ended, once its topic has.
 */
export async function runRelay(
  hub: RelayHub,
  runs: Map<string, Run>,
  run: Run,
  upstream: RelayUpstream,
  options: HubRelayOptions,
): Promise<HubRelayOutcome> {
  const { topic, stop } = run;
  let outcome: HubRelayOutcome = "completed";
  let last: SSEEvent | string | undefined;
  try {
    await pump(hub, run, upstream, options);
    if (stop.signal.aborted) throw stop.signal.reason;
  } catch (error) {
    const aborted = stop.signal.aborted &&
      (stop.signal.reason as Error)?.name === "AbortError";
    outcome = aborted ? "aborted" : "failed";
    last = aborted ? ABORTED : failure(hub, error, options);
  } finally {
    runs.delete(topic);
    try {
      await hub.end(topic, last);
    } catch {
      // Ended already (reaped, or ended by hand): nothing more to say.
    }
    try {
      await hub.store.release?.(topic, run.holder);
    } catch {
      // The lease expires by itself.
    }
  }
  return outcome;
}
async function pump(
  hub: RelayHub,
  run: Run,
  upstream: RelayUpstream,
  options: HubRelayOptions,
): Promise<void> {
  const { stop } = run;
  const response =
    await (typeof upstream === "function"
      ? upstream(stop.signal, { lastEventId: "" })
      : upstream);
  const error = await checkEventStream(response, response.url);
  if (error) {
    await response.body?.cancel().catch(() => {});
    throw error;
  }
  const messages = parseSSE(response, {
    onComment: () => run.active = Date.now(),
  });
  // A Response given as is has no request to abort: its body is
  // cancelled instead.
  const cancel = () => void messages.return?.();
  stop.signal.addEventListener("abort", cancel, { once: true });
  try {
    for await (const message of messages) {
      run.active = Date.now();
      const result = options.map ? await options.map(message) : {
        event: message.type === "message" ? undefined : message.type,
        data: message.data,
      };
      if (stop.signal.aborted) return;
      for (const event of events(result)) {
        await hub.publish(run.topic, withoutId(event));
      }
    }
  } finally {
    stop.signal.removeEventListener("abort", cancel);
  }
}
function failure(
  hub: RelayHub,
  error: unknown,
  options: HubRelayOptions,
): SSEEvent | string {
  if (!options.onError) {
    hub.logger.error("ssekit: a relay failed:", error);
    return FAILED;
  }
  try {
    return options.onError(error) ?? FAILED;
  } catch {
    return FAILED;
  }
}
function events(result: RelayMapResult): (SSEEvent | string)[] {
  if (result === undefined || result === null) return [];
  if (typeof result === "string" || !(Symbol.iterator in result)) {
    return [result];
  }
  return [...result];
}

function withoutId(event: SSEEvent | string): SSEEvent | string {
  if (typeof event === "string" || event.id === undefined) return event;
  const { id: _, ...rest } = event;
  return rest;
}
