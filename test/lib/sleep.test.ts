import { describe, expect, it } from 'vitest';
import { backoffMs, sleep } from '../../src/lib/core/sleep.js';
import { ConfigError, InterruptedError } from '../../src/lib/core/errors.js';

describe('sleep', () => {
  it('waits without a signal', async () => {
    const started = performance.now();
    await sleep(20);
    expect(performance.now() - started).toBeGreaterThanOrEqual(15);
  });

  it('rejects at once with InterruptedError on Ctrl-C, before or during the wait', async () => {
    const before = new AbortController();
    before.abort();
    await expect(sleep(10_000, before.signal)).rejects.toBeInstanceOf(InterruptedError);
    const during = new AbortController();
    const started = performance.now();
    const waiting = sleep(10_000, during.signal);
    setImmediate(() => during.abort());
    await expect(waiting).rejects.toBeInstanceOf(InterruptedError);
    expect(performance.now() - started).toBeLessThan(5_000);
  });

  it('rejects with the reason given to abort() when it is an operator-facing error (a lost lease)', async () => {
    const c = new AbortController();
    const lost = new ConfigError('the lease was taken over');
    const waiting = sleep(10_000, c.signal);
    c.abort(lost);
    await expect(waiting).rejects.toBe(lost);
  });
});

describe('backoffMs', () => {
  it.each([
    ['doubles from the base', 0, { baseMs: 100 }, 0.5, 100],
    ['second retry', 2, { baseMs: 100 }, 0.5, 400],
    ['caps', 10, { baseMs: 100, capMs: 5_000 }, 0.5, 5_000],
    ['full jitter scales the doubled value', 1, { baseMs: 100, jitter: 'full' as const }, 0.5, 100],
    ['full jitter under the cap', 10, { baseMs: 100, capMs: 5_000, jitter: 'full' as const }, 0.25, 1_250],
    ['a fraction of the base added', 1, { baseMs: 1_000, jitter: 0.2 }, 0.5, 2_100],
  ])('%s', (_name, n, b, random, expected) => {
    const real = Math.random;
    Math.random = () => random;
    try {
      expect(backoffMs(n, b)).toBe(expected);
    } finally {
      Math.random = real;
    }
  });
});
