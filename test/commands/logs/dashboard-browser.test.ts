// The status page in a real browser (headless chromium): the grid's cells, coloured and
// labelled, the missing days, no console errors, nothing requested from elsewhere; a
// screenshot is kept in the test's temp folder.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { motoAvailable } from '../../support/moto.js';
import { chromiumAvailable, launchChromium } from '../../support/browser.js';
import { startDashboard, type DashboardServer } from '../../support/dashboard-server.js';
import { DAYS, FAILED_API_DAY, MISSING_APP_DAY, MISSING_AUTH_DAY, NOW, startShippingStack, type ShippingStack } from '../../support/shipping-stack.js';

/** What the page functions read of an element (the DOM's types are not in this project's lib). */
interface Cell {
  getAttribute(name: string): string | null;
  textContent: string | null;
}

describe.skipIf(!motoAvailable || !chromiumAvailable)('the status page in chromium', () => {
  let stack: ShippingStack;
  let dash: DashboardServer;
  let launched: Awaited<ReturnType<typeof launchChromium>>;
  beforeAll(async () => {
    stack = await startShippingStack();
    dash = await startDashboard(stack.env, () => NOW);
    launched = await launchChromium();
  }, 120_000);
  afterAll(async () => {
    await launched?.browser.close();
    await dash?.stop();
    await stack?.stop();
  });

  it('shows every log × 7 days, the missing days in words and colour, with no console error', async () => {
    const page = await launched.browser.newPage();
    const problems: string[] = [];
    const elsewhere: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') problems.push(`${m.type()}: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
    page.on('request', (r) => {
      if (!r.url().startsWith(dash.url)) elsewhere.push(r.url());
    });
    const res = await page.goto(`${dash.url}/`, { waitUntil: 'load' });
    expect(res?.status()).toBe(200);
    expect(await page.title()).toBe('Log shipping — critical');
    expect(await page.locator('#health').getAttribute('data-status')).toBe('critical');

    const names = await page.locator('#grid tbody tr').evaluateAll((rows: Cell[]) => rows.map((r) => r.getAttribute('data-name')));
    expect(names).toEqual(['auth', 'api', 'raxx-api-prod', 'raxx-console-prod']);
    const headers = await page.locator('#grid thead th').allInnerTexts();
    expect(headers.slice(2, 9)).toEqual(DAYS.map((d) => d.slice(5)));

    const cell = (name: string, day: string) => page.locator(`tr[data-name="${name}"] td[data-day="${day}"]`);
    const look = async (name: string, day: string) => {
      const c = cell(name, day);
      return { text: (await c.innerText()).replace(/\s+/g, ' ').trim(), bg: await c.evaluate((el) => (globalThis as unknown as { getComputedStyle(e: unknown): { backgroundColor: string } }).getComputedStyle(el).backgroundColor) };
    };
    const red = 'rgb(253, 226, 225)';
    const amber = 'rgb(255, 244, 214)';
    const green = 'rgb(223, 245, 225)';
    expect(await look('auth', MISSING_AUTH_DAY)).toEqual({ text: '✗ MISSING', bg: red });
    // eslint-disable-next-line @typescript-eslint/no-unsafe-assignment -- vitest types its asymmetric matchers as any
    expect(await look('auth', '2026-10-01')).toMatchObject({ text: expect.stringMatching(/^✓ present 40 entries · \d+ B$/), bg: green });
    expect(await look('api', FAILED_API_DAY)).toEqual({ text: '✗ missing', bg: amber });
    expect(await look('raxx-console-prod', MISSING_APP_DAY)).toEqual({ text: '✗ missing', bg: amber });
    // eslint-disable-next-line @typescript-eslint/no-unsafe-assignment -- vitest types its asymmetric matchers as any
    expect(await look('raxx-api-prod', MISSING_APP_DAY)).toMatchObject({ text: expect.stringMatching(/^✓ present 1 obj/), bg: green });
    // Every cell carries its state in words, not only in colour.
    const states = await page.locator('td.cell').evaluateAll((cells: Cell[]) => cells.map((c) => [c.getAttribute('data-state'), c.textContent ?? ''] as const));
    expect(states).toHaveLength(4 * 7);
    for (const [state, text] of states) expect(text.toLowerCase()).toContain(state === 'missing' ? 'missing' : 'present');

    const apiRow = (await page.locator('tr[data-name="api"]').innerText()).replace(/\s+/g, ' ');
    expect(apiRow).toContain(`${FAILED_API_DAY}, 2026-10-07`);
    expect(apiRow).toMatch(/failed 2026-10-06 at .* UTC/);
    expect(await page.locator('meta[http-equiv="refresh"]').getAttribute('content')).toBe('60');

    const shot = join(launched.dir, 'status-page.png');
    await page.screenshot({ path: shot, fullPage: true });
    expect(existsSync(shot) && statSync(shot).size > 10_000).toBe(true);
    if (process.env.RAXX_KEEP_SCREENSHOT) {
      const { copyFileSync } = await import('node:fs');
      copyFileSync(shot, process.env.RAXX_KEEP_SCREENSHOT);
    }

    await page.goto(`${dash.url}/?days=30`, { waitUntil: 'load' });
    expect(await page.locator('tr[data-name="auth"] td.cell').count()).toBe(30);
    expect(problems).toEqual([]);
    expect(elsewhere).toEqual([]);
    await page.close();
  });
});
