// Debian's chromium, headless, driven over the DevTools protocol (playwright-core, no bundled
// browser). Under CI a missing chromium fails the run; elsewhere the tests are skipped.
import { existsSync } from 'node:fs';
import type { BrowserContext } from 'playwright-core';
import { join } from 'node:path';
import { requireStandIn } from './stand-in.js';
import { tempDir } from './temp.js';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const chromiumAvailable = requireStandIn('chromium', existsSync(CHROMIUM), 'Install it with: apt-get update && apt-get install -y chromium');

/** A fresh browser with its own profile in the test's temp folder; nothing of it outlives the test file. */
export async function launchChromium(): Promise<{ browser: BrowserContext; dir: string }> {
  const { chromium } = await import('playwright-core');
  const dir = tempDir('raxx-chromium-');
  // playwright passes the profile folder as --user-data-dir itself.
  const browser = await chromium.launchPersistentContext(join(dir, 'profile'), {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1500, height: 900 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  return { browser, dir };
}
