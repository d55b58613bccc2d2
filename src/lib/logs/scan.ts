// The scan every reading `logs` command shares: a window's objects listed by key time (closed,
// compacted days taken from their manifests without listing), read concurrently with adaptive
// concurrency and a memory budget, compacted days served from lines.gz or the embedded engine,
// and each object's result handed back in key order. grep, fetch and compact's reader use it.
import type { Context } from '../run/context.js';
import { CheckFailedError, UsageError } from '../core/errors.js';
import { byTime, LogStore, visitBytes, type LineVisitor, type LogObject, type ScanResult } from './store.js';
import { mergeSorted, orderedPool } from '../core/ordered-pool.js';
import { AdaptiveConcurrency, fixedConcurrency } from '../core/adaptive-concurrency.js';
import { S3_MAX_GETS } from '../aws/clients.js';
import type { CompactedDays, CompactedText } from './compacted-days.js';
import { acceptanceHorizon, utcDate } from '@raxx/log-format/object-key';
import type { Selection } from './query/engine-select.js';
import { DAY_MS, describeWindow, startOfDay, type TimeWindow } from '../core/time-window.js';
import { formatBytes } from '../core/sizes.js';

/** The most downloads at once (the S3 client's sockets: ctx.aws gives S3 this many, plus the listings'). */
export const MAX_CONCURRENCY = S3_MAX_GETS;

/** Where the automatic concurrency starts (it grows from there while throughput grows). */
export const INITIAL_CONCURRENCY = 256;

/**
 * Estimated inflated bytes that the objects started and not yet printed may hold: the
 * automatic concurrency never runs more than this allows. Drain batches are ~100 KB of
 * text, so it only binds on unusually large objects.
 */
export const MEMORY_BUDGET = 64 * 1024 * 1024;

/** Logplex text compresses about 8:1 (an object's size in the listing is its gzip). */
export const INFLATE_RATIO = 8;

export function openStore(ctx: Context): LogStore {
  return new LogStore({
    s3: () => ctx.aws.s3(),
    target: () => ctx.aws.s3Target(),
    bucket: ctx.config.drain.bucket,
    keyPrefix: ctx.config.drain.keyPrefix,
    endpoint: ctx.aws.endpointOf('S3'),
  });
}

/** Objects of one compacted day handed to a task at once. */
export const COMPACTED_BATCH = 500;

/** What one pool task reads: one raw object, or consecutive objects of one compacted day. */
export interface Unit {
  objs: LogObject[];
  compacted: boolean;
}

export interface ScanStats {
  listed: number;
  done: number;
  bytes: number;
  lines: number;
  problems: number;
}

/**
 * Read every object of the apps in the window (listing and downloading overlap), calling
 * `each` in time order. `each` returns false to stop early; the downloads still running are
 * then aborted and their bodies destroyed. Throws CheckFailedError when the window holds no
 * object at all: most often a misspelt app or the wrong day.
 */
export async function scanWindow<R>(
  ctx: Context,
  opts: { apps: string[]; window: TimeWindow; concurrency: number | undefined; verb: string; compacted?: boolean; engine?: EngineChoice; select?: Selection },
  visitor: (obj: LogObject) => LineVisitor<R>,
  each: (obj: LogObject, result: ScanResult<R>) => boolean | void | Promise<boolean | void>,
  /** Runs inside each object's task, concurrently (e.g. writing the object to a file). */
  persist?: (obj: LogObject, result: ScanResult<R>) => Promise<void>,
): Promise<ScanStats> {
  const store = openStore(ctx);
  const stats: ScanStats = { listed: 0, done: 0, bytes: 0, lines: 0, problems: 0 };
  /** Objects handed to the pool's tasks so far. */
  let started = 0;
  // Objects listed and not started yet: the automatic concurrency opens no sockets the rest of the window cannot keep busy.
  const remaining = () => (store.listing.open > 0 ? Infinity : store.listing.found - started);
  const limit = opts.concurrency === undefined ? new AdaptiveConcurrency({ initial: INITIAL_CONCURRENCY, max: MAX_CONCURRENCY, remaining }) : fixedConcurrency(opts.concurrency);
  const adaptive = limit instanceof AdaptiveConcurrency ? limit : undefined;
  store.onThrottle = () => limit.throttled();
  let listing = true;
  const progress = await ctx.out.progress(`${opts.verb}: listing ${opts.apps.join(', ')}`);
  let shown = 0;
  const show = () => {
    const t = Date.now();
    // A spinner redraws at its own pace: a new text per object would only cost CPU.
    if (t - shown < 100) return;
    shown = t;
    progress.update(`${opts.verb}: ${stats.done}/${stats.listed}${listing ? '+' : ''} objects, ${formatBytes(stats.bytes)}`);
  };

  async function* listed(): AsyncGenerator<LogObject> {
    const sources = opts.apps.map((app) => store.list(app, opts.window, ctx.signal, undefined, (day) => closed.get(`${app}/${day}`)));
    for await (const o of mergeSorted(sources, byTime)) {
      stats.listed += 1;
      yield o;
    }
    listing = false;
  }

  // Compacted days serve the objects their manifests list (one GET per day instead of one
  // per object); the rest is read raw. The output is the same either way. Consecutive objects
  // of one compacted day go through the pool as one unit: a task per object cost more than
  // reading its lines.
  const compacted = opts.compacted === false ? undefined : (await import('./compacted-days.js')).openCompactedDays(ctx, store);
  if (compacted) for (const app of opts.apps) for (let day = startOfDay(opts.window.start); day < opts.window.end; day += DAY_MS) compacted.prefetch(app, day);
  // The engine's module loads while the manifests are on their way (a round trip before the listing starts).
  const loading = compacted ? engineDays(ctx, opts.engine ?? 'auto', opts.select ?? {}, opts.verb) : undefined;
  loading?.catch(() => undefined);
  // Closed days whose manifests hold the whole day are served without listing (--no-compacted lists every day).
  const closed = compacted ? await closedDays(ctx, compacted, opts.apps, opts.window) : new Map<string, LogObject[]>();
  const engine = await loading;
  // The closed days are known whole now: their Parquet downloads and counts start at once.
  if (engine) for (const objs of closed.values()) if (objs.length > 0) void prefetchEngineDay(engine, compacted!, store, objs[0]!, ctx.signal);

  async function* units(): AsyncGenerator<Unit> {
    let batch: LogObject[] = [];
    let batchDay = '';
    for await (const obj of listed()) {
      // Awaited only while the day's manifest is on its way: a microtask per object adds up over a month.
      const covered = !compacted ? false : compacted.covers(obj);
      if (compacted && (covered === true || (covered !== false && (await covered)))) {
        const day = compacted.dayOf(obj);
        if (batch.length > 0 && (day !== batchDay || batch.length >= COMPACTED_BATCH)) {
          yield { objs: batch, compacted: true };
          batch = [];
        }
        batchDay = day;
        batch.push(obj);
        continue;
      }
      if (batch.length > 0) {
        yield { objs: batch, compacted: true };
        batch = [];
      }
      yield { objs: [obj], compacted: false };
    }
    if (batch.length > 0) yield { objs: batch, compacted: true };
  }

  try {
    const raw = async (obj: LogObject, signal: AbortSignal) => {
      const result = await store.scan(obj, signal, () => visitor(obj));
      if (persist) await persist(obj, result);
      return result;
    };
    const task = async (unit: Unit, signal: AbortSignal): Promise<ScanResult<R>[]> => {
      started += unit.objs.length;
      try {
        if (!unit.compacted || !compacted) return [await raw(unit.objs[0]!, signal)];
        const byEngine = engine && (await viaEngine(engine, compacted, store, unit.objs, visitor, ctx.signal));
        if (byEngine) {
          if (persist) for (let i = 0; i < unit.objs.length; i++) await persist(unit.objs[i]!, byEngine[i]!);
          return byEngine;
        }
        let found: (CompactedText | undefined)[];
        try {
          found = await compacted.textsOf(unit.objs);
        } catch (err) {
          // A lines.gz that breaks off mid-way: its objects are read raw.
          if (signal.aborted) throw err;
          found = [];
        }
        const results: ScanResult<R>[] = [];
        for (let i = 0; i < unit.objs.length; i++) {
          const obj = unit.objs[i]!;
          const held = found[i];
          if (held === undefined) {
            results.push(await raw(obj, signal));
            continue;
          }
          // What reading the raw object found wrong is said on every read of the day, as a raw read would.
          const result: ScanResult<R> = { ...visitBytes(held.text, visitor(obj)), ...(held.problem ? { problem: held.problem } : {}) };
          if (persist) await persist(obj, result);
          results.push(result);
        }
        return results;
      } finally {
        limit.completed();
      }
    };
    const results = orderedPool(units(), task, {
      concurrency: () => limit.value,
      signal: ctx.signal,
      weight: (unit) => unit.objs.reduce((n, o) => n + o.size, 0) * INFLATE_RATIO,
      maxWeight: MEMORY_BUDGET,
    });
    scan: for await (const { item: unit, value } of results) {
      for (let i = 0; i < unit.objs.length; i++) {
        const item = unit.objs[i]!;
        const result = value[i]!;
        stats.done += 1;
        stats.bytes += result.bytes;
        stats.lines += result.lines;
        if (result.problem) {
          stats.problems += 1;
          ctx.out.warn(`${item.key}: ${result.problem}`);
        }
        show();
        const go = each(item, result);
        if ((go instanceof Promise ? await go : go) === false) break scan;
      }
      await ctx.out.drained(ctx.signal);
    }
  } catch (err) {
    ctx.checkInterrupted();
    throw err;
  } finally {
    progress.stop();
    await compacted?.close();
    await engine?.close();
  }
  ctx.checkInterrupted();
  if (compacted && compacted.served > 0) ctx.out.debug(`${opts.verb}: ${compacted.served} objects read from ${compacted.daysOpened} compacted day(s), ${engine?.served ?? 0} of them by the embedded engine`);
  if (closed.size > 0) ctx.out.debug(`${opts.verb}: ${closed.size} closed app-day(s) taken from their manifests without listing`);
  if (store.foreignKeys > 0) ctx.out.warn(`${store.foreignKeys} key(s) under the day prefixes are not in the receiver's layout; skipped`);
  if (stats.listed === 0) {
    // No object for an app at any time is a misspelt or unknown app: bad input (2), not a
    // quiet window (1).
    const unknown: string[] = [];
    for (const app of opts.apps) if (!(await store.hasAny(app, ctx.signal))) unknown.push(app);
    if (unknown.length > 0) {
      throw new UsageError(`no log objects at all for ${unknown.join(', ')} in bucket ${ctx.config.drain.bucket}: not an app whose drain writes here`, {
        hint: `check the name (apps of --env ${ctx.config.env}: ${ctx.config.apps.join(', ')}); \`raxx-ops drains list --app <app>\` shows an app's drains`,
      });
    }
    throw new CheckFailedError(`no log objects for ${opts.apps.join(', ')} in ${describeWindow(opts.window)} (bucket ${ctx.config.drain.bucket})`, {
      hint: `check the app name and the window; \`raxx-ops logs status --app ${opts.apps[0]} --days 7\` shows which days have objects`,
    });
  }
  if (stats.problems > 0) ctx.out.warn(`${stats.problems} of ${stats.done} objects could not be read completely (listed above); the rest were read`);
  ctx.out.debug(`${opts.verb}: ${stats.done} objects, ${formatBytes(stats.bytes)}, ${stats.lines} lines`);
  ctx.out.debug(
    adaptive
      ? `${opts.verb}: concurrency chosen ${adaptive.value} (peak ${adaptive.peak}, started at ${INITIAL_CONCURRENCY}), ${adaptive.throttles} throttled request(s)`
      : `${opts.verb}: concurrency ${limit.value} (--concurrency)`,
  );
  return stats;
}

/**
 * The closed app-days of the window whose manifests hold the whole day, by `app/dayMs`. Days
 * this machine's clock says cannot be closed yet are not asked about (a clock up to a day
 * behind still finds them); whether one is closed is decided by S3's clock (closed-days.ts).
 */
export async function closedDays(ctx: Context, compacted: CompactedDays, apps: string[], window: TimeWindow): Promise<Map<string, LogObject[]>> {
  const now = ctx.now().getTime();
  const asks: Promise<void>[] = [];
  const out = new Map<string, LogObject[]>();
  for (const app of apps) {
    for (let day = startOfDay(window.start); day < window.end; day += DAY_MS) {
      if (now < acceptanceHorizon(day) - DAY_MS) continue;
      asks.push(compacted.closedDay(app, day).then((objs) => void (objs && out.set(`${app}/${day}`, objs))));
    }
  }
  await Promise.all(asks);
  return out;
}

export type EngineChoice = 'auto' | 'duckdb' | 'lines';

/**
 * The embedded engine for compacted days, or undefined to read their lines.gz: `lines`, or
 * `auto` without the engine installed. `duckdb` without it is the install hint (exit 3).
 */
export async function engineDays(ctx: Context, choice: EngineChoice, select: Selection, verb: string) {
  if (choice === 'lines') return undefined;
  // Asked for by name: missing is the install hint now. Under auto it loads with the first day it can serve.
  if (choice === 'duckdb') await (await import('./query/duckdb.js')).loadDuckDb();
  const { EngineDays } = await import('./query/engine-days.js');
  const engine = new EngineDays(select, (m) => ctx.out.debug(`${verb}: ${m}`), ctx.signal);
  return engine.usable ? engine : undefined;
}

type Engine = NonNullable<Awaited<ReturnType<typeof engineDays>>>;

/** How the engine names a day in its notes: `app YYYY-MM-DD`. */
function engineDayId(obj: LogObject): string {
  return `${obj.app} ${utcDate(obj.time)}`;
}

/** The Parquet of an object's compacted day, streamed (undefined when it cannot be read: lines.gz then). */
function parquetOf(compacted: CompactedDays, store: LogStore, obj: LogObject, signal: AbortSignal) {
  return () => store.fetch(compacted.parquetKey(obj), signal).catch(() => undefined);
}

async function prefetchEngineDay(engine: Engine, compacted: CompactedDays, store: LogStore, first: LogObject, signal: AbortSignal): Promise<void> {
  const index = await compacted.indexOf(first);
  if (index) engine.prefetch(engineDayId(first), index, parquetOf(compacted, store, first, signal));
}

/**
 * Consecutive objects of one compacted day read by the engine, each handed to its visitor as
 * a read would (its selected lines, or with -c their number); undefined when the engine
 * cannot serve the day (the caller reads lines.gz).
 */
export async function viaEngine<R>(
  engine: Engine,
  compacted: CompactedDays,
  store: LogStore,
  objs: LogObject[],
  visitor: (obj: LogObject) => LineVisitor<R>,
  signal: AbortSignal,
): Promise<ScanResult<R>[] | undefined> {
  const first = objs[0]!;
  const index = await compacted.indexOf(first);
  if (!index) return undefined;
  const found = await engine.take(engineDayId(first), index, objs.map((o) => o.key), parquetOf(compacted, store, first, signal));
  if (!found) return undefined;
  compacted.servedElsewhere(objs);
  const results: ScanResult<R>[] = [];
  for (let i = 0; i < objs.length; i++) {
    const obj = objs[i]!;
    const got = found[i]!;
    const v = visitor(obj);
    if (v.count) v.count(got.selected);
    else for (const line of got.lines) if (v.line(line) === false) break;
    // What reading the raw object found wrong, from the manifest already read: no await per object.
    const problem = index.entries.get(obj.key)?.problem;
    results.push({ value: v.result(), lines: got.total, bytes: 0, ...(problem ? { problem } : {}) });
  }
  return results;
}
