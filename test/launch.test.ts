// bin/launch.js, the process around main() (bin/raxx-ops and the tests' source launcher
// share it), on a pseudo-terminal: the first Ctrl-C aborts the run's signal and lets the
// command finish its rollback, however long; a second press quits at once and says what may
// be left; copies of one press within a second (npx forwards it) count once.
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { CTRL_C, killAll, pressCtrlC, ptyAvailable, spawnPty } from './support/pty.js';

const fixture = fileURLToPath(new URL('./support/slow-rollback-main.mjs', import.meta.url));
const run = (rollbackMs: number) => spawnPty([process.execPath, fixture, String(rollbackMs)], { env: { PATH: process.env.PATH } });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

afterEach(() => killAll());

describe.runIf(ptyAvailable)('Ctrl-C in the launcher (pty)', () => {
  it('one press: the rollback runs to its end, with a word after a second that it is still stopping', async () => {
    const t = run(1800);
    await t.waitFor('changing things');
    const pressed = Date.now();
    t.type(CTRL_C);
    const exit = await t.exited;
    expect(exit.code, t.output()).toBe(130);
    expect(exit.at - pressed).toBeGreaterThanOrEqual(1800);
    expect(t.output()).toMatch(/rolling back[\s\S]*stopping \(finishing what it started\); press Ctrl-C again to quit at once[\s\S]*rolled back/);
    expect(t.output()).not.toContain('quit at once, before');
  });

  it('a quick stop prints nothing extra', async () => {
    const t = run(100);
    await t.waitFor('changing things');
    t.type(CTRL_C);
    expect((await t.exited).code).toBe(130);
    expect(t.output()).toContain('rolled back');
    expect(t.output()).not.toContain('raxx-ops:');
  });

  it('two presses within a second are one (npx forwards a copy): the rollback still finishes', async () => {
    const t = run(1500);
    await t.waitFor('changing things');
    t.type(CTRL_C);
    await t.waitFor('rolling back');
    // The gap between the presses is what this case is about (under a second).
    await sleep(200);
    t.type(CTRL_C);
    const exit = await t.exited;
    expect(exit.code).toBe(130);
    expect(t.output()).toContain('rolled back');
  });

  it('a second press after that quits at once and says what may be left', async () => {
    const t = run(10_000);
    await t.waitFor('changing things');
    t.type(CTRL_C);
    await t.waitFor('press Ctrl-C again');
    await pressCtrlC(t);
    expect(t.output()).toMatch(/quit at once, before the command finished stopping: the step it was in, or its rollback, may be\s+left half-done/);
    expect(t.output()).not.toContain('rolled back');
  });
});
