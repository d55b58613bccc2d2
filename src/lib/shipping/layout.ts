// Where a source's day goes in its bucket (its own layout, or the drain receiver's), and the
// day an input file belongs to.
import { stat } from 'node:fs/promises';
import { buildShippedDayKey, dayPrefix, DAY_MS, utcDate } from '@raxx/log-format/object-key';
import type { SourceSettings } from '../core/config.js';

export type Layout = SourceSettings['layout'];

/** The object key of one source's day, in the source's layout. */
export function shippedKey(layout: Layout, keyPrefix: string, source: string, date: string): string {
  return layout === 'receiver' ? buildShippedDayKey(keyPrefix, source, date) : `${source}/${date}/${source}.log.gz`;
}

/** The prefix listing one source's day (status), in the source's layout. */
export function dayListPrefix(layout: Layout, keyPrefix: string, source: string, date: string): string {
  return layout === 'receiver' ? dayPrefix(keyPrefix, source, date) : `${source}/${date}/`;
}

/** Where a source's objects live (the lifecycle rule's filter). */
export function sourcePrefix(layout: Layout, keyPrefix: string, source: string): string {
  return layout === 'receiver' ? `${keyPrefix}${source}/` : `${source}/`;
}



/** A `YYYY-MM-DD` (or `YYYYMMDD`) in a file name: the day a rotated log file holds. */
export function dateInName(name: string): string | undefined {
  const base = name.split('/').pop() ?? name;
  const m = /(?<!\d)(\d{4})-?(\d{2})-?(\d{2})(?!\d)/.exec(base);
  if (!m) return undefined;
  const date = `${m[1]}-${m[2]}-${m[3]}`;
  const ms = Date.parse(`${date}T00:00:00Z`);
  return Number.isFinite(ms) && utcDate(ms) === date ? date : undefined;
}

/** A file's day: the date in its name, else the UTC day it was last written. */
export async function fileDate(path: string): Promise<string> {
  const named = dateInName(path);
  if (named) return named;
  const s = await stat(path);
  return utcDate(s.mtimeMs);
}

/** The UTC days (`YYYY-MM-DD`) of the last n days, ending with the day before `now`. */
export function lastDays(now: number, n: number): string[] {
  const yesterday = Math.floor(now / DAY_MS) * DAY_MS - DAY_MS;
  return Array.from({ length: n }, (_, i) => utcDate(yesterday - (n - 1 - i) * DAY_MS));
}
