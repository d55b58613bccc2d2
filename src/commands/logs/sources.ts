// `raxx-ops logs sources setup|test [SOURCE]`: the log-shipping runbook's `setup` (the
// bucket's 7-year lifecycle, the permissions the job needs) and `test` (each source's bucket
// reachable and writable, without writing anything).
import { z } from 'zod';
import { resolveSource, sourceName } from '../../lib/core/config.js';
import type { Context } from '../../lib/run/context.js';
import { CheckFailedError, UsageError } from '../../lib/core/errors.js';
import { padCell } from '../../lib/core/table.js';
import type { PermissionCheck } from '../../lib/shipping/bucket-setup.js';
import { createCommand, positional } from '../define.js';
import { dryRun } from '../options.js';

type Source = ReturnType<typeof resolveSource>;

interface SourceReport {
  source: string;
  bucket: string;
  prefix: string;
  reachable: boolean;
  problem: string | null;
  permissions: PermissionCheck[];
  lifecycle?: { rule: string; retentionDays: number; action: 'unchanged' | 'add' | 'update'; applied: boolean; shorterRules: { id: string; prefix: string; days: number }[] };
}

export default createCommand({
  description: "set up (lifecycle, permissions) or test (reachable, writable) the buckets of the shipped log sources",
  notes: `setup: adds or updates one lifecycle rule per source on its bucket — its prefix expires after
the source's retentionDays (default 2,555 days: 7 years), replaced versions as long, unfinished
multipart uploads after 7 days — keeping the bucket's other rules; then checks the permissions.
test: the bucket answers, and the four permissions shipping needs (s3:ListBucket, s3:GetObject,
s3:PutObject, s3:AbortMultipartUpload) are granted, each tried with a request that writes nothing.
Exit 1 when a bucket or permission fails. With no SOURCE: every source in the configuration.`,
  examples: [
    ['raxx-ops logs sources setup --dry-run', 'the lifecycle rules setup would write'],
    ['raxx-ops logs sources setup auth --yes', "auth's bucket: 7-year lifecycle, permissions checked"],
    ['raxx-ops logs sources test', 'every source: bucket reachable and writable'],
  ],
  positionals: {
    action: positional(z.enum(['setup', 'test'], { error: 'must be setup or test' }), 'setup or test'),
    source: positional(sourceName.optional(), 'one source (default: every declared source)', { optional: true }),
  },
  options: { dryRun },
  async handler(args, ctx) {
    const { out } = ctx;
    const sources = args.source ? [resolveSource(ctx.config, args.source)] : ctx.config.logSources.map((s) => resolveSource(ctx.config, s.name));
    if (sources.length === 0) {
      throw new UsageError('no log sources are declared in the configuration', {
        hint: 'name a source (raxx-ops logs sources test auth), or declare them under "logSources" in the config file (docs/shipping.md)',
      });
    }
    const { bucketReachable, checkPermissions } = await import('../../lib/shipping/bucket-setup.js');
    const { sourcePrefix } = await import('../../lib/shipping/layout.js');
    const s3 = await ctx.aws.s3();
    const endpoint = ctx.aws.endpointOf('S3');
    const reports: SourceReport[] = [];
    for (const source of sources) {
      const prefix = sourcePrefix(source.layout, ctx.config.drain.keyPrefix, source.name);
      const problem = (await bucketReachable(s3, source.bucket, ctx.signal, endpoint)) ?? null;
      const permissions = problem ? [] : await checkPermissions(s3, source.bucket, prefix, ctx.signal);
      reports.push({ source: source.name, bucket: source.bucket, prefix, reachable: !problem, problem, permissions });
    }

    if (args.action === 'setup') await setup(ctx, sources, reports, args.dryRun);

    if (out.json) out.data({ action: args.action, dryRun: args.dryRun, sources: reports });
    else print(ctx, reports);

    const failed = reports.filter((r) => !r.reachable || r.permissions.some((p) => !p.ok));
    if (failed.length > 0) {
      throw new CheckFailedError(`${failed.map((r) => r.source).join(', ')}: ${failed.map((r) => r.problem ?? r.permissions.filter((p) => !p.ok).map((p) => p.permission).join(', ')).join('; ')}`, {
        hint: 'create the bucket or grant the listed permissions to the identity the shipping job runs as (docs/shipping.md, "Permissions")',
      });
    }
    const cut = reports.filter((r) => (r.lifecycle?.shorterRules.length ?? 0) > 0);
    if (cut.length > 0) {
      const why = (r: SourceReport) =>
        r.lifecycle!.shorterRules.map((x) => `rule ${x.id} expires ${x.prefix || 'the whole bucket'} after ${x.days} days, so ${r.source} would be kept ${x.days} days, not ${r.lifecycle!.retentionDays}`).join('; ');
      throw new CheckFailedError(cut.map((r) => `${r.source}: ${why(r)}`).join('; '), {
        hint: 'S3 applies the earliest expiration of all matching rules: give the source its own bucket, or the "dated" layout outside that prefix (docs/shipping.md, "Lifecycle")',
      });
    }
  },
});

async function setup(ctx: Context, sources: Source[], reports: SourceReport[], dry: boolean): Promise<void> {
  const { out } = ctx;
  const { getLifecycle, lifecycleRule, putLifecycle, sameRule, shorterRules } = await import('../../lib/shipping/bucket-setup.js');
  const s3 = await ctx.aws.s3();
  const endpoint = ctx.aws.endpointOf('S3');
  // One lifecycle configuration per bucket: every source of a bucket in one write.
  const buckets = new Map<string, Source[]>();
  for (const s of sources) if (reports.find((r) => r.source === s.name)?.reachable) buckets.set(s.bucket, [...(buckets.get(s.bucket) ?? []), s]);
  for (const [bucket, list] of buckets) {
    const current = await getLifecycle(s3, bucket, ctx.signal, endpoint);
    const next = [...current];
    const changes: string[] = [];
    for (const source of list) {
      const rule = lifecycleRule(source, ctx.config.drain.keyPrefix);
      const i = next.findIndex((r) => r.ID === rule.ID);
      const action = i === -1 ? 'add' : sameRule(next[i], rule) ? 'unchanged' : 'update';
      const shorter = shorterRules(current, rule);
      const report = reports.find((r) => r.source === source.name)!;
      report.lifecycle = { rule: rule.ID, retentionDays: source.retentionDays, action, applied: false, shorterRules: shorter };
      if (action === 'unchanged') continue;
      if (i === -1) next.push(rule as unknown as Record<string, unknown>);
      else next[i] = rule as unknown as Record<string, unknown>;
      changes.push(`${action} rule ${rule.ID} on s3://${bucket}: ${rule.Filter.Prefix} expires after ${source.retentionDays} days (replaced versions too), unfinished uploads after 7`);
    }
    if (changes.length === 0) {
      out.info(`s3://${bucket}: lifecycle already in place`);
      continue;
    }
    out.info(`plan:\n${changes.map((c) => `  ${c}`).join('\n')}`);
    if (dry) {
      out.info('dry run: nothing changed');
      continue;
    }
    await ctx.confirm(`write the lifecycle of s3://${bucket} (${current.length} existing rule(s) kept)?`);
    await putLifecycle(s3, bucket, next, ctx.signal, endpoint);
    // Verified by reading it back, as every change is.
    const stored = await getLifecycle(s3, bucket, ctx.signal, endpoint);
    for (const source of list) {
      const rule = lifecycleRule(source, ctx.config.drain.keyPrefix);
      const ok = sameRule(stored.find((r) => r.ID === rule.ID), rule);
      const report = reports.find((r) => r.source === source.name)!;
      if (!ok) throw new CheckFailedError(`s3://${bucket}: lifecycle rule ${rule.ID} did not read back as written`, { hint: 'check the bucket in the S3 console; another writer may have replaced the configuration' });
      report.lifecycle!.applied = report.lifecycle!.action !== 'unchanged';
    }
  }
}

function print(ctx: Context, reports: SourceReport[]): void {
  const { out } = ctx;
  const c = out.color;
  for (const r of reports) {
    out.line(`${c.app(r.source)}  s3://${r.bucket}/${r.prefix}  ${r.reachable ? c.ok('reachable') : c.bad(r.problem ?? 'unreachable')}`);
    for (const p of r.permissions) out.line(`  ${padCell(p.permission, 24)} ${p.ok ? c.ok(p.detail) : c.bad(p.detail)}`);
    if (r.lifecycle) {
      const l = r.lifecycle;
      out.line(`  ${padCell('lifecycle', 24)} ${l.rule}, ${l.retentionDays} days: ${l.action === 'unchanged' ? 'in place' : l.applied ? `${l.action === 'add' ? 'added' : 'updated'}` : `would ${l.action}`}`);
      for (const x of l.shorterRules) out.line(`  ${padCell('', 24)} ${c.bad(`cut short by rule ${x.id}: ${x.prefix || '(whole bucket)'} expires after ${x.days} days`)}`);
    }
  }
}
