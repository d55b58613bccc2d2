// What the logs commands share: flag schemas, the store, the scan loop that reads a
// window's objects concurrently and hands their results back in time order, and how an
// object's lines are printed.
import { z } from 'zod';
import { appName } from '../../lib/core/config.js';
import { flag, negatedFlag, option } from '../define.js';
import { withoutOctetCount } from '@raxx/log-format/logplex';
import type { Context } from '../../lib/run/context.js';
import { CheckFailedError, UsageError } from '../../lib/core/errors.js';
import { byTime, LogStore, visitBytes, type LineVisitor, type LogObject, type ScanResult } from '../../lib/logs/store.js';
import { mergeSorted, orderedPool } from '../../lib/core/ordered-pool.js';
import { AdaptiveConcurrency, fixedConcurrency } from '../../lib/core/adaptive-concurrency.js';
import { S3_MAX_GETS } from '../../lib/aws/clients.js';
import type { Output } from '../../lib/core/output.js';
import { lineBatches } from '../../lib/logs/text.js';
import { maskHazard } from '../../lib/core/secrets.js';
import type { CompactedDays, CompactedText } from '../../lib/logs/compaction.js';
import { acceptanceHorizon } from '@raxx/log-format/object-key';
import type { Selection } from '../../lib/logs/query/engine-select.js';
import { DAY_MS, describeWindow, resolveWindow, startOfDay, type TimeWindow, type WindowFlags } from '../../lib/core/time-window.js';
import { logRecord } from './record.js';
import { formatBytes } from '../../lib/core/sizes.js';

export { formatBytes };

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
const INFLATE_RATIO = 8;

const upTo = (max: number, why: string) => z.coerce.number().int('must be a whole number').min(1, 'must be at least 1').max(max, `at most ${max} (${why})`);
export const concurrency = upTo(MAX_CONCURRENCY, "the S3 client's socket pool");
/** Listings at once (`logs status`). */
export const listingConcurrency = upTo(64, 'listings at once');

export const WINDOW_HELP = `Time window (UTC): --date picks a whole day (default today); --since/--until take a relative
time (30m, 2h, 3d), a clock time on --date (14:30) or an ISO time (2025-06-01T14:30:00Z).
Objects are chosen by the time in their key (the batch's first message), before any download.`;

/** How grep and fetch print stored lines, declared once. */
export const printOptions = {
  raw: flag('print the stored frames as they are, octet count included (default: the message as Heroku shows it)'),
  mask: negatedFlag('print the stored text unmasked: this MAY PRINT SECRETS found in the logs (tokens, passwords)'),
};

export interface PrintFlags {
  raw: boolean;
  mask: boolean;
}

/** A stored line as it is matched and printed: without its octet count unless --raw. */
export function displayLine(line: string, flags: PrintFlags): string {
  return flags.raw ? line : withoutOctetCount(line);
}

/** The window options of grep and fetch, declared once. */
export const windowOptions = {
  app: option(
    z.array(appName, { error: 'is required: name the app(s) to read with --app' }).min(1, 'is required: name the app(s) to read with --app'),
    'an app (repeatable; required)',
    { value: '<app>', repeatable: true },
  ),
  date: option(z.string().optional(), 'the UTC day to read (default: today)', { value: '<YYYY-MM-DD>' }),
  since: option(z.string().optional(), 'start of the window: 30m, 2h, 14:30 or an ISO time', { value: '<time>' }),
  until: option(z.string().optional(), 'end of the window (exclusive), same forms as --since', { value: '<time>' }),
  // Unset: chosen as the scan goes (AdaptiveConcurrency).
  compacted: negatedFlag('read every raw object, even where a compacted day (logs compact) holds its lines'),
  engine: option(z.enum(['auto', 'duckdb', 'lines'], { error: 'must be auto, duckdb or lines' }).default('auto'), 'how compacted days are read: duckdb (the embedded engine over their Parquet), lines (their lines.gz), auto (duckdb when installed); the output is the same', { value: '<engine>' }),
  concurrency: option(concurrency.optional(), `objects downloaded at once (1-${MAX_CONCURRENCY}; default: chosen as it goes, from ${INITIAL_CONCURRENCY} up while throughput grows, halved when S3 throttles)`, { value: '<n>' }),
};

export function windowOf(args: WindowFlags, ctx: Context): TimeWindow {
  return resolveWindow(args, ctx.now(), ctx.config.drain.retentionDays);
}

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
const COMPACTED_BATCH = 500;

/** What one pool task reads: one raw object, or consecutive objects of one compacted day. */
interface Unit {
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
  const limit = opts.concurrency === undefined ? new AdaptiveConcurrency({ initial: INITIAL_CONCURRENCY, max: MAX_CONCURRENCY }) : fixedConcurrency(opts.concurrency);
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
  const compacted = opts.compacted === false ? undefined : (await import('../../lib/logs/compaction.js')).openCompactedDays(ctx, store);
  if (compacted) for (const app of opts.apps) for (let day = startOfDay(opts.window.start); day < opts.window.end; day += DAY_MS) compacted.prefetch(app, day);
  // Closed days whose manifests hold the whole day are served without listing (--no-compacted lists every day).
  const closed = compacted ? await closedDays(ctx, compacted, opts.apps, opts.window) : new Map<string, LogObject[]>();
  const engine = compacted ? await engineDays(ctx, opts.engine ?? 'auto', opts.select ?? {}, opts.verb) : undefined;

  async function* units(): AsyncGenerator<Unit> {
    let batch: LogObject[] = [];
    let batchDay = '';
    for await (const obj of listed()) {
      if (compacted && (await compacted.covers(obj))) {
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
 * An object's lines on stdout: NDJSON records with --json, else the raw lines, each prefixed
 * `app:` when several apps are read (as grep prefixes file names).
 */
export function printLines(out: Output, obj: LogObject, lines: readonly string[], severalApps: boolean, flags: PrintFlags): void {
  if (lines.length === 0) return;
  if (out.json) {
    for (const line of lines) {
      const rec = logRecord(obj, line);
      if (flags.mask) out.record(rec);
      else out.unmasked(`${JSON.stringify(rec)}\n`);
    }
    return;
  }
  const text = `${(severalApps ? lines.map((l) => `${obj.app}:${l}`) : lines).join('\n')}\n`;
  if (flags.mask) out.raw(text);
  else out.unmasked(text);
}

/** Characters of masked output written at a time (a piece ends only where maskHazard finds none). */
const PRINT_CHARS = 1024 * 1024;

/**
 * An object's kept text (textKeeper) printed as printLines prints its lines, a piece at a time,
 * waiting for stdout between pieces: a big object is held as its bytes, never as its lines.
 */
export async function printText(out: Output, obj: LogObject, text: readonly Buffer[], severalApps: boolean, flags: PrintFlags, signal: AbortSignal): Promise<void> {
  if (out.json || !flags.mask) {
    for (const batch of lineBatches(text)) {
      printLines(out, obj, batch.map((l) => displayLine(l, flags)), severalApps, flags);
      await out.drained(signal);
      // Ctrl-C: not the rest of a big object; the scan stops with exit 130.
      if (signal.aborted) return;
    }
    return;
  }
  // Masked, a piece is cut only where masking the pieces apart equals masking the object's text whole.
  let piece: string[] = [];
  let chars = 0;
  let cutAt = PRINT_CHARS;
  /** Set while a key block is open in the piece: it can only close on a line naming one. */
  let inKeyBlock = false;
  for (const batch of lineBatches(text)) {
    for (const stored of batch) {
      const shown = displayLine(stored, flags);
      const line = severalApps ? `${obj.app}:${shown}` : shown;
      if (chars >= cutAt) {
        const hazard = maskHazard(piece, line);
        if (hazard === undefined) {
          out.raw(`${piece.join('\n')}\n`);
          piece = [];
          chars = 0;
          cutAt = PRINT_CHARS;
          await out.drained(signal);
          if (signal.aborted) return;
        } else {
          // A JSON key at the line's end: the next line may do; an open block: the next that names a key.
          inKeyBlock = hazard === 'key-block';
          cutAt = hazard === 'key-value' ? chars : Infinity;
        }
      }
      piece.push(line);
      chars += line.length + 1;
      if (inKeyBlock && line.includes('PRIVATE KEY')) {
        inKeyBlock = false;
        cutAt = chars;
      }
    }
  }
  if (piece.length > 0) out.raw(`${piece.join('\n')}\n`);
}

/**
 * The closed app-days of the window whose manifests hold the whole day, by `app/dayMs`. Days
 * this machine's clock says cannot be closed yet are not asked about (a clock up to a day
 * behind still finds them); whether one is closed is decided by S3's clock (closed-days.ts).
 */
async function closedDays(ctx: Context, compacted: CompactedDays, apps: string[], window: TimeWindow): Promise<Map<string, LogObject[]>> {
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
async function engineDays(ctx: Context, choice: EngineChoice, select: Selection, verb: string) {
  if (choice === 'lines') return undefined;
  // Asked for by name: missing is the install hint now. Under auto it loads with the first day it can serve.
  if (choice === 'duckdb') await (await import('../../lib/logs/query/duckdb.js')).loadDuckDb();
  const { EngineDays } = await import('../../lib/logs/query/engine-days.js');
  const engine = new EngineDays(select, (m) => ctx.out.debug(`${verb}: ${m}`));
  return engine.usable ? engine : undefined;
}

/**
 * Consecutive objects of one compacted day read by the engine, each handed to its visitor as
 * a read would (its selected lines, or with -c their number); undefined when the engine
 * cannot serve the day (the caller reads lines.gz).
 */
async function viaEngine<R>(
  engine: NonNullable<Awaited<ReturnType<typeof engineDays>>>,
  compacted: CompactedDays,
  store: LogStore,
  objs: LogObject[],
  visitor: (obj: LogObject) => LineVisitor<R>,
  signal: AbortSignal,
): Promise<ScanResult<R>[] | undefined> {
  const first = objs[0]!;
  const index = await compacted.indexOf(first);
  if (!index) return undefined;
  const day = `${first.app} ${new Date(startOfDay(first.time)).toISOString().slice(0, 10)}`;
  const found = await engine.take(day, index, objs.map((o) => o.key), () => store.fetchBytes(compacted.parquetKey(first), signal).catch(() => undefined));
  if (!found) return undefined;
  compacted.servedElsewhere(objs);
  const results: ScanResult<R>[] = [];
  for (let i = 0; i < objs.length; i++) {
    const obj = objs[i]!;
    const got = found[i]!;
    const v = visitor(obj);
    if (v.count) v.count(got.selected);
    else for (const line of got.lines) if (v.line(line) === false) break;
    const problem = await compacted.problemOf(obj);
    results.push({ value: v.result(), lines: got.total, bytes: 0, ...(problem ? { problem } : {}) });
  }
  return results;
}
