// `raxx-ops attachments restore`: the runbook's `aws s3api list-object-versions` + `delete-object
// --version-id <delete marker>` by hand. A "deleted" attachment in the versioned bucket is a
// delete marker on top of its data; removing the markers above the newest data version makes it
// read again. Only delete markers are ever deleted; `--version-id` copies an older data version
// on top instead, so nothing of the history is lost either way.
import { z } from 'zod';
import {
  attachmentKeyParts,
  attachmentPrefix,
  bucketKmsKey,
  caseHint,
  byKey,
  copyVersionToCurrent,
  currentVersion,
  describeKey,
  listVersions,
  markersAbove,
  parseAttachmentKey,
  restoreState,
  type KeyVersions,
} from '../../lib/attachments/attachments.js';
import { restoreDeleted } from '../../lib/attachments/restore.js';
import { asUserError, CheckFailedError, combinedFailure, InterruptedError, ServiceError, UsageError, type UserError } from '../../lib/core/errors.js';
import { createCommand, option } from '../define.js';
import { printScope, scopeOf } from '../../lib/run/scope.js';
import * as opt from '../options.js';
import { plural } from '../../lib/core/output.js';
import { customer, file, optionalKeyArg, pageSize, ticket } from './shared.js';

/** The S3 client's socket pool (aws.ts): more requests at once would only queue for a socket. */
const MAX_CONCURRENCY = 64;

type Status = 'restored' | 'already present' | 'no data version' | 'planned' | 'failed';

interface KeyReport {
  key: string;
  status: Status;
  /** What the plan does to this key. */
  action: 'remove delete markers' | 'copy version to current' | 'none';
  /** Delete markers above the newest data version (planned), or removed (applied). */
  deleteMarkers: string[];
  /** The data version that reads (after the change, when one was made). */
  current: string | undefined;
  error?: string;
}

export default createCommand({
  description: 'make deleted attachments read again: removes the delete markers above each key’s newest data version (never a data version); --version-id makes an older version current',
  notes: `Select one KEY (<customer_uuid>/<ticket_uuid>/<file_uuid>.<ext>) or a prefix with --customer
[--ticket [--file]]. Per key: restored, already present, or no data version (nothing left to
bring back). Exit 1 when a single KEY has no data version.`,
  examples: [
    ['raxx-ops attachments restore C/T/F.pdf --dry-run', 'what restoring one file would remove'],
    ['raxx-ops attachments restore --customer C --ticket T --yes', 'every deleted file of a ticket'],
    ['raxx-ops attachments restore C/T/F.pdf --version-id V', 'make an older version the current one'],
  ],
  positionals: { key: optionalKeyArg('the attachment key (or use --customer)') },
  options: {
    customer,
    ticket,
    file,
    versionId: option(z.string().min(1).optional(), 'make this older data version of KEY current (copied under the bucket’s KMS key)', { value: '<id>' }),
    concurrency: option(z.coerce.number().int('must be a whole number').min(1, 'must be at least 1').max(MAX_CONCURRENCY, `at most ${MAX_CONCURRENCY} (the S3 client's socket pool)`).default(32), `DeleteObjects requests in flight at once (1-${MAX_CONCURRENCY})`, { value: '<n>' }),
    dryRun: opt.dryRun,
    pageSize,
  },
  async handler(args, ctx) {
    const { out } = ctx;
    const c = out.color;
    const scope = scopeOf(ctx, ['attachments.bucket']);
    const bucket = ctx.config.attachments.bucket;
    if (args.key && args.customer) throw new UsageError('give either KEY or --customer, not both', { hint: 'KEY names one file; --customer [--ticket [--file]] a prefix' });
    if (!args.key && !args.customer) {
      if (args.ticket || args.file) throw new UsageError('--ticket needs --customer', { hint: 'a ticket is named by --customer C --ticket T' });
      throw new UsageError('nothing selected: give KEY or --customer', { hint: 'raxx-ops attachments restore <customer>/<ticket>/<file>.<ext>, or --customer C [--ticket T [--file F]]' });
    }
    if (args.versionId && !args.key) throw new UsageError('--version-id needs a single KEY', { hint: 'a version id belongs to one object: raxx-ops attachments restore KEY --version-id V' });
    const key = args.key ? parseAttachmentKey(args.key).key : undefined;
    if (!key && args.file && !args.ticket) throw new UsageError('--file needs --ticket', { hint: 'a file is named by --customer C --ticket T --file F' });
    const prefix = key ?? attachmentPrefix({ customer: args.customer!, ticket: args.ticket, file: args.file?.includes('.') ? undefined : args.file });
    // A file given with its extension is one exact key.
    const exact = key ?? (args.file?.includes('.') ? `${args.customer}/${args.ticket}/${args.file}` : undefined);

    const listed = await listVersions(ctx, bucket, exact ?? prefix, args.pageSize);
    const inScope = listed.filter((e) => (exact ? e.key === exact : attachmentKeyParts(e.key) !== undefined));
    const outside = new Set(listed.filter((e) => !exact && !attachmentKeyParts(e.key)).map((e) => e.key));
    if (outside.size > 0) out.warn(`${plural(outside.size, 'key')} under ${prefix} do not follow <customer>/<ticket>/<file>.<ext>; left alone`);
    const keys = byKey(inScope);
    const keyed = new Map(keys.map((k) => [k.key, k]));
    if (keys.length === 0) {
      throw new UsageError(`no object and no versions under s3://${bucket}/${exact ?? prefix}`, { hint: `check the ids (and --env); the key may never have existed in this bucket${caseHint(exact ?? prefix)}` });
    }

    const reports: KeyReport[] = keys.map((k) => plan(k, args.versionId));
    const todo = reports.filter((r) => r.action !== 'none');
    if (!out.json) {
      printScope(ctx, scope);
      out.line(`s3://${bucket}/${exact ?? prefix}: ${plural(keys.length, 'key')}, ${plural(inScope.length, 'version')} (delete markers included)`);
      out.line(args.dryRun ? 'plan (dry run, nothing will change):' : 'plan:');
      for (const r of reports) out.line(`  ${r.key}  ${describePlan(r, c)}`);
    }
    if (!args.dryRun && todo.length > 0) {
      const markers = todo.reduce((n, r) => n + r.deleteMarkers.length, 0);
      await ctx.confirm(args.versionId ? `make version ${args.versionId} of ${key} current?` : `remove ${plural(markers, 'delete marker')} to restore ${plural(todo.length, 'attachment')} in ${bucket}?`);
      const failures: { subject: string; error: UserError }[] = [];
      if (args.versionId) {
        const kmsKey = (await bucketKmsKey(ctx, bucket)) ?? (await describeKey(ctx, ctx.config.attachments.kmsAlias)).arn;
        for (const r of todo) {
          try {
            await makeCurrent(r, args.versionId, kmsKey);
          } catch (err) {
            const error = asUserError(err);
            if (error instanceof InterruptedError) throw error;
            Object.assign(r, { status: 'failed', error: error.message });
            failures.push({ subject: r.key, error });
          }
        }
      } else {
        // The markers go in DeleteObjects requests, --concurrency at a time; one listing then
        // says what reads now (src/lib/attachments/restore.ts). Reported in the plan's order.
        const progress = await out.progress(`restoring 0 of ${todo.length}`);
        let answered = 0;
        try {
          const outcomes = await restoreDeleted(ctx, bucket, todo.map((r) => keyed.get(r.key)!), {
            concurrency: args.concurrency,
            scope: { prefix: exact ?? prefix, entries: inScope.length },
            pageSize: args.pageSize,
            progress: (n, phase) => {
              answered = n;
              progress.update(phase === 'removing' ? `restoring ${n} of ${todo.length}` : `checking what reads now (${plural(todo.length, 'key')})`);
            },
          });
          for (const [i, o] of outcomes.entries()) {
            const r = todo[i]!;
            Object.assign(r, { deleteMarkers: o.removed, current: o.current }, o.restored ? { status: 'restored' } : { status: 'failed', error: o.error!.message });
            if (!o.restored) failures.push({ subject: r.key, error: o.error! });
          }
        } catch (err) {
          if (!ctx.signal.aborted) throw err;
          out.warn(`interrupted: ${plural(answered, 'key')} of ${todo.length} restored as S3 answered (not re-read); run the same command again to restore the rest (restored keys read as present)`);
          ctx.checkInterrupted();
          throw err;
        } finally {
          progress.stop();
        }
      }
      report();
      if (failures.length > 0) {
        throw combinedFailure(`restore failed for ${plural(failures.length, 'key')} of ${todo.length}`, failures, todo.length, { hint: 'the others are restored; run the same command again (restored keys are already present)' });
      }
    } else report();

    if (key && reports[0]?.status === 'no data version') {
      throw new CheckFailedError(`${key} has no data version left: only delete markers`, { hint: 'nothing can bring it back from this bucket (a lifecycle rule may have expired its versions)' });
    }

    function report() {
      const count = (s: Status) => reports.filter((r) => r.status === s).length;
      if (out.json) {
        out.data({
          scope,
          bucket,
          ...(exact ? { key: exact } : { prefix }),
          ...(args.versionId ? { versionId: args.versionId } : {}),
          dryRun: Boolean(args.dryRun),
          summary: { restored: count('restored'), alreadyPresent: count('already present'), noDataVersion: count('no data version'), planned: count('planned'), failed: count('failed') },
          keys: reports,
        });
        return;
      }
      if (args.dryRun || todo.length === 0) {
        out.line(todo.length === 0 ? c.ok('nothing to restore') : `${plural(todo.length, 'key')} would be restored`);
        return;
      }
      out.line('result:');
      for (const r of todo) {
        if (r.status === 'failed') out.line(`  ${r.key}  ${c.bad('failed')}: ${r.error}`);
        else if (args.versionId) out.line(`  ${r.key}  ${c.ok('restored')}: version ${args.versionId} copied to current (${r.current})`);
        else out.line(`  ${r.key}  ${c.ok('restored')}: removed ${plural(r.deleteMarkers.length, 'delete marker')}; version ${r.current} reads again`);
      }
    }

    async function makeCurrent(r: KeyReport, versionId: string, kmsKeyId: string) {
      const source = keys.find((k) => k.key === r.key)!.data.find((d) => d.versionId === versionId)!;
      const created = await copyVersionToCurrent(ctx, bucket, r.key, versionId, kmsKeyId);
      const head = await currentVersion(ctx, bucket, r.key);
      if (head?.versionId !== created || (source.size !== undefined && head.size !== source.size)) {
        throw new ServiceError('S3', `${r.key}: the copy of version ${versionId} is not what reads now`);
      }
      Object.assign(r, { status: 'restored', current: created });
    }
  },
});

function plan(k: KeyVersions, versionId: string | undefined): KeyReport {
  const base = { key: k.key, deleteMarkers: [] as string[], current: k.latest && !k.latest.deleteMarker ? k.latest.versionId : undefined };
  if (versionId) {
    if (k.markers.some((m) => m.versionId === versionId)) throw new UsageError(`${versionId} is a delete marker of ${k.key}, not a data version`, { hint: 'list the versions with --dry-run --json and pick a data version' });
    if (!k.data.some((d) => d.versionId === versionId)) {
      throw new UsageError(`${k.key} has no data version ${versionId}`, { hint: `its data versions: ${k.data.map((d) => d.versionId).join(', ') || 'none'}` });
    }
    if (k.latest?.versionId === versionId) return { ...base, status: 'already present', action: 'none' };
    return { ...base, status: 'planned', action: 'copy version to current' };
  }
  const state = restoreState(k);
  if (state === 'no data version') return { ...base, status: 'no data version', action: 'none' };
  if (state === 'present') return { ...base, status: 'already present', action: 'none' };
  return { ...base, status: 'planned', action: 'remove delete markers', deleteMarkers: markersAbove(k).map((m) => m.versionId), current: k.data[0]!.versionId };
}

function describePlan(r: KeyReport, c: { ok(s: string): string; dim(s: string): string; warn(s: string): string }): string {
  if (r.status === 'already present') return c.dim('already present');
  if (r.status === 'no data version') return c.warn('no data version (only delete markers; nothing to restore)');
  if (r.action === 'copy version to current') return `${c.ok('restore')}: copy the older version to current (current now: ${r.current ?? 'deleted'})`;
  return `${c.ok('restore')}: remove ${plural(r.deleteMarkers.length, 'delete marker')} above version ${r.current}`;
}
