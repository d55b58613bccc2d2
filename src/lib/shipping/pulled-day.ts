// One Supabase day shipped without a terminal: the dashboard's POST /api/logs/ship and the
// scheduled function. The same steps as `logs ship <source> --date D` for a pulled source —
// skip a shipped day, pull, validate, redact, gzip, upload, verify — and its run recorded.
import type { S3Client } from '@aws-sdk/client-s3';
import { Readable } from 'node:stream';
import type { Settings } from '../core/config.js';
import { resolveSource } from '../core/config.js';
import { UsageError } from '../core/errors.js';
import { redactionRules } from '../core/redaction.js';
import { shippedKey } from './layout.js';
import { prepare } from './prepare.js';
import { headShipped, uploadVerified } from './upload.js';
import { writeIntoDrainDays } from './drain-writes.js';
import { redact } from '../core/secrets.js';
import { recordRun, whoRuns, type RunRecord } from './history.js';
import { dayLines, supabaseAccess } from './supabase.js';

export interface PulledDayOptions {
  s3: S3Client;
  config: Settings;
  env: NodeJS.ProcessEnv;
  source: string;
  day: string;
  now: number;
  signal: AbortSignal;
  endpoint: string;
  /** `dashboard` or `schedule`. */
  via: string;
  retryBaseMs?: number;
  onWarn?: (text: string) => void;
}

/** The source and day a request names, checked: a declared Supabase source, a day that has ended. */
export function checkPulledDay(config: Settings, source: string, day: string, now: number): ReturnType<typeof resolveSource> {
  const declared = config.logSources.find((s) => s.name === source);
  if (!declared) throw new UsageError(`unknown source "${source}"`, { hint: `declared sources: ${config.logSources.map((s) => s.name).join(', ') || 'none'}` });
  if (!declared.supabase) throw new UsageError(`source "${source}" is not pulled from Supabase`, { hint: 'ship its files with raxx-ops logs ship' });
  if (!/^\d{4}-\d{2}-\d{2}$/.test(day) || new Date(`${day}T00:00:00Z`).toISOString().slice(0, 10) !== day) throw new UsageError(`"${day}" is not a date (YYYY-MM-DD, UTC)`, { hint: 'e.g. yesterday: ' + new Date(now - 86_400_000).toISOString().slice(0, 10) });
  const today = new Date(now).toISOString().slice(0, 10);
  if (day >= today) throw new UsageError(`${day} has not ended (today is ${today} UTC): its logs are not complete`, { hint: 'ship a day that has ended' });
  return resolveSource(config, source);
}

/** Ships the day and records the run; a failure is recorded too, then thrown. */
export async function shipPulledDay(opts: PulledDayOptions): Promise<RunRecord> {
  // Times from the caller's clock (the run's day is judged by it too); the duration from a monotonic one.
  const started = new Date(opts.now);
  const t0 = performance.now();
  const source = checkPulledDay(opts.config, opts.source, opts.day, opts.now);
  const record = (outcome: RunRecord['outcome'], fields: Partial<RunRecord> = {}): RunRecord => {
    const durationMs = Math.round(performance.now() - t0);
    return { source: source.name, day: opts.day, outcome, lines: null, bytes: null, sha256: null, attempts: 0, durationMs, startedAt: started.toISOString(), finishedAt: new Date(started.getTime() + durationMs).toISOString(), error: null, by: whoRuns(opts.env), via: opts.via, ...fields };
  };
  let run: RunRecord;
  try {
    run = await shipOnce(opts, source, record);
  } catch (err) {
    const failed = record('failed', { error: redact((err as Error).message) });
    await recordRun(opts.s3, source.bucket, failed).catch((e: Error) => opts.onWarn?.(`the failed run could not be recorded: ${e.message}`));
    throw err;
  }
  try {
    await recordRun(opts.s3, source.bucket, run, opts.signal);
  } catch (e) {
    opts.onWarn?.(`${source.name} ${opts.day}: the run could not be recorded (${(e as Error).message})`);
  }
  return run;
}

async function shipOnce(opts: PulledDayOptions, source: ReturnType<typeof resolveSource>, record: (o: RunRecord['outcome'], f?: Partial<RunRecord>) => RunRecord): Promise<RunRecord> {
  const key = shippedKey(source.layout, opts.config.drain.keyPrefix, source.name, opts.day);
  const existing = await headShipped(opts.s3, source.bucket, key, opts.signal, opts.endpoint);
  if (existing) return record('skipped', { bytes: existing.size, sha256: existing.sha256 ?? null });
  const access = supabaseAccess(opts.config.supabase.projectRef, opts.env);
  const name = source.supabase!.source;
  const prepared = await prepare(
    [{ name: `supabase ${name} ${opts.day}`, open: () => Readable.from(dayLines({ access, source: name, day: opts.day, pageRows: opts.config.supabase.pageRows, signal: opts.signal, retryBaseMs: opts.retryBaseMs ?? 1000, onWait: (ms, why) => opts.onWarn?.(`supabase ${name} ${opts.day}: ${why}; waiting ${ms} ms`) })) }],
    { rules: redactionRules(source), format: 'json', signal: opts.signal },
  );
  try {
    if (prepared.lines === 0) return record('empty', { lines: 0 });
    // In the receiver's layout the day may be closed and compacted: marked stale around the write.
    const marks = { s3: opts.s3, keyPrefix: opts.config.drain.keyPrefix, compactedRoot: opts.config.query.compactedPrefix, signal: opts.signal, endpoint: opts.endpoint, warn: (m: string) => opts.onWarn?.(m) };
    const up = await writeIntoDrainDays(marks, { bucket: source.bucket, keys: [key] }, (signal) => uploadVerified(opts.s3, { bucket: source.bucket, key, prepared, signal, endpoint: opts.endpoint, existing: undefined, retryBaseMs: opts.retryBaseMs ?? 1000, onRetry: (attempt, error, delay) => opts.onWarn?.(`${source.name} ${opts.day}: attempt ${attempt} failed (${error.message}); retrying in ${delay} ms`) }));
    return record('shipped', { lines: prepared.lines, bytes: prepared.bytesOut, sha256: prepared.sha256, attempts: up.attempts });
  } finally {
    await prepared.dispose();
  }
}

