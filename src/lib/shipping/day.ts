// One source's day shipped, as the log-shipping runbook's daily job does it: skipped when a
// pulled day is there already, prepared (validated, cut, redacted, gzipped), compared with what
// the bucket holds, uploaded (marked stale first in the receiver's layout) and verified, the
// inputs deleted only after; the Supabase days pulled; every run recorded in the history.
// `logs ship` and the daily Lambda print and notify around it.
import { rm } from 'node:fs/promises';
import { Readable } from 'node:stream';
import type { resolveSource } from '../core/config.js';
import type { Context } from '../run/context.js';
import type { UserError } from '../core/errors.js';
import { ConfigError, ServiceError, UsageError } from '../core/errors.js';
import type { Prepared, ShipInput } from './prepare.js';
import { formatBytes } from '../core/sizes.js';

export interface DayReport {
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

export type Source = ReturnType<typeof resolveSource>;

export async function shipDay(
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

export async function notifyFailure(ctx: Context, source: string, day: string, err: UserError): Promise<void> {
  const { notify, webhookUrl } = await import('../../lib/slack/notify.js');
  const url = webhookUrl(ctx.env);
  if (!url) return;
  const { redact } = await import('../../lib/core/secrets.js');
  await notify(url, redact(`:x: raxx-ops logs ship: ${source} ${day} failed (--env ${ctx.config.env}): ${err.message}${err.hint ? `\nhint: ${err.hint}` : ''}`), ctx.out, undefined, ctx.env);
}

/** A Supabase source's days: --date, --days N, else yesterday (the runbook's `daily`); only days that have ended. */
export async function supabaseDays(
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

export function skippedDay(source: Source, day: string, key: string, existing: { sha256: string | undefined; versionId: string | undefined; size: number }): DayReport {
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
export async function remember(ctx: Context, source: Source, day: string, started: { at: Date; t0: number }, r: DayReport | undefined, err: UserError | undefined): Promise<void> {
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
