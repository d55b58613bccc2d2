import { describe, expect, it } from 'vitest';
import { daysBetween } from '@raxx/log-format/object-key';
import { UsageError } from '../../src/lib/core/errors.js';
import { parseDate, resolveWindow } from '../../src/lib/core/time-window.js';
import { mergeSorted, orderedPool } from '../../src/lib/core/ordered-pool.js';

const now = new Date('2025-06-02T10:30:00Z');
const at = (s: string) => Date.parse(s);

describe('time window', () => {
  it('defaults to today (UTC)', () => {
    expect(resolveWindow({}, now)).toEqual({ start: at('2025-06-02T00:00:00Z'), end: at('2025-06-03T00:00:00Z') });
  });

  it('--date is the whole UTC day', () => {
    expect(resolveWindow({ date: '2025-06-01' }, now)).toEqual({ start: at('2025-06-01T00:00:00Z'), end: at('2025-06-02T00:00:00Z') });
  });

  it('relative --since runs from then to the end of today', () => {
    expect(resolveWindow({ since: '2h' }, now)).toEqual({ start: at('2025-06-02T08:30:00Z'), end: at('2025-06-03T00:00:00Z') });
    expect(resolveWindow({ since: '30m', until: '10m' }, now)).toEqual({ start: at('2025-06-02T10:00:00Z'), end: at('2025-06-02T10:20:00Z') });
  });

  it('ISO times may span days; a time without an offset is UTC', () => {
    const w = resolveWindow({ since: '2025-05-31T22:00', until: '2025-06-02T01:00:00+01:00' }, now);
    expect(w).toEqual({ start: at('2025-05-31T22:00:00Z'), end: at('2025-06-02T00:00:00Z') });
    expect(daysBetween(w.start, w.end)).toEqual(['2025-05-31', '2025-06-01']);
  });

  it('clock times are on --date, and the window stays inside it', () => {
    expect(resolveWindow({ date: '2025-06-01', since: '14:30', until: '15:00' }, now)).toEqual({ start: at('2025-06-01T14:30:00Z'), end: at('2025-06-01T15:00:00Z') });
    expect(resolveWindow({ date: '2025-06-01', since: '2025-05-31T20:00:00Z' }, now)).toEqual({ start: at('2025-06-01T00:00:00Z'), end: at('2025-06-02T00:00:00Z') });
  });

  it('--until alone starts at the beginning of its day', () => {
    expect(resolveWindow({ until: '2025-06-01T03:00:00Z' }, now)).toEqual({ start: at('2025-06-01T00:00:00Z'), end: at('2025-06-01T03:00:00Z') });
  });

  const bad: [string, Parameters<typeof resolveWindow>[0], RegExp][] = [
    ['a date that does not exist', { date: '2025-02-30' }, /--date: "2025-02-30" is not a date/],
    ['a date in another format', { date: '01/06/2025' }, /is not a date/],
    ['a time that is not one', { since: 'yesterday-ish' }, /--since: "yesterday-ish" is not a time/],
    ['an ISO time on a day that does not exist', { since: '2025-02-30T10:00:00Z' }, /--since: "2025-02-30T10:00:00Z" is not a time/],
    ['--since after --until', { since: '1h', until: '2h' }, /--since 1h .* is not before --until 2h/],
    ['a window outside --date', { date: '2025-06-01', since: '2025-06-05T00:00:00Z' }, /outside --date/],
  ];
  for (const [name, flags, message] of bad) {
    it(`rejects ${name} (exit 2)`, () => {
      let thrown: unknown;
      try {
        resolveWindow(flags, now);
      } catch (err) {
        thrown = err;
      }
      expect(thrown).toBeInstanceOf(UsageError);
      expect((thrown as UsageError).message).toMatch(message);
      expect((thrown as UsageError).hint).toBeTruthy();
    });
  }

  it('parses a leap day and rejects the one that is not', () => {
    expect(parseDate('2024-02-29')).toBe(at('2024-02-29T00:00:00Z'));
    expect(() => parseDate('2025-02-29')).toThrow(UsageError);
  });
});

describe('orderedPool', () => {
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  it('yields in source order although tasks finish out of order, within the concurrency', async () => {
    let running = 0;
    let peak = 0;
    const items = Array.from({ length: 40 }, (_, i) => i);
    const out: number[] = [];
    for await (const { item, value } of orderedPool(items, async (i) => {
      running++;
      peak = Math.max(peak, running);
      await sleep((i * 7) % 13);
      running--;
      return i * 2;
    }, { concurrency: 5 })) {
      expect(value).toBe(item * 2);
      out.push(item);
    }
    expect(out).toEqual(items);
    expect(peak).toBe(5);
  });

  it('stops early: running tasks see their signal aborted and settle before the loop returns', async () => {
    const aborted: number[] = [];
    const settled: number[] = [];
    for await (const { item } of orderedPool(Array.from({ length: 100 }, (_, i) => i), async (i, signal) => {
      await new Promise<void>((resolve) => {
        const onAbort = () => {
          clearTimeout(t);
          aborted.push(i);
          resolve();
        };
        const t = setTimeout(() => {
          signal.removeEventListener('abort', onAbort);
          resolve();
        }, i === 0 ? 1 : 50);
        signal.addEventListener('abort', onAbort);
      });
      settled.push(i);
      return i;
    }, { concurrency: 8 })) {
      if (item === 0) break;
    }
    expect(aborted.length).toBeGreaterThan(0);
    expect(settled.length).toBe(aborted.length + 1);
  });

  it('throws a task failure at its turn, after the earlier results', async () => {
    const seen: number[] = [];
    await expect(async () => {
      for await (const { item } of orderedPool([0, 1, 2, 3], async (i) => {
        if (i === 2) throw new Error('boom');
        await sleep(5);
        return i;
      }, { concurrency: 4 })) seen.push(item);
    }).rejects.toThrow('boom');
    expect(seen).toEqual([0, 1]);
  });

  it('merges sorted sources', async () => {
    // eslint-disable-next-line @typescript-eslint/require-await -- an async generator is the plainest AsyncIterable; it needs no await
    async function* gen(xs: number[]) {
      yield* xs;
    }
    const out: number[] = [];
    for await (const x of mergeSorted([gen([1, 4, 9]), gen([2, 3, 10]), gen([])], (a, b) => a - b)) out.push(x);
    expect(out).toEqual([1, 2, 3, 4, 9, 10]);
  });
});
