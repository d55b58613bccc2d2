import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  APP_NAME_PATTERN,
  MAX_EPOCH_MS,
  appPrefix,
  buildObjectKey,
  dayPrefix,
  dayPrefixesBetween,
  daysBetween,
  keyRanges,
  normalizePrefix,
  parseObjectKey,
  utcDate,
} from '../src/object-key.js';

const FRAME_ID = '09C557EAFCFB6CF2740EE62F62971098';
const at = Date.UTC(2025, 5, 2, 14, 3, 7, 512);

const app = fc.stringMatching(APP_NAME_PATTERN);
const id = fc.oneof(fc.uuid(), fc.stringMatching(/^[0-9A-F]{32}$/), fc.stringMatching(/^[0-9a-f]{32}$/));
const epochMs = fc.integer({ min: 0, max: MAX_EPOCH_MS });

describe('buildObjectKey', () => {
  it('lays a batch out as <prefix><app>/YYYY/MM/DD/<epoch_ms>-<id>.gz', () => {
    expect(buildObjectKey({ app: 'raxx-api-prod', epochMs: at, id: FRAME_ID })).toBe(`logs/raxx-api-prod/2025/06/02/1748872987512-${FRAME_ID}.gz`);
    expect(buildObjectKey({ prefix: 'drain', app: 'raxx-api-prod', epochMs: at, id: FRAME_ID })).toBe(`drain/raxx-api-prod/2025/06/02/${at}-${FRAME_ID}.gz`);
    expect(buildObjectKey({ prefix: '', app: 'unknown', epochMs: at, id: FRAME_ID })).toBe(`unknown/2025/06/02/${at}-${FRAME_ID}.gz`);
  });

  it('pads epoch_ms to 13 digits and files by the UTC day', () => {
    expect(buildObjectKey({ app: 'raxx-api-prod', epochMs: 5, id: 'a' })).toBe('logs/raxx-api-prod/1970/01/01/0000000000005-a.gz');
    expect(buildObjectKey({ app: 'raxx-api-prod', epochMs: Date.UTC(2025, 0, 1) - 1, id: 'a' })).toContain('/2024/12/31/');
  });

  it('refuses what would not parse back', () => {
    expect(() => buildObjectKey({ app: 'Raxx', epochMs: at, id: 'a' })).toThrow(RangeError);
    expect(() => buildObjectKey({ app: 'raxx-api-prod', epochMs: -1, id: 'a' })).toThrow(RangeError);
    expect(() => buildObjectKey({ app: 'raxx-api-prod', epochMs: MAX_EPOCH_MS + 1, id: 'a' })).toThrow(RangeError);
    expect(() => buildObjectKey({ app: 'raxx-api-prod', epochMs: 1.5, id: 'a' })).toThrow(RangeError);
    expect(() => buildObjectKey({ app: 'raxx-api-prod', epochMs: at, id: '../x' })).toThrow(RangeError);
    expect(() => buildObjectKey({ app: 'raxx-api-prod', epochMs: at, id: '' })).toThrow(RangeError);
  });
});

describe('parseObjectKey', () => {
  it('round-trips any app, time and id', () => {
    fc.assert(
      fc.property(app, epochMs, id, fc.constantFrom(undefined, 'logs/', 'archive/heroku/', ''), (a, t, i, prefix) => {
        const key = buildObjectKey({ prefix, app: a, epochMs: t, id: i });
        expect(parseObjectKey(key, prefix)).toEqual({ app: a, epochMs: t, id: i, date: utcDate(t), flags: [] });
      }),
      { numRuns: 500 },
    );
  });

  it('sorts keys of one app-day by time when sorted as strings', () => {
    const day = Date.UTC(2025, 5, 2);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 86_399_999 }), fc.integer({ min: 0, max: 86_399_999 }), id, id, (a, b, ia, ib) => {
        fc.pre(a !== b);
        const ka = buildObjectKey({ app: 'raxx-api-prod', epochMs: day + a, id: ia });
        const kb = buildObjectKey({ app: 'raxx-api-prod', epochMs: day + b, id: ib });
        expect(ka < kb).toBe(a < b);
      }),
    );
  });

  it('rejects keys that are not of this layout', () => {
    const good = `logs/raxx-api-prod/2025/06/02/${at}-${FRAME_ID}.gz`;
    expect(parseObjectKey(good)).toBeDefined();
    for (const key of [
      `other/raxx-api-prod/2025/06/02/${at}-${FRAME_ID}.gz`,
      `logs/raxx-api-prod/2025/06/03/${at}-${FRAME_ID}.gz`,
      `logs/raxx-api-prod/2025/06/02/${at}-${FRAME_ID}.log`,
      `logs/raxx-api-prod/2025/06/02/${at}.gz`,
      `logs/raxx-api-prod/2025/06/02/${String(at).slice(1)}-${FRAME_ID}.gz`,
      `logs/Raxx/2025/06/02/${at}-${FRAME_ID}.gz`,
      `logs/raxx-api-prod/2025/06/02/x/${at}-${FRAME_ID}.gz`,
      `logs/raxx-api-prod/2025/06/02/${at}-bad.id.gz`,
      'logs/raxx-api-prod/',
      '',
    ]) {
      expect(parseObjectKey(key), key).toBeUndefined();
    }
    expect(parseObjectKey(good, 'archive/')).toBeUndefined();
  });
});

describe('prefixes', () => {
  it('normalises the configured prefix', () => {
    expect(normalizePrefix()).toBe('logs/');
    expect(normalizePrefix('logs')).toBe('logs/');
    expect(normalizePrefix('/logs/')).toBe('logs/');
    expect(normalizePrefix('')).toBe('');
  });

  it('gives the app and day prefixes that listings use', () => {
    expect(appPrefix('logs/', 'raxx-api-prod')).toBe('logs/raxx-api-prod/');
    expect(appPrefix(undefined, 'raxx-api-prod')).toBe('logs/raxx-api-prod/');
    expect(dayPrefix('logs/', 'raxx-api-prod', '2025-06-02')).toBe('logs/raxx-api-prod/2025/06/02/');
    expect(dayPrefix(undefined, 'raxx-api-prod', new Date(at))).toBe('logs/raxx-api-prod/2025/06/02/');
    expect(dayPrefix('archive', 'raxx-api-prod', at)).toBe('archive/raxx-api-prod/2025/06/02/');
    expect(() => dayPrefix('logs/', 'raxx-api-prod', '2025-02-30')).toThrow(RangeError);
  });

  it('every key of a day starts with that day prefix', () => {
    fc.assert(
      fc.property(app, epochMs, id, (a, t, i) => {
        expect(buildObjectKey({ app: a, epochMs: t, id: i }).startsWith(dayPrefix('logs/', a, utcDate(t)))).toBe(true);
      }),
    );
  });

  it('lists the days a window [since, until) touches', () => {
    expect(daysBetween('2025-06-02', '2025-06-03')).toEqual(['2025-06-02']);
    expect(daysBetween('2025-06-02T23:30:00Z', '2025-06-03T00:30:00Z')).toEqual(['2025-06-02', '2025-06-03']);
    expect(daysBetween(Date.UTC(2025, 5, 2, 12), Date.UTC(2025, 5, 2, 13))).toEqual(['2025-06-02']);
    expect(daysBetween('2025-06-30T12:00:00Z', new Date('2025-07-02T00:00:00.001Z'))).toEqual(['2025-06-30', '2025-07-01', '2025-07-02']);
    expect(daysBetween('2025-06-02', '2025-06-02')).toEqual([]);
    expect(daysBetween('2025-06-03', '2025-06-02')).toEqual([]);
    expect(dayPrefixesBetween('logs/', 'raxx-api-prod', '2024-12-31T23:00:00Z', '2025-01-01T01:00:00Z')).toEqual([
      'logs/raxx-api-prod/2024/12/31/',
      'logs/raxx-api-prod/2025/01/01/',
    ]);
  });

  it('covers exactly the objects of the window', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 4e12 }), fc.integer({ min: 0, max: 5 * 86_400_000 }), fc.integer({ min: 0, max: 4e12 + 5 * 86_400_000 }), (since, len, t) => {
        const prefixes = dayPrefixesBetween('logs/', 'a-app', since, since + len);
        const key = buildObjectKey({ app: 'a-app', epochMs: t, id: 'x' });
        if (t >= since && t < since + len) expect(prefixes.some((p) => key.startsWith(p))).toBe(true);
      }),
    );
  });
});

describe('keyRanges', () => {
  const D = Date.UTC(2025, 5, 2);
  const inRange = (key: string, r: { dayPrefix: string; startAfter?: string; before?: string }) =>
    key.startsWith(r.dayPrefix) && (r.startAfter === undefined || key > r.startAfter) && (r.before === undefined || key < r.before);

  it('cuts a whole day into equal time ranges of its prefix, the edges open', () => {
    const ranges = keyRanges('logs/', 'raxx-api-prod', D, D + 86_400_000, 4);
    expect(ranges).toEqual([
      { dayPrefix: 'logs/raxx-api-prod/2025/06/02/', before: `logs/raxx-api-prod/2025/06/02/${D + 21_600_000}` },
      { dayPrefix: 'logs/raxx-api-prod/2025/06/02/', startAfter: `logs/raxx-api-prod/2025/06/02/${D + 21_600_000}`, before: `logs/raxx-api-prod/2025/06/02/${D + 43_200_000}` },
      { dayPrefix: 'logs/raxx-api-prod/2025/06/02/', startAfter: `logs/raxx-api-prod/2025/06/02/${D + 43_200_000}`, before: `logs/raxx-api-prod/2025/06/02/${D + 64_800_000}` },
      { dayPrefix: 'logs/raxx-api-prod/2025/06/02/', startAfter: `logs/raxx-api-prod/2025/06/02/${D + 64_800_000}` },
    ]);
  });

  it('never crosses a day: a window over midnight is cut there', () => {
    const ranges = keyRanges('logs/', 'raxx-api-prod', D - 3_600_000, D + 3_600_000, 1);
    expect(ranges.map((r) => r.dayPrefix)).toEqual(['logs/raxx-api-prod/2025/06/01/', 'logs/raxx-api-prod/2025/06/02/']);
    expect(ranges[0]!.before).toBeUndefined();
    expect(ranges[1]!.startAfter).toBeUndefined();
  });

  it('puts every key of the window in exactly one range, and none from outside it', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 4e12 }), fc.integer({ min: 1, max: 3 * 86_400_000 }), fc.integer({ min: 1, max: 20 }), fc.integer({ min: -86_400_000, max: 4 * 86_400_000 }), id, (since, len, parts, dt, i) => {
        const t = since + dt;
        if (t < 0) return;
        const key = buildObjectKey({ app: 'a-app', epochMs: t, id: i });
        const hits = keyRanges('logs/', 'a-app', since, since + len, parts).filter((r) => inRange(key, r)).length;
        // A key of the window's edge days but outside the window may fall in an edge range
        // (the reader filters by time); a key inside the window is in exactly one.
        if (t >= since && t < since + len) expect(hits).toBe(1);
        else expect(hits).toBeLessThanOrEqual(1);
      }),
    );
  });
});
