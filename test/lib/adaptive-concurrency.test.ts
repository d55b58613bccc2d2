// The automatic concurrency: slow start while throughput grows, hold when it stops growing,
// halve on throttling (once per generation), then grow back slowly. A fake clock stands in
// for S3: each generation's duration says how fast it went.
import { describe, expect, it } from 'vitest';
import { AdaptiveConcurrency, REQUESTS_PER_NEW_SOCKET } from '../../src/lib/core/adaptive-concurrency.js';

function controller(max = 256, remaining?: () => number) {
  let t = 0;
  const c = new AdaptiveConcurrency({ initial: 64, max, now: () => t, ...(remaining ? { remaining } : {}) });
  /** One generation (as many completions as the limit) taking `ms`. */
  const generation = (ms: number) => {
    const n = c.value;
    for (let i = 0; i < n; i++) {
      t += ms / n;
      c.completed();
    }
  };
  return { c, generation };
}

describe('AdaptiveConcurrency', () => {
  it('doubles while each generation is faster per object, up to its maximum', () => {
    const { c, generation } = controller();
    expect(c.value).toBe(64);
    generation(120); // 64 in 120 ms (new connections)
    expect(c.value).toBe(128);
    generation(80); // 128 in 80 ms: 3× the rate
    expect(c.value).toBe(256);
    generation(40);
    expect(c.value).toBe(256);
    expect(c.peak).toBe(256);
  });

  it('holds where throughput stopped growing (a CPU- or network-bound client)', () => {
    const { c, generation } = controller();
    generation(40); // 64 per 40 ms
    expect(c.value).toBe(128);
    generation(80); // 128 per 80 ms: the same rate
    expect(c.value).toBe(128);
    generation(20);
    expect(c.value).toBe(128);
  });

  it('halves on throttling, once for a burst, then grows back by an eighth per clean generation', () => {
    const { c, generation } = controller();
    generation(40);
    expect(c.value).toBe(128);
    for (let i = 0; i < 20; i++) c.throttled();
    expect(c.value).toBe(64);
    expect(c.throttles).toBe(20);
    generation(40); // the generation of the cut: no growth
    expect(c.value).toBe(64);
    generation(40);
    expect(c.value).toBe(72);
    generation(40);
    expect(c.value).toBe(81);
    c.throttled();
    expect(c.value).toBe(40);
  });

  it('doubles only while the work left keeps every socket of the doubled limit busy for four requests', () => {
    let left = 1_000;
    const { c, generation } = controller(1024, () => left);
    generation(120); // 64 → 128 needs 512 left: 1,000 are
    expect(c.value).toBe(128);
    generation(60); // 128 → 256 would need 1,024 left
    expect(c.value).toBe(128);
    left = 100_000; // held for good: the work left only shrinks, and throughput is measured at this limit now
    generation(30);
    expect(c.value).toBe(128);
    // Unknown (a listing still going on): Infinity, as without the option.
    const open = controller(1024, () => Infinity);
    open.generation(120);
    open.generation(60);
    expect(open.c.value).toBe(256);
    expect(REQUESTS_PER_NEW_SOCKET).toBe(4);
  });

  it('never goes below one nor above its maximum', () => {
    const { c, generation } = controller(100);
    generation(100);
    expect(c.value).toBe(100);
    for (let i = 0; i < 12; i++) {
      c.throttled();
      generation(10);
    }
    expect(c.value).toBe(1);
  });
});
