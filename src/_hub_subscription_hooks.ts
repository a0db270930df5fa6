/**
 * What the hub's hooks are told of its subscriptions: resumes, resets and
 * slow consumers. These run only on rare paths, never per event, so the
 * hot ones (a subscription's push and take) stay as small as without
 * hooks.
 *
 * @module
 */

import {
  callHook,
  type SSEHooks,
  type SSELogger,
  type SSEResumeInfo,
} from "./hooks.ts";

/** The hooks a subscription reports to, and where they log. */
export interface HookHost {
  /** The hub's hooks, called only on resumes, resets and slow consumers. */
  readonly hooks: SSEHooks | undefined;
  readonly logger: SSELogger;
}

// Kept off the subscriptions (thousands sit idle, and a field costs each of
// them): the resumes under way of a hub with hooks, and the subscriptions
// cut off for falling behind.
const resumes = new WeakMap<object, SSEResumeInfo>();
const cutOff = new WeakSet<object>();

/** A resume starts: `onResume` is told once its replay has caught up. */
export function resuming(
  subscription: object,
  host: HookHost,
  topic: string,
  lastEventId: string,
): void {
  if (!host.hooks?.onResume) return;
  resumes.set(subscription, { topic, lastEventId, replayed: 0, gap: false });
}

/** The replay of a resume read `count` entries, after a gap or not. */
export function replayed(
  subscription: object,
  count: number,
  gap: boolean,
): void {
  const resume = resumes.get(subscription);
  if (resume === undefined) return;
  resume.replayed += count;
  if (gap) resume.gap = true;
}

/** The replay has caught up: the resume is told, once. */
export function resumed(subscription: object, host: HookHost): void {
  const resume = resumes.get(subscription);
  if (resume === undefined) return;
  resumes.delete(subscription);
  callHook(host.hooks!, "onResume", resume, host.logger);
}

/** A subscriber lost events to `slow`: dropped, or cut off. */
export function slowConsumer(
  host: HookHost,
  topic: string,
  action: "drop" | "disconnect",
): void {
  const { hooks, logger } = host;
  if (hooks) callHook(hooks, "onSlowConsumer", { topic, action }, logger);
}

/** A subscriber is sent the reset event. */
export function reset(
  host: HookHost,
  topic: string,
  reason: "history" | "overflow",
): void {
  const { hooks, logger } = host;
  if (hooks) callHook(hooks, "onReset", { topic, reason }, logger);
}

/** The subscription was ended for falling behind. */
export function markCutOff(subscription: object): void {
  cutOff.add(subscription);
}

/** Whether it was ended for falling behind: its stream's close reason. */
export function wasCutOff(subscription: object): boolean {
  return cutOff.has(subscription);
}
