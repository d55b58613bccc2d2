// `logs tail`: the last lines of the apps' drain objects, then every object as it lands, in
// key order. The receiver files a batch under the time of its first message, which may be up
// to an hour before it arrives (its acceptance rule: a frame time within -1 h / +5 min of
// receipt), so a poll lists the whole horizon of keys that can still appear — each app-day
// prefix from a StartAfter at (now - horizon) — and prints what it has not seen. The seen
// set holds only keys inside that horizon, so memory stays flat however long it runs.
import { byTime, type LineVisitor, type LogObject, type ScanResult } from './store.js';
import { orderedPool } from '../core/ordered-pool.js';
import type { TimeWindow } from '../core/time-window.js';

/** How early a key can be, relative to the batch's arrival (the receiver's −1 h, with room). */
export const TAIL_HORIZON_MS = 65 * 60_000;
/** How late a key can be (the receiver's +5 min, with room). */
const AHEAD_MS = 10 * 60_000;
/**
 * How far past this machine's clock a poll lists: the keys carry the receiver's (S3's) time,
 * and a laptop clock that is behind must not hide every new object; the next day's prefix
 * costs one more listing request per app, made at the same time.
 */
const CLOCK_SLACK_MS = 24 * 3_600_000;
/** How far ahead of the bucket's clock this machine's may be without late batches going unseen. */
const CLOCK_AHEAD_MS = 2 * 3_600_000;
/** Objects read at once for the backlog and for a burst of new objects. */
const READS_AT_ONCE = 32;
/** Idle polls before the interval starts to grow, and how far it grows. */
const IDLE_POLLS = 15;
const IDLE_FACTOR = 4;

export interface TailStore {
  /** `parts`: time ranges listed at once (LogStore.list); a poll lists one per day prefix. */
  list(app: string, window: TimeWindow, signal: AbortSignal, parts?: number): AsyncIterable<LogObject>;
  scan<R>(obj: LogObject, signal: AbortSignal, visitor: () => LineVisitor<R>): Promise<ScanResult<R>>;
}

export interface TailOptions {
  apps: string[];
  /** Lines printed before following (-n); 0 prints only what lands from now on. */
  backlog: number;
  intervalMs: number;
  /** An app with no new object this long is reported silent, once. */
  silentAfterMs: number;
  /** The line as printed, or undefined when it is not selected (the pattern). */
  select(line: string): string | undefined;
  now(): number;
  sleep(ms: number, signal: AbortSignal): Promise<void>;
  signal: AbortSignal;
  /** An object's selected lines, in key order across apps. */
  print(obj: LogObject, lines: string[]): void | Promise<void>;
  silent(app: string, lastSeen: number | undefined): void;
  resumed(app: string): void;
  /** An object that could not be read completely (its readable lines are still printed). */
  problem(obj: LogObject, problem: string): void;
  /** Stops after this many polls (tests); default: until the signal aborts. */
  polls?: number;
}

export interface TailStats {
  polls: number;
  printedObjects: number;
  printedLines: number;
  /** Keys remembered at the end (bounded by the horizon). */
  seen: number;
  intervalMs: number;
}

export async function tail(store: TailStore, opts: TailOptions): Promise<TailStats> {
  const seen = new Map<string, number>();
  const lastObject = new Map<string, number | undefined>();
  const silentSince = new Set<string>();
  const stats: TailStats = { polls: 0, printedObjects: 0, printedLines: 0, seen: 0, intervalMs: opts.intervalMs };
  const started = opts.now();
  for (const app of opts.apps) lastObject.set(app, undefined);

  const listNew = async (window: TimeWindow, parts?: number): Promise<LogObject[]> => {
    const found: LogObject[] = [];
    await Promise.all(
      opts.apps.map(async (app) => {
        for await (const obj of store.list(app, window, opts.signal, parts)) if (!seen.has(obj.key)) found.push(obj);
      }),
    );
    return found.sort(byTime);
  };

  const readAll = (objs: LogObject[]) =>
    orderedPool(
      objs,
      async (obj, signal) => {
        const result = await store.scan<string[]>(obj, signal, () => {
          const lines: string[] = [];
          return {
            line(text) {
              const shown = opts.select(text);
              if (shown !== undefined) lines.push(shown);
            },
            result: () => lines,
          };
        });
        return result;
      },
      { concurrency: READS_AT_ONCE, signal: opts.signal },
    );

  const emit = async (obj: LogObject, result: ScanResult<string[]>) => {
    if (result.problem) opts.problem(obj, result.problem);
    if (result.value.length > 0) {
      await opts.print(obj, result.value);
      stats.printedObjects += 1;
      stats.printedLines += result.value.length;
    }
  };

  // The newest key time seen: the bucket's own clock, which a poll's window follows when this
  // machine's clock is ahead (otherwise the late keys just behind it would never be listed),
  // by up to CLOCK_AHEAD_MS; a quiet app's old newest key does not widen the window further.
  let newest = -Infinity;
  const horizonStart = (now: number) => Math.min(now, Math.max(newest, now - CLOCK_AHEAD_MS)) - TAIL_HORIZON_MS;
  const remember = (objs: LogObject[]) => {
    for (const o of objs) {
      if (o.time >= horizonStart(opts.now()) - AHEAD_MS) seen.set(o.key, o.time);
      if ((lastObject.get(o.app) ?? -Infinity) < o.time) lastObject.set(o.app, o.time);
      if (o.time > newest) newest = o.time;
    }
  };

  // The backlog: today's and yesterday's objects listed, read newest first until enough lines
  // are selected, then printed oldest first.
  {
    const window = { start: started - 24 * 3_600_000, end: started + CLOCK_SLACK_MS };
    const all = await listNew(window);
    remember(all);
    const picked: { obj: LogObject; result: ScanResult<string[]> }[] = [];
    let lines = 0;
    for (let end = all.length; end > 0 && lines < opts.backlog; end -= READS_AT_ONCE) {
      const batch = all.slice(Math.max(0, end - READS_AT_ONCE), end);
      const read: { obj: LogObject; result: ScanResult<string[]> }[] = [];
      for await (const { item, value } of readAll(batch)) read.push({ obj: item, result: value });
      picked.unshift(...read);
      lines += read.reduce((n, r) => n + r.result.value.length, 0);
    }
    // Only the last `backlog` lines.
    let drop = Math.max(0, lines - opts.backlog);
    for (const { obj, result } of picked) {
      if (drop >= result.value.length) {
        drop -= result.value.length;
        if (result.problem) opts.problem(obj, result.problem);
        continue;
      }
      await emit(obj, drop > 0 ? { ...result, value: result.value.slice(drop) } : result);
      drop = 0;
    }
  }

  let interval = opts.intervalMs;
  let idle = 0;
  // Polls start every interval: the time a poll takes is not added to the wait for the next.
  let lastPoll = opts.now();
  while (!opts.signal.aborted && (opts.polls === undefined || stats.polls < opts.polls)) {
    await opts.sleep(Math.max(0, lastPoll + interval - opts.now()), opts.signal);
    if (opts.signal.aborted) break;
    const now = opts.now();
    lastPoll = now;
    stats.polls += 1;
    const fresh = await listNew({ start: horizonStart(now), end: Math.max(now, newest) + CLOCK_SLACK_MS }, 1);
    remember(fresh);
    for await (const { item, value } of readAll(fresh)) await emit(item, value);
    for (const app of opts.apps) {
      const last = lastObject.get(app);
      // No object in the backlog's day at all: silent from the first poll.
      const quietSince = last ?? -Infinity;
      if (fresh.some((o) => o.app === app)) {
        if (silentSince.delete(app)) opts.resumed(app);
      } else if (!silentSince.has(app) && now - quietSince >= opts.silentAfterMs) {
        silentSince.add(app);
        opts.silent(app, last);
      }
    }
    // Keys older than the horizon can no longer be listed: forget them.
    for (const [key, time] of seen) if (time < horizonStart(now) - AHEAD_MS) seen.delete(key);
    // Idle: poll less often (up to IDLE_FACTOR × the interval); anything new resets it.
    idle = fresh.length > 0 ? 0 : idle + 1;
    interval = idle >= IDLE_POLLS ? Math.min(opts.intervalMs * IDLE_FACTOR, interval * 2) : opts.intervalMs;
    stats.intervalMs = interval;
  }
  stats.seen = seen.size;
  return stats;
}
