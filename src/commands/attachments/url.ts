// `raxx-ops attachments url KEY`: the backend's support download — a short-lived pre-signed GET
// and an audit line. The URL is the one thing this command prints on purpose: it goes to stdout
// unredacted (Output.requested); the AUDIT line on stderr never carries it, and every other
// line of the run still goes through the redactor.
import { auditLine, caseHint, currentVersion, parseAttachmentKey, presignGet } from '../../lib/attachments/attachments.js';
import { ServiceError, UsageError } from '../../lib/core/errors.js';
import { writeDrainBatch } from '../../lib/shipping/drain-writes.js';
import { apiApp } from '../audit/shared.js';
import { createCommand, option } from '../define.js';
import * as opt from '../options.js';
import { keyArg } from './shared.js';

export default createCommand({
  description: 'a pre-signed GET of one attachment for a support operator (5 minutes by default, at most 1 hour), with an AUDIT line (never the URL) on stderr and in the API app\'s drain objects',
  notes: `The URL is a credential: anyone holding it can download the file until it expires.
It is printed on stdout only, and is the one output raxx-ops does not redact. The AUDIT line
is the app's own shape and is stored as a drain batch of the API app before the URL is made,
so \`raxx-ops logs grep support.attachment.accessed --app <api app>\` finds it beside the app's.`,
  examples: [
    ['raxx-ops attachments url C/T/F.pdf', 'a 5-minute download URL'],
    ['raxx-ops attachments url C/T/F.pdf --ttl 15m --json', 'URL and expiry as JSON'],
  ],
  positionals: { key: keyArg('the attachment key: <customer_uuid>/<ticket_uuid>/<file_uuid>.<ext>') },
  options: {
    ttl: option(opt.duration('s', { minMs: 1_000, maxMs: 3_600_000, whole: true, maxWhy: 'support download URLs live 5 minutes' }).default(300), 'how long the URL works: 300, 90s, 5m, 1h (at most 1h)', { value: '<duration>', defaultText: '5m' }),
  },
  async handler(args, ctx) {
    const { out } = ctx;
    const parts = parseAttachmentKey(args.key);
    const ttl = args.ttl;
    const bucket = ctx.config.attachments.bucket;
    // A URL to nothing only wastes the operator's time (and an audit line).
    const head = await currentVersion(ctx, bucket, parts.key);
    if (!head) {
      throw new UsageError(`no attachment ${parts.key} in ${bucket} (missing or deleted)`, { hint: `if it was deleted: raxx-ops attachments restore ${parts.key}${caseHint(parts.key)}` });
    }
    const issued = ctx.now();
    const expires = new Date(issued.getTime() + ttl * 1000);
    // The app's own line (event, customer_uuid, ticket_uuid first), so one search finds both.
    const line = auditLine({
      event: 'support.attachment.accessed',
      customer_uuid: parts.customer,
      ticket_uuid: parts.ticket,
      operator: ctx.env.USER ?? ctx.env.LOGNAME ?? 'unknown',
      file_uuid: parts.file,
      version_id: head.versionId,
      via: 'raxx-ops attachments url',
      ttl_seconds: ttl,
      expires_at: expires.toISOString(),
    });
    // Kept where the app's audit lines end up (its drain prefix) before the URL exists: an
    // access nobody can find later is not handed out.
    const app = apiApp(ctx, undefined);
    const stored = await writeDrainBatch(ctx, { app, at: issued, procid: 'raxx-ops', lines: [line] }).catch((err: unknown) => {
      if (!(err instanceof ServiceError)) throw err;
      throw new ServiceError('S3', `could not keep the AUDIT line in s3://${ctx.config.drain.bucket} (${err.message}); no URL was made`, { hint: err.hint ?? 'check access to the drain bucket, then run it again' });
    });
    out.info(line);
    out.debug(`AUDIT line kept in s3://${ctx.config.drain.bucket}/${stored}`);
    const url = await presignGet(ctx, bucket, parts.key, ttl);
    if (out.json) out.requested(JSON.stringify({ key: parts.key, versionId: head.versionId, url, ttlSeconds: ttl, expiresAt: expires.toISOString() }, null, 2));
    else out.requested(url);
  },
});
