// Debian's Chromium for the browser tests and the demo check: installed with
// apt on first use (playwright's own browser download cannot reach its host
// here), and launched through playwright-core with flags that keep a headless
// run quiet and self-contained.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { ensureDebianPackage } from "./services.mjs";

const CHROMIUM = "/usr/bin/chromium";

const FLAGS = [
  "--headless=new",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-dev-shm-usage",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/**
 * Starts a fresh Chromium (its own profile directory, removed on close).
 * Resolves to a playwright `BrowserContext`; `close()` also removes the profile.
 */
export async function launchChromium() {
  ensureDebianPackage("chromium", CHROMIUM);
  const profile = mkdtempSync(join(tmpdir(), "ssekit-chromium-"));
  let context;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: FLAGS,
    });
  } catch (error) {
    rmSync(profile, { recursive: true, force: true });
    throw error;
  }
  const close = context.close.bind(context);
  context.close = async () => {
    await close();
    rmSync(profile, { recursive: true, force: true });
  };
  return context;
}
