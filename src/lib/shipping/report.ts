// The log-shipping runbook's monitoring in one document: the last days of every shipped source
// and drain app (present or missing, entries, size), missing dates, the newest day, the last run
// and its outcome, storage and its monthly cost per source and bucket, and a health by the
// runbook's table. `logs report`, the dashboard and its Lambda all build it here.
import type { S3Client } from '@aws-sdk/client-s3';
import type { Settings } from '../core/config.js';
import { resolveSource } from '../core/config.js';
import { lastDays, sourcePrefix } from './layout.js';
import { sourceStatus, type SourceDayStatus } from './status.js';
import { formatBytes, monthlyUsd } from '../core/sizes.js';
import { lastRuns, type RunRecord } from './history.js';

export type Health = 'healthy' | 'warning' | 'critical';

/** Listing pages (1,000 keys each) per storage figure: bounded, and marked partial when cut. */
const STORAGE_PAGES = 20;

export interface Storage {
  objects: number;
  bytes: number;
  monthlyUsd: number;
  /** The listing stopped at its page limit: the figures are lower bounds. */
  partial: boolean;
}

export interface ReportRow {
  kind: 'source' | 'app';
  name: string;
  /** Sources: the runbook's "must be present daily". Drain apps are expected every day. */
  required: boolean;
  bucket: string;
  days: SourceDayStatus[];
  missing: string[];
  entries: number;
  bytes: number;
  health: Health;
  /** The newest day present in the window, or null. */
  newestDay: string | null;
  /** Sources only: the last shipping run. */
  lastRun: RunRecord | null;
  /** Sources only: everything under the source's prefix. */
  storage: Storage | null;
}

export interface ShippingReport {
  generatedAt: string;
  days: string[];
  health: Health;
  reasons: string[];
  rows: ReportRow[];
  buckets: ({ bucket: string } & Storage)[];
}

export interface ReportOptions {
  s3: S3Client;
  config: Settings;
  now: number;
  days: number;
  signal: AbortSignal;
  endpoint: string;
}

export async function buildReport(opts: ReportOptions): Promise<ShippingReport> {
  const { s3, config, signal, endpoint } = opts;
  const days = lastDays(opts.now, opts.days);
  const keyPrefix = config.drain.keyPrefix;
  const sources = config.logSources.map((s) => resolveSource(config, s.name));
  const sourceRows = Promise.all(
    sources.map(async (source): Promise<ReportRow> => {
      const [status, runs, storage] = await Promise.all([
        sourceStatus(s3, { source, keyPrefix, days, signal, endpoint }),
        lastRuns(s3, source.bucket, source.name, 1, signal),
        storageOf(s3, source.bucket, sourcePrefix(source.layout, keyPrefix, source.name), signal),
      ]);
      return { kind: 'source', name: source.name, required: source.required, bucket: source.bucket, days: status.days, missing: status.missing, entries: status.entries, bytes: status.bytes, health: status.health, newestDay: newest(status.days), lastRun: runs.runs[0] ?? null, storage };
    }),
  );
  // A drain app is listed as the receiver lays it out; entries are not counted (no GETs).
  const appRows = Promise.all(
    config.apps.map(async (app): Promise<ReportRow> => {
      const status = await sourceStatus(s3, { source: { name: app, required: true, bucket: config.drain.bucket, layout: 'receiver' }, keyPrefix, days, signal, endpoint });
      return { kind: 'app', name: app, required: true, bucket: config.drain.bucket, days: status.days, missing: status.missing, entries: status.entries, bytes: status.bytes, health: status.missing.length ? 'warning' : 'healthy', newestDay: newest(status.days), lastRun: null, storage: null };
    }),
  );
  const bucketNames = [...new Set([config.drain.bucket, ...sources.map((s) => s.bucket)])];
  const buckets = Promise.all(bucketNames.map(async (bucket) => ({ bucket, ...(await storageOf(s3, bucket, '', signal)) })));
  const rows = [...(await sourceRows), ...(await appRows)];

  // The runbook's table: critical when a required log is missing, warning when an optional one is.
  const reasons: string[] = [];
  for (const r of rows) {
    if (r.missing.length) reasons.push(`${r.kind} ${r.name}${r.required && r.kind === 'source' ? ' (required)' : ''} missing ${r.missing.join(', ')}`);
    if (r.lastRun?.outcome === 'failed') reasons.push(`${r.name}: the last run (${r.lastRun.day}) failed: ${r.lastRun.error ?? 'no message'}`);
  }
  let health: Health = 'healthy';
  if (rows.some((r) => r.health === 'critical')) health = 'critical';
  else if (rows.some((r) => r.health === 'warning' || r.lastRun?.outcome === 'failed')) health = 'warning';
  return { generatedAt: new Date(opts.now).toISOString(), days, health, reasons, rows, buckets: await buckets };
}

function newest(days: SourceDayStatus[]): string | null {
  return [...days].reverse().find((d) => !d.missing)?.day ?? null;
}

async function storageOf(s3: S3Client, bucket: string, prefix: string, signal: AbortSignal): Promise<Storage> {
  const { paginateListObjectsV2 } = await import('@aws-sdk/client-s3');
  const byClass: Record<string, number> = {};
  let objects = 0;
  let bytes = 0;
  let pages = 0;
  for await (const page of paginateListObjectsV2({ client: s3 }, { Bucket: bucket, Prefix: prefix }, { abortSignal: signal })) {
    for (const o of page.Contents ?? []) {
      objects += 1;
      bytes += o.Size ?? 0;
      const cls = o.StorageClass ?? 'STANDARD';
      byClass[cls] = (byClass[cls] ?? 0) + (o.Size ?? 0);
    }
    if (++pages === STORAGE_PAGES && page.IsTruncated) return { objects, bytes, monthlyUsd: monthlyUsd(byClass), partial: true };
  }
  return { objects, bytes, monthlyUsd: monthlyUsd(byClass), partial: false };
}

export const usd = (n: number) => `$${n < 0.01 && n > 0 ? n.toFixed(4) : n.toFixed(2)}`;

/** The report as people read it (the runbook's "human-readable report"). */
export function renderReport(r: ShippingReport): string {
  const out: string[] = [];
  out.push(`Log shipping report — ${r.generatedAt}`);
  out.push(`Health: ${r.health.toUpperCase()}`);
  for (const reason of r.reasons) out.push(`  - ${reason}`);
  out.push(`Days: ${r.days[0] ?? ''} .. ${r.days[r.days.length - 1] ?? ''} (UTC)`);
  for (const row of r.rows) {
    out.push('');
    out.push(`${row.kind === 'source' ? 'Source' : 'Drain app'} ${row.name}${row.kind === 'source' ? (row.required ? ' (required)' : ' (optional)') : ''} — s3://${row.bucket} — ${row.health}`);
    for (const d of row.days) {
      out.push(`  ${d.day}  ${d.missing ? 'MISSING' : 'present'}  ${d.entries === null ? (d.missing ? '' : `${d.objects} object(s)`) : `${d.entries} entries`}${d.missing ? '' : `  ${formatBytes(d.bytes)}`}`.trimEnd());
    }
    out.push(`  missing dates: ${row.missing.length ? row.missing.join(', ') : 'none'}`);
    out.push(`  newest day: ${row.newestDay ?? 'none in the window'}`);
    if (row.kind === 'source') {
      const l = row.lastRun;
      out.push(`  last run: ${l ? `${l.outcome} ${l.day} at ${l.startedAt} by ${l.by} (${l.via})${l.lines !== null ? `, ${l.lines} lines` : ''}${l.error ? `: ${l.error}` : ''}` : 'none recorded'}`);
    }
    if (row.storage) out.push(`  storage: ${row.storage.objects} object(s), ${formatBytes(row.storage.bytes)}${row.storage.partial ? ' at least' : ''}, ~${usd(row.storage.monthlyUsd)}/month`);
  }
  out.push('');
  out.push('Storage by bucket (current versions):');
  for (const b of r.buckets) out.push(`  s3://${b.bucket}: ${b.objects} object(s), ${formatBytes(b.bytes)}${b.partial ? ` at least (first ${STORAGE_PAGES * 1000} listed)` : ''}, ~${usd(b.monthlyUsd)}/month`);
  return out.join('\n') + '\n';
}
