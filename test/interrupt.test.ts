// Ctrl-C on a real terminal: the CLI runs from source (bin/launch.js around src/cli.ts) on a
// pseudo-terminal, and the test types the Ctrl-C byte as a keyboard does. While ora's spinner
// runs, or at a [y/N] prompt, the terminal is in raw mode and no SIGINT is raised by the
// terminal: the byte must still stop the command, with exit 130, within a second.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
// The benchmarks' model of S3 latency: a fixed delay before every answer makes a short day of
// objects take seconds to read, so the spinner is up when Ctrl-C is pressed.
import { startLatencyProxy, type LatencyProxy } from '../bench/latency-proxy.mjs';
import { batch, createDrainBucket, put, type Stored } from './commands/logs/fixtures.js';
import { motoAvailable } from './support/moto.js';
import { useHeroku, useMoto } from './support/fixtures.js';
import { killAll, pressCtrlC, ptyAvailable, sourceCli, spawnPty } from './support/pty.js';
import { tempDir } from './support/temp.js';

const APP = 'raxx-api-prod';
// Yesterday (UTC): the CLI runs with the real clock here, and a window must lie within the
// drain bucket's retention.
const DAY = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
const home = tempDir('raxx-ops-pty-home-');

afterEach(() => killAll());

describe.runIf(ptyAvailable && motoAvailable)('Ctrl-C during logs grep with the spinner (pty)', () => {
  const moto = useMoto();
  let proxy: LatencyProxy;

  beforeAll(async () => {
    const { aws } = moto;
    await createDrainBucket(aws);
    const start = Date.parse(`${DAY}T00:00:00Z`);
    const objects: Stored[] = [];
    for (let i = 0; i < 60; i++) objects.push(batch(APP, start + i * 60_000, [`line ${i} status=200`, `line ${i} status=503`]));
    await put(aws, objects);
    // 100 ms per request, one object at a time: about 6 s to read the day.
    proxy = await startLatencyProxy({ target: moto.endpoint, delayMs: 100, cache: false });
  });
  afterAll(async () => {
    await proxy?.close();
  });

  it('the Ctrl-C byte stops it within a second, exit 130', async () => {
    const t = spawnPty(sourceCli(['logs', 'grep', 'status=503', '--app', APP, '--date', DAY, '--concurrency', '1']), {
      env: { PATH: process.env.PATH, HOME: home, ...moto.env, AWS_ENDPOINT_URL: proxy.url },
    });
    // The spinner shows progress once some objects are read.
    await t.waitFor(/grep: [1-9]\d*\/\d+\+? objects/, 20_000);
    await pressCtrlC(t);
    expect(t.output()).toContain('interrupted');
    expect(t.output()).not.toMatch(/unexpected error/);
    // It stopped early: the last of the 60 objects was never printed.
    expect(t.output()).toContain('line 0 status=503');
    expect(t.output()).not.toContain('line 59 status=503');
  });
});

describe.runIf(ptyAvailable)('the [y/N] prompt of drains remove (pty)', () => {
  const heroku = useHeroku({ apps: [APP] });
  const FOREIGN = 'https://logs.example.com/ingest';

  /** `drains remove --all --include-foreign` needs no AWS: only the Heroku stand-in. */
  function removeAll() {
    heroku.addDrain(APP, FOREIGN);
    const t = spawnPty(sourceCli(['drains', 'remove', '--all', '--include-foreign', '--app', APP]), {
      env: { PATH: process.env.PATH, HOME: home, HEROKU_API_KEY: heroku.token, HEROKU_API_URL: heroku.url, NO_COLOR: '1' },
    });
    return t;
  }
  const PROMPT = 'remove every drain (foreign too): 1 drain on 1 app? [y/N] ';

  it('Ctrl-C at the prompt exits 130 at once, nothing removed, no "unexpected error"', async () => {
    const t = removeAll();
    await t.waitFor(PROMPT);
    await pressCtrlC(t);
    expect(t.output()).toContain('interrupted');
    expect(t.output()).not.toMatch(/unexpected error|Aborted with Ctrl/);
    expect(heroku.drains(APP).map((d) => d.url)).toEqual([FOREIGN]);
  });

  it('n declines: exit 5, nothing removed', async () => {
    const t = removeAll();
    await t.waitFor(PROMPT);
    t.type('n\r');
    const exit = await t.exited;
    expect(exit.code, t.output()).toBe(5);
    expect(t.output()).toContain('not confirmed; nothing was changed');
    expect(heroku.drains(APP).map((d) => d.url)).toEqual([FOREIGN]);
  });

  it('end of input (Ctrl-D) stops as Ctrl-C does: exit 130, nothing removed', async () => {
    const t = removeAll();
    await t.waitFor(PROMPT);
    t.type('\u0004');
    expect((await t.exited).code, t.output()).toBe(130);
    expect(heroku.drains(APP).map((d) => d.url)).toEqual([FOREIGN]);
  });

  it('y removes the drain, exit 0', async () => {
    const t = removeAll();
    await t.waitFor(PROMPT);
    expect(t.output()).toMatch(/to remove:\s+raxx-api-prod\s+\S+\s+https:\/\/logs\.example\.com\/ingest \(foreign/);
    t.type('y\r');
    const exit = await t.exited;
    expect(exit.code, t.output()).toBe(0);
    expect(t.output()).toMatch(/removed:\s+raxx-api-prod/);
    expect(heroku.drains(APP)).toEqual([]);
  });
});
