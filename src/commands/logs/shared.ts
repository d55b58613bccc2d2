// What the logs commands share: flag schemas, the store, the scan loop that reads a
// window's objects concurrently and hands their results back in time order, and how an
// object's lines are printed.
import { z } from 'zod';
import { appName } from '../../lib/core/config.js';
import { flag, negatedFlag, option } from '../define.js';
import { withoutOctetCount } from '@raxx/log-format/logplex';
import type { Context } from '../../lib/run/context.js';
import type { LogObject } from '../../lib/logs/store.js';
import type { Output } from '../../lib/core/output.js';
import { lineBatches } from '../../lib/logs/text.js';
import { maskHazard } from '../../lib/core/secrets.js';
import { resolveWindow, type TimeWindow, type WindowFlags } from '../../lib/core/time-window.js';
import { logRecord } from './record.js';
import { formatBytes } from '../../lib/core/sizes.js';
import { INITIAL_CONCURRENCY, MAX_CONCURRENCY } from '../../lib/logs/scan.js';

export { formatBytes };

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

