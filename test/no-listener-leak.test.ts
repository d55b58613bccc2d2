// Many units of work at once (objects, time ranges, days, apps) on one run: no listener may
// be left behind per unit, and nothing may lift Node's listener cap to hide one. Node's
// MaxListenersExceededWarning (more than 10 on one signal or stream) is the witness.
import { EventEmitter } from 'node:events';
import { Writable } from 'node:stream';
import { beforeAll, describe, expect, it } from 'vitest';
import { Output } from '../src/lib/core/output.js';
import { motoAvailable } from './support/moto.js';
import { useMoto } from './support/fixtures.js';
import { runCli } from './support/run-cli.js';
import { batch, createDrainBucket, put, type Stored } from './commands/logs/fixtures.js';

/** The process warnings raised while `fn` runs. */
async function warningsDuring(fn: () => Promise<void>): Promise<Error[]> {
  const seen: Error[] = [];
  const on = (w: Error) => seen.push(w);
  process.on('warning', on);
  try {
    await fn();
    // Warnings are emitted on the next tick.
    await new Promise((r) => setImmediate(r));
  } finally {
    process.off('warning', on);
  }
  return seen;
}

describe('Output.drained', () => {
  it('leaves no listener on stdout or the signal, however many units wait for it', async () => {
    let release: (() => void) | undefined;
    const slow = new Writable({
      highWaterMark: 8,
      write(_chunk: Buffer, _enc, cb) {
        release = cb;
      },
    });
    const out = new Output({ stdout: slow, stderr: { write: () => true }, json: false, color: false, debug: false });
    const ac = new AbortController();
    const counts = () => ['drain', 'close', 'error'].map((e) => slow.listenerCount(e));
    const before = counts();
    const warnings = await warningsDuring(async () => {
      for (let i = 0; i < 500; i++) {
        out.raw(`unit ${i} writes more than the buffer holds\n`);
        const waiting = out.drained(ac.signal);
        setImmediate(() => release?.());
        await waiting;
      }
    });
    expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning')).toEqual([]);
    expect(counts()).toEqual(before);
    expect(EventEmitter.getEventListeners(ac.signal, 'abort')).toHaveLength(0);
  });
});

describe.skipIf(!motoAvailable)('many units on one run (moto)', () => {
  const DAY = Date.parse('2025-06-01T00:00:00Z');
  const now = () => new Date(DAY + 86_400_000 + 3_600_000);
  const APPS = ['raxx-api-prod', 'raxx-console-prod', 'raxx-velvet-prod'];
  const moto = useMoto();
  const { aws } = moto;

  beforeAll(async () => {
    await createDrainBucket(aws);
    // An object every 15 minutes all day: the day is listed in 16 time ranges at once.
    const all: Stored[] = [];
    for (const app of APPS) for (let t = DAY; t < DAY + 86_400_000; t += 900_000) all.push(batch(app, t, [`tick ${t}`]));
    await put(aws, all, 32);
  });


  it('grep over three app-days at concurrency 64 and status over every day: no listener warning', async () => {
    const warnings = await warningsDuring(async () => {
      const grep = await runCli(['logs', 'grep', 'tick', ...APPS.flatMap((a) => ['--app', a]), '--date', '2025-06-01', '--concurrency', '64'], { env: moto.env, now });
      expect(grep.code, grep.stderr).toBe(0);
      expect(grep.stdout.trim().split('\n')).toHaveLength(3 * 96);
      const status = await runCli(['logs', 'status', ...APPS.flatMap((a) => ['--app', a]), '--days', '2', '--json'], { env: moto.env, now });
      expect([0, 1]).toContain(status.code);
      expect(status.stderr).not.toMatch(/MaxListeners/);
    });
    expect(warnings.map((w) => `${w.name}: ${w.message}`).filter((w) => /MaxListeners/.test(w))).toEqual([]);
  }, 180_000);
});
