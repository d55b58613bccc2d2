// The records of a window, as gzip JSON-lines files an embedded engine reads: a compacted
// day is one download; the raw objects its manifest does not cover (late arrivals, or a day
// not compacted yet) are read through the grep path and turned into the same records.
//
// Raw objects are chosen by their key time, not by whole days: a key's time is its batch's
// first line, and the receiver files a batch by that time only while it lies within an hour
// before and five minutes after the batch's arrival, so a line of the window sits in an object
// whose key time is at most KEY_LEAD_MS before the window (docs/query.md, "Which objects are
// read"). Of those earlier objects, only the ones S3 wrote late enough to hold a line of the
// window are read (LastModified): a batch arrives after its lines were written, give or take
// the five minutes of clock the receiver allows.
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { once } from 'node:events';
import { createGzip } from 'node:zlib';
import { compactedKeys, coverage, recordsMatch, toRecord } from '@raxx/log-format/compacted';
import { openCompactedDays } from '../compacted-days.js';
import { concurrentReader } from '../compaction.js';
import { orderedPool } from '../../core/ordered-pool.js';
import type { Context } from '../../run/context.js';
import type { LogObject, LogStore } from '../store.js';
import { DAY_MS, startOfDay, type TimeWindow } from '../../core/time-window.js';
import { FRAME_TIME_FUTURE_MS, FRAME_TIME_PAST_MS } from '@raxx/log-format/object-key';
import { writeFile } from 'node:fs/promises';
import { saveChecked } from './checked-file.js';

export interface GatherStats {
  files: string[];
  compactedDays: number;
  rawObjects: number;
  /** Compacted days taken whole from their manifests, with no listing. */
  closedDays: number;
}

/** How long before the window an object's key time may be and its batch still hold a line of the window. */
export const KEY_LEAD_MS = FRAME_TIME_PAST_MS + FRAME_TIME_FUTURE_MS;

/** Whether an object listed in the key window may hold a line of the time window. */
export function mayHoldLines(obj: { time: number; modified?: number | undefined }, window: TimeWindow): boolean {
  if (obj.time >= window.start) return obj.time < window.end;
  return obj.time >= window.start - KEY_LEAD_MS && (obj.modified === undefined || obj.modified >= window.start - FRAME_TIME_FUTURE_MS);
}

/**
 * App-days gathered at once: each is a few round trips (manifest, listing, a file streamed to
 * disk). A compacted month is 30 days of those: 8 at a time made four rounds of them, and
 * the month's query took 5.2 s (`npm run bench:months`; 1.9 s at 16, streamed).
 */
const DAYS_AT_ONCE = 16;

export async function gatherWindow(
  ctx: Context,
  store: LogStore,
  opts: { apps: string[]; window: TimeWindow; dir: string; concurrency: number; onProgress?: (text: string) => void; compacted?: boolean },
): Promise<GatherStats> {
  const root = ctx.config.query.compactedPrefix;
  const keyPrefix = ctx.config.drain.keyPrefix;
  const read = concurrentReader(store, keyPrefix, ctx.signal, opts.concurrency);
  const stats: GatherStats = { files: [], compactedDays: 0, rawObjects: 0, closedDays: 0 };
  const days = opts.compacted === false ? undefined : openCompactedDays(ctx, store);
  // The compacted files through the store's GETs (the lean path): a file not there is undefined.
  const getObject = (key: string) => store.fetchBytes(key, ctx.signal);
  const { window } = opts;
  const keyStart = window.start - KEY_LEAD_MS;
  const pairs: { app: string; day: number }[] = [];
  for (const app of opts.apps) for (let d = startOfDay(keyStart); d < window.end; d += DAY_MS) pairs.push({ app, day: d });
  let done = 0;
  let files = 0;
  // Whether each whole day is closed is asked for every day at once (a manifest GET and a
  // listing of its marks each), not as the pool reaches it.
  const closedAhead = new Map<string, Promise<LogObject[] | undefined>>();
  if (days) {
    for (const { app, day } of pairs) if (window.start <= day && window.end >= day + DAY_MS) closedAhead.set(`${app}/${day}`, days.closedDay(app, day));
  }

  // Days are independent: several at once, each a few round trips; the files' order does not matter to SQL.
  const gather = async ({ app, day }: { app: string; day: number }): Promise<{ files: string[]; compacted: boolean; raw: number }> => {
    // The day's compacted files hold the whole day: they serve a day the window covers whole.
    // A day the window covers in part (its first and last) is read from the objects of its
    // part only, and a day the lead alone reaches only from the objects that may hold lines.
    const wholeDay = window.start <= day && window.end >= day + DAY_MS;
    const listing = async () => {
      const objects: LogObject[] = [];
      for await (const o of store.list(app, { start: Math.max(day, keyStart), end: Math.min(day + DAY_MS, window.end) }, ctx.signal)) if (mayHoldLines(o, window)) objects.push(o);
      return objects;
    };
    // A closed day whose manifest holds it whole is not listed (closed-days); --no-compacted reads every day raw.
    const closedObjects = await closedAhead.get(`${app}/${day}`);
    const [manifest, listed] = await Promise.all([wholeDay && days ? days.manifest(app, day) : undefined, closedObjects ?? listing()]);
    if (closedObjects) stats.closedDays += 1;
    const keys = listed.map((o) => o.key);
    const out: string[] = [];
    let raw = keys;
    let compacted = false;
    // The day's files hold whole-day text: usable only while every compacted object is listed with its compacted ETag.
    const cover = manifest && coverage(manifest, listed);
    if (manifest && cover && !cover.wholeDay) ctx.out.warn(`${app} ${new Date(day).toISOString().slice(0, 10)}: objects changed since the day was compacted; read raw (\`raxx-ops logs compact --app ${app} --date ${new Date(day).toISOString().slice(0, 10)}\` compacts it again)`);
    if (manifest?.parquet && cover?.wholeDay) {
      // Parquet from the same run as the manifest (its checksum is in it): the columns alone are read.
      // Streamed to disk while it is hashed: a month of Parquet is never in memory at once.
      const file = join(opts.dir, `${files++}-${app}-${day}-compacted.parquet`);
      const body = await store.fetch(compactedKeys(app, day, root).parquet, ctx.signal).catch(() => undefined);
      if ((await saveChecked(body, file, manifest.parquet.sha256, ctx.signal)) === 'ok') {
        out.push(file);
        compacted = true;
        raw = keys.filter((k) => !cover.covered.has(k));
      }
    }
    if (manifest && cover?.wholeDay && !compacted) {
      const body = await getObject(compactedKeys(app, day, root).records).catch(() => undefined);
      // Records of another run than the manifest: the raw objects are the truth.
      if (body && recordsMatch(manifest, body)) {
        const file = join(opts.dir, `${files++}-${app}-${day}-compacted.jsonl.gz`);
        await writeFile(file, body);
        out.push(file);
        compacted = true;
        raw = keys.filter((k) => !cover.covered.has(k));
      }
    }
    // What reading a compacted object's raw object found wrong is said on every read of the day.
    if (compacted) for (const k of cover!.covered) if (manifest!.problems[k]) ctx.out.warn(`${k}: ${manifest!.problems[k]}`);
    if (raw.length > 0) {
      const file = join(opts.dir, `${files++}-${app}-${day}-raw.jsonl.gz`);
      const gz = createGzip();
      const sink = createWriteStream(file);
      gz.pipe(sink);
      for await (const obj of read(raw)) {
        if (obj.problem) ctx.out.warn(`${obj.key}: ${obj.problem}`);
        let block = '';
        for (const line of obj.lines) block += `${JSON.stringify(toRecord(line, app, obj.key))}\n`;
        if (!gz.write(block)) await once(gz, 'drain');
      }
      gz.end();
      await once(sink, 'close');
      out.push(file);
    }
    return { files: out, compacted, raw: raw.length };
  };
  for await (const { value } of orderedPool(pairs, gather, { concurrency: DAYS_AT_ONCE, signal: ctx.signal })) {
    stats.files.push(...value.files);
    if (value.compacted) stats.compactedDays += 1;
    stats.rawObjects += value.raw;
    opts.onProgress?.(`query: read ${++done}/${pairs.length} app-day(s)`);
  }
  ctx.checkInterrupted();
  return stats;
}
