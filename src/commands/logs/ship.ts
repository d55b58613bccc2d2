// `raxx-ops logs ship SOURCE [FILE…]`: the log-shipping runbook's daily job — collect,
// validate, redact, compress, upload, verify, then clean up — for sources that cannot drain
// over HTTPS. One object per source and UTC day; shipping a day again is idempotent.
import { z } from 'zod';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { tryParseDay } from '@raxx/log-format/object-key';
import { resolveSource, sourceName } from '../../lib/core/config.js';
import { PartialFailureError, UsageError, UserError } from '../../lib/core/errors.js';
import type { ShipInput } from '../../lib/shipping/prepare.js';
import { createCommand, flag, option, positional } from '../define.js';
import { dryRun, durationOption } from '../options.js';
import { formatBytes } from './shared.js';
import { notifyFailure, remember, shipDay, supabaseDays, type DayReport } from '../../lib/shipping/day.js';

const date = z.string().refine((d) => tryParseDay(d) !== undefined, { error: (i) => `"${String(i.input)}" is not a date (YYYY-MM-DD, UTC)` });

export default createCommand({
  description: 'ship log files of a source to S3: validated, redacted, gzipped, checksummed and verified; one object per UTC day',
  notes: `Each file's day is --date, else a YYYY-MM-DD (or YYYYMMDD) in its name, else the UTC day it
was last written; files of the same day become one object. Shipping a day again with the same
content changes nothing; different content for a shipped day is refused unless --replace (the
bucket must be versioned: the old version stays). JSON-lines input (auto-detected) is checked
line by line; bad lines are reported and shipped as they are. A line longer than
--max-line-bytes (default 1 MiB) keeps its first bytes and is flagged; binary or gzip input is
refused; an input with no entries ships nothing and the day stays missing. Redaction: the
shared rules (credentials in URLs, tokens, keys, headers, cookies, e-mail addresses, …) plus
the source's patterns.
A failed upload or verification is retried 3 times (1 s, 2 s, 4 s); a failure posts to
SLACK_WEBHOOK_URL when it is set. Sources are declared under "logSources" in the config.
A source declaring "supabase": {"source": "auth_logs"} (or edge_logs, …) is pulled from the
Supabase project's Management API when no file is named: --date D, --days N, or yesterday;
a day already shipped is skipped unless --replace, and a day with no rows ships nothing.
Needs SUPABASE_ACCESS_TOKEN, and SUPABASE_URL or "supabase.projectRef" in the config.
Every run of a day is recorded in the source's bucket (logs status --history).`,
  examples: [
    ['raxx-ops logs ship auth /var/log/auth/auth-2025-06-01.log --delete-after', "a day's file, removed once verified in S3"],
    ['raxx-ops logs ship api /var/log/api/*.log --days 7', 'the files of the last 7 days; shipped days are skipped'],
    ['zcat batch.log.gz | raxx-ops logs ship batch - --date 2025-06-01', 'from stdin'],
    ['raxx-ops logs ship auth auth.log --date 2025-06-01 --dry-run', 'counts, redactions and the key, nothing uploaded'],
    ['raxx-ops logs ship auth --days 7', 'a Supabase source: the last 7 days from the Management API, shipped days skipped'],
  ],
  positionals: {
    source: positional(sourceName, 'the log source (a declared one, or any name: defaults apply)'),
    files: positional(z.array(z.string().min(1)).default([]), 'log files (plain text or JSON lines); - or none reads stdin', { optional: true, variadic: true }),
  },
  options: {
    date: option(date.optional(), 'the UTC day the input holds (needed for stdin)', { value: '<YYYY-MM-DD>' }),
    days: option(z.coerce.number().int('must be a whole number').min(1, 'must be at least 1').max(366, 'at most 366').optional(), 'ship only files dated in the N days before today', { value: '<n>' }),
    format: option(z.enum(['auto', 'json', 'plain'], { error: 'must be auto, json or plain' }).default('auto'), 'input format: JSON lines are validated', { value: '<auto|json|plain>' }),
    deleteAfter: flag('delete each local file once its day is verified in S3'),
    replace: flag("replace a day already shipped with different content (the old version stays in the versioned bucket)"),
    dryRun,
    maxLineBytes: option(z.coerce.number().int('must be a whole number').min(1024, 'at least 1024').max(64 * 1024 * 1024, 'at most 64 MiB (67108864)').optional(), "the longest line shipped whole (default: the source's maxLineBytes, else 1 MiB); a longer line keeps its first bytes and is flagged", { value: '<bytes>' }),
    retryBaseMs: durationOption('ms', { maxMs: 60_000 }, 1000, 'delay before the first retry (a bare number is ms); each next one doubles it'),
  },
  async handler(args, ctx) {
    const { out } = ctx;
    const source = resolveSource(ctx.config, args.source);
    if (args.date && args.days) throw new UsageError('--date and --days cannot be used together', { hint: '--date names the day of every input; --days picks files by their own dates' });
    // A Supabase source with no file named is pulled from the Management API, one input per day.
    const pulled = args.files.length === 0 && source.supabase ? await supabaseDays(ctx, source, args) : undefined;
    const files = pulled ? [] : args.files.length > 0 ? args.files : ['-'];
    const stdin = files.filter((f) => f === '-').length;
    if (stdin > 1) throw new UsageError('stdin (-) named more than once', { hint: 'name - once' });
    if (stdin && args.deleteAfter) throw new UsageError('--delete-after cannot delete stdin', { hint: 'leave out --delete-after, or name the files' });
    if (stdin && !args.date) throw new UsageError('reading stdin needs --date', { hint: 'say which UTC day the input holds: --date YYYY-MM-DD' });
    if (stdin && (!ctx.stdin || ctx.stdin.isTTY)) throw new UsageError('no input: stdin is a terminal', { hint: 'name log files, or pipe the log into raxx-ops logs ship <source> - --date <day>' });
    if (!source.declared) out.info(`${source.name}: not declared in the configuration; shipping with the defaults (optional, bucket ${source.bucket}, receiver layout)`);

    const { fileDate, lastDays } = await import('../../lib/shipping/layout.js');
    // Every input's day, checked before anything is read.
    const dated: { input: ShipInput; date: string; path?: string }[] = [];
    for (const f of files) {
      if (f === '-') {
        const input = ctx.stdin!;
        dated.push({ input: { name: 'stdin', open: () => input as unknown as Readable }, date: args.date! });
        continue;
      }
      let size: number;
      try {
        const s = await stat(f);
        if (!s.isFile()) throw Object.assign(new Error('not a file'), { code: 'EISDIR' });
        size = s.size;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        throw new UsageError(`${f}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'not a file' : String(code)}`, { hint: 'name existing log files, or - for stdin' });
      }
      dated.push({ input: { name: f, open: () => createReadStream(f), size }, date: args.date ?? (await fileDate(f)), path: f });
    }
    // A log cannot hold a day that has not begun: a mistyped year would file it where no one reads.
    const today = new Date(ctx.now().getTime()).toISOString().slice(0, 10);
    for (const d of dated) {
      if (d.date > today) {
        throw new UsageError(`${d.input.name}: dated ${d.date}, after today (${today} UTC)`, { hint: args.date ? 'check --date' : 'the date comes from the file name (or its modification time): rename the file or give --date' });
      }
    }
    let chosen = pulled ?? dated;
    if (args.days && !pulled) {
      const window = new Set(lastDays(ctx.now().getTime(), args.days));
      chosen = dated.filter((d) => window.has(d.date));
      for (const d of dated) if (!window.has(d.date)) out.info(`${d.input.name}: dated ${d.date}, outside the last ${args.days} day(s); skipped`);
    }
    if (chosen.length === 0) {
      out.warn('nothing to ship');
      if (out.json) out.data({ source: source.name, bucket: source.bucket, layout: source.layout, dryRun: args.dryRun, days: [] });
      return;
    }
    const byDay = new Map<string, typeof chosen>();
    for (const d of chosen) byDay.set(d.date, [...(byDay.get(d.date) ?? []), d]);

    const reports: DayReport[] = [];
    const failures: { subject: string; error: UserError }[] = [];
    for (const [day, inputs] of [...byDay.entries()].sort(([a], [b]) => (a < b ? -1 : 1))) {
      const started = { at: ctx.now(), t0: performance.now() };
      try {
        const report = await shipDay(ctx, source, day, inputs, { ...args, pulled: pulled !== undefined });
        reports.push(report);
        if (!args.dryRun) await remember(ctx, source, day, started, report, undefined);
      } catch (err) {
        ctx.checkInterrupted();
        if (!(err instanceof UserError)) throw err;
        failures.push({ subject: `${source.name} ${day}`, error: err });
        if (!args.dryRun) await remember(ctx, source, day, started, undefined, err);
        await notifyFailure(ctx, source.name, day, err);
      }
    }

    if (failures.length === 1 && reports.length === 0) throw failures[0]!.error;
    if (failures.length > 0) {
      for (const r of reports) out.info(summary(source.name, r));
      throw new PartialFailureError(`${failures.length} of ${byDay.size} day(s) of ${source.name} failed to ship`, failures, { hint: 'fix the failures listed and ship again: days already shipped are skipped' });
    }
    if (out.json) {
      out.data({ source: source.name, bucket: source.bucket, layout: source.layout, dryRun: args.dryRun, days: reports });
    } else {
      for (const r of reports) out.line(summary(source.name, r));
    }
  },
});

function summary(source: string, r: DayReport): string {
  const verb = { shipped: 'shipped', replaced: 'replaced', unchanged: 'already shipped, unchanged', 'would-ship': 'would ship', 'would-replace': 'would replace', conflict: 'conflict', empty: 'not shipped (no entries)', skipped: 'already shipped, skipped' }[r.status];
  if (r.status === 'skipped') return `${source} ${r.date} ${verb} (s3://${r.bucket}/${r.key}, ${formatBytes(r.bytesOut)}; --replace pulls it again)`;
  return (
    `${source} ${r.date} ${verb}: ${r.lines} lines (${r.badLines} bad${r.cutLines ? `, ${r.cutLines} cut` : ''}), ${r.redactions} redactions, ` +
    `${formatBytes(r.bytesIn)} in, ${formatBytes(r.bytesOut)} gzipped, s3://${r.bucket}/${r.key}` +
    (r.attempts > 1 ? ` after ${r.attempts} attempts` : '') +
    (r.deleted.length ? `; deleted ${r.deleted.join(', ')}` : '')
  );
}

