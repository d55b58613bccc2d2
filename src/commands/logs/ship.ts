// `raxx-ops logs ship SOURCE [FILE…]`: the log-shipping runbook's daily job — collect,
// validate, redact, compress, upload, verify, then clean up — for sources that cannot drain
// over HTTPS. One object per source and UTC day; shipping a day again is idempotent.
import { z } from 'zod';
import { createReadStream } from 'node:fs';
import { rm, stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { tryParseDay } from '@raxx/log-format/object-key';
import { resolveSource, sourceName } from '../../lib/core/config.js';
import type { Context } from '../../lib/run/context.js';
import { ConfigError, PartialFailureError, ServiceError, UsageError, UserError } from '../../lib/core/errors.js';
import type { Prepared, ShipInput } from '../../lib/shipping/prepare.js';
import { createCommand, flag, option, positional } from '../define.js';
import { dryRun } from '../options.js';
import { formatBytes } from './shared.js';

const date = z.string().refine((d) => tryParseDay(d) !== undefined, { error: (i) => `"${String(i.input)}" is not a date (YYYY-MM-DD, UTC)` });

interface DayReport {
  date: string;
  status: 'shipped' | 'replaced' | 'unchanged' | 'would-ship' | 'would-replace' | 'conflict' | 'skipped' | 'empty';
  bucket: string;
  key: string;
  inputs: string[];
  format: 'json' | 'plain';
  lines: number;
  /** Lines with something on them. */
  entries: number;
  badLines: number;
  bad: Prepared['bad'];
  cutLines: number;
  cut: Prepared['cut'];
  redactions: number;
  redactionsByRule: Record<string, number>;
  bytesIn: number;
  bytesOut: number;
  sha256: string;
  versionId: string | null;
  previousVersionId: string | null;
  attempts: number;
  deleted: string[];
}

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
    retryBaseMs: option(z.coerce.number().int().min(0).max(60_000).default(1000), 'delay before the first retry, in ms; each next one doubles it', { value: '<ms>' }),
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

type Source = ReturnType<typeof resolveSource>;

async function shipDay(
  ctx: Context,
  source: Source,
  day: string,
  inputs: { input: ShipInput; path?: string }[],
  args: { format: 'auto' | 'json' | 'plain'; dryRun: boolean; replace: boolean; deleteAfter: boolean; retryBaseMs: number; maxLineBytes?: number | undefined; pulled: boolean },
): Promise<DayReport> {
  const { out } = ctx;
  const { redactionRules } = await import('../../lib/core/redaction.js');
  const { bucketReachable } = await import('../../lib/shipping/bucket-setup.js');
  const { shippedKey } = await import('../../lib/shipping/layout.js');
  const { prepare } = await import('../../lib/shipping/prepare.js');
  const { bucketVersioning, headShipped, uploadVerified } = await import('../../lib/shipping/upload.js');
  const key = shippedKey(source.layout, ctx.config.drain.keyPrefix, source.name, day);
  const endpoint = ctx.aws.endpointOf('S3');
  if (args.pulled && !args.replace) {
    // A pulled day already shipped is not pulled again (the daily job reruns after a failure).
    const existing = await headShipped(await ctx.aws.s3(), source.bucket, key, ctx.signal, endpoint);
    if (existing) return skippedDay(source, day, key, existing);
  }
  const total = inputs.reduce((n, i) => n + (i.input.size ?? 0), 0);
  const progress = await out.progress(`${source.name} ${day}: reading`);
  let shown = 0;
  const throttled = (text: () => string) => {
    const t = Date.now();
    if (t - shown < 100) return;
    shown = t;
    progress.update(text());
  };

  let prepared: Prepared | undefined;
  try {
    prepared = await prepare(
      inputs.map((i) => i.input),
      {
        rules: redactionRules(source),
        format: args.format,
        signal: ctx.signal,
        maxLineBytes: args.maxLineBytes ?? source.maxLineBytes,
        onProgress: (bytesIn, bytesOut) =>
          throttled(() => `${source.name} ${day}: ${formatBytes(bytesIn)}${total ? ` of ${formatBytes(total)} (${Math.floor((bytesIn / total) * 100)}%)` : ''} read, ${formatBytes(bytesOut)} gzipped`),
      },
    );
    const p = prepared;
    for (const b of p.bad) out.warn(`${b.input}:${b.line}: not valid JSON (${b.error}); shipped as it is`);
    if (p.badLines > p.bad.length) out.warn(`… and ${p.badLines - p.bad.length} more bad line(s), all shipped as they are`);
    for (const c of p.cut) out.warn(`${c.input}:${c.line}: a line of ${formatBytes(c.bytes)}, longer than the limit; shipped cut and flagged (--max-line-bytes)`);
    if (p.cutLines > p.cut.length) out.warn(`… and ${p.cutLines - p.cut.length} more cut line(s)`);

    const s3 = await ctx.aws.s3();
    const existing = await headShipped(s3, source.bucket, key, ctx.signal, endpoint);
    const base = {
      date: day,
      bucket: source.bucket,
      key,
      inputs: inputs.map((i) => i.input.name),
      format: p.format,
      lines: p.lines,
      entries: p.entries,
      badLines: p.badLines,
      bad: p.bad,
      cutLines: p.cutLines,
      cut: p.cut,
      redactions: p.redactions,
      redactionsByRule: p.redactionsByRule,
      bytesIn: p.bytesIn,
      bytesOut: p.bytesOut,
      sha256: p.sha256,
      previousVersionId: null,
      attempts: 0,
      deleted: [] as string[],
    };
    const deleteInputs = async (): Promise<string[]> => {
      if (!args.deleteAfter || args.dryRun) return [];
      const paths = inputs.flatMap((i) => (i.path ? [i.path] : []));
      for (const path of paths) await rm(path, { force: true });
      return paths;
    };

    if (p.entries === 0) {
      // Nothing to ship is not a shipped day: no object is written, so the day stays missing
      // in `logs status` (critical for a required source) until its logs are shipped.
      out.warn(`${source.name} ${day}: ${inputs.map((i) => i.input.name).join(', ')} ${p.bytesIn === 0 ? 'empty (0 bytes)' : 'holds no entries'}; nothing shipped, the day stays missing${source.required ? ' (a required source: logs status reports it critical)' : ''}`);
      return { ...base, status: 'empty', versionId: existing?.versionId ?? null };
    }
    if (existing && existing.sha256 === p.sha256) {
      // The same redacted content is already there: nothing to send, and the local file may go.
      return { ...base, status: 'unchanged', versionId: existing.versionId ?? null, deleted: await deleteInputs() };
    }
    const replacing = existing !== undefined;
    if (replacing) {
      const where = `s3://${source.bucket}/${key}`;
      if (!args.replace) {
        throw new UsageError(`${source.name} ${day} was already shipped with different content (${where}, sha256 ${existing.sha256?.slice(0, 12) ?? 'none'}…, ours ${p.sha256.slice(0, 12)}…)`, {
          hint: 'check that these are the right files for that day; --replace uploads them as a new version (the old one stays in the versioned bucket)',
        });
      }
      const versioning = await bucketVersioning(s3, source.bucket, ctx.signal, endpoint);
      if (versioning !== 'Enabled') {
        throw new UsageError(`bucket ${source.bucket} is not versioned (${versioning}): --replace would destroy the day already shipped`, {
          hint: `enable versioning on ${source.bucket} first (aws s3api put-bucket-versioning --bucket ${source.bucket} --versioning-configuration Status=Enabled)`,
        });
      }
    }
    if (args.dryRun) {
      // A plan that could not be carried out is not a plan: the bucket must answer.
      const problem = await bucketReachable(s3, source.bucket, ctx.signal, endpoint);
      if (problem) {
        const hint = 'check the source\'s "bucket" (`raxx-ops config show`), then `raxx-ops logs sources test`';
        // A bucket the configuration names and S3 does not have is configuration (exit 3), as everywhere.
        throw problem.endsWith('does not exist') ? new ConfigError(problem, { hint }) : new ServiceError('S3', problem, { hint });
      }
      return { ...base, status: replacing ? 'would-replace' : 'would-ship', versionId: null, previousVersionId: existing?.versionId ?? null };
    }
    if (replacing) {
      progress.stop();
      await ctx.confirm(`replace ${source.name} ${day} at s3://${source.bucket}/${key} with different content (the current version is kept)?`);
    }

    const { markDeps, writeIntoDrainDays } = await import('../../lib/shipping/drain-writes.js');
    // In the receiver's layout the day may be closed and compacted: marked stale around the write.
    const uploaded = await writeIntoDrainDays({ ...(await markDeps(ctx)), s3 }, { bucket: source.bucket, keys: [key] }, (signal) => uploadVerified(s3, {
      bucket: source.bucket,
      key,
      prepared: p,
      signal,
      endpoint,
      retryBaseMs: args.retryBaseMs,
      existing,
      onRetry: (attempt, error, delay) => out.warn(`${source.name} ${day}: attempt ${attempt} failed (${error.message}); retrying in ${delay < 1000 ? `${delay} ms` : `${delay / 1000} s`}`),
      onProgress: (loaded) => throttled(() => `${source.name} ${day}: uploading ${formatBytes(loaded)} of ${formatBytes(p.bytesOut)}`),
    }));
    return {
      ...base,
      status: replacing ? 'replaced' : 'shipped',
      versionId: uploaded.versionId ?? null,
      previousVersionId: existing?.versionId ?? null,
      attempts: uploaded.attempts,
      deleted: await deleteInputs(),
    };
  } finally {
    progress.stop();
    await prepared?.dispose();
  }
}

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

async function notifyFailure(ctx: Context, source: string, day: string, err: UserError): Promise<void> {
  const { notify, webhookUrl } = await import('../../lib/slack/notify.js');
  const url = webhookUrl(ctx.env);
  if (!url) return;
  const { redact } = await import('../../lib/core/secrets.js');
  await notify(url, redact(`:x: raxx-ops logs ship: ${source} ${day} failed (--env ${ctx.config.env}): ${err.message}${err.hint ? `\nhint: ${err.hint}` : ''}`), ctx.out, undefined, ctx.env);
}

/** A Supabase source's days: --date, --days N, else yesterday (the runbook's `daily`); only days that have ended. */
async function supabaseDays(
  ctx: Context,
  source: Source,
  args: { date?: string | undefined; days?: number | undefined; deleteAfter: boolean; format: string; retryBaseMs: number },
): Promise<{ input: ShipInput; date: string }[]> {
  if (args.deleteAfter) throw new UsageError('--delete-after has nothing to delete: this source is pulled from Supabase', { hint: 'leave out --delete-after' });
  if (args.format === 'plain') throw new UsageError('--format plain: Supabase rows are shipped as JSON lines', { hint: 'leave out --format' });
  const { lastDays } = await import('../../lib/shipping/layout.js');
  const sb = await import('../../lib/shipping/supabase.js');
  const now = ctx.now().getTime();
  const days = args.date ? [args.date] : lastDays(now, args.days ?? 1);
  const today = new Date(now).toISOString().slice(0, 10);
  for (const d of days) {
    // A day still going would be shipped incomplete, then skipped by every later run.
    if (d >= today) throw new UsageError(`${d} has not ended (today is ${today} UTC): its logs are not complete`, { hint: 'ship days that have ended: --date of an earlier day, or no --date for yesterday' });
  }
  const access = sb.supabaseAccess(ctx.config.supabase.projectRef, ctx.env);
  const name = source.supabase!.source;
  return days.map((date) => ({
    date,
    input: {
      name: `supabase ${name} ${date}`,
      open: () =>
        Readable.from(
          sb.dayLines({
            access,
            source: name,
            day: date,
            pageRows: ctx.config.supabase.pageRows,
            signal: ctx.signal,
            retryBaseMs: args.retryBaseMs,
            onWait: (ms, why) => ctx.out.warn(`supabase ${name} ${date}: ${why}; waiting ${ms < 1000 ? `${ms} ms` : `${Math.round(ms / 1000)} s`}`),
          }),
        ),
    },
  }));
}

function skippedDay(source: Source, day: string, key: string, existing: { sha256: string | undefined; versionId: string | undefined; size: number }): DayReport {
  return {
    date: day,
    status: 'skipped',
    bucket: source.bucket,
    key,
    inputs: [],
    format: 'json',
    lines: 0,
    entries: 0,
    badLines: 0,
    bad: [],
    cutLines: 0,
    cut: [],
    redactions: 0,
    redactionsByRule: {},
    bytesIn: 0,
    bytesOut: existing.size,
    sha256: existing.sha256 ?? '',
    versionId: existing.versionId ?? null,
    previousVersionId: null,
    attempts: 0,
    deleted: [],
  };
}

/** One run of a day into the source's history; a history that cannot be written is a warning, not a failed ship. */
async function remember(ctx: Context, source: Source, day: string, started: { at: Date; t0: number }, r: DayReport | undefined, err: UserError | undefined): Promise<void> {
  const { recordRun, whoRuns } = await import('../../lib/shipping/history.js');
  const { redact } = await import('../../lib/core/secrets.js');
  const durationMs = Math.round(performance.now() - started.t0);
  const outcome = r ? (r.status === 'would-ship' || r.status === 'would-replace' || r.status === 'conflict' ? undefined : r.status) : 'failed';
  if (!outcome) return;
  try {
    await recordRun(
      await ctx.aws.s3(),
      source.bucket,
      {
        source: source.name,
        day,
        outcome,
        lines: r && r.status !== 'skipped' ? r.lines : null,
        bytes: r ? r.bytesOut : null,
        sha256: r?.sha256 || null,
        attempts: r?.attempts ?? 0,
        durationMs,
        startedAt: started.at.toISOString(),
        finishedAt: new Date(started.at.getTime() + durationMs).toISOString(),
        error: err ? redact(err.message) : null,
        by: whoRuns(ctx.env),
        via: ctx.env.RAXX_OPS_RUN_VIA ?? 'cli',
      },
      ctx.signal,
    );
  } catch (e) {
    ctx.checkInterrupted();
    ctx.out.warn(`${source.name} ${day}: the run could not be recorded in s3://${source.bucket}/shipping-history/ (${(e as Error).message})`);
  }
}
