// `raxx-ops attachments url KEY`: the backend's support download — a short-lived pre-signed GET
// and an audit line. The URL is the one thing this command prints on purpose: it goes to stdout
// unredacted (Output.requested); the AUDIT line on stderr never carries it, and every other
// line of the run still goes through the redactor.
import { z } from 'zod';
import { auditLine, caseHint, currentVersion, parseAttachmentKey, parseTtl, presignGet } from '../../lib/attachments.js';
import { UsageError } from '../../lib/errors.js';
import { createCommand, option } from '../define.js';
import { keyArg } from './shared.js';

export default createCommand({
  description: 'a pre-signed GET of one attachment for a support operator (5 minutes by default, at most 1 hour), with an AUDIT line on stderr that never contains the URL',
  notes: `The URL is a credential: anyone holding it can download the file until it expires.
It is printed on stdout only, and is the one output raxx-ops does not redact.`,
  examples: [
    ['raxx-ops attachments url C/T/F.pdf', 'a 5-minute download URL'],
    ['raxx-ops attachments url C/T/F.pdf --ttl 15m --json', 'URL and expiry as JSON'],
  ],
  positionals: { key: keyArg('the attachment key: <customer_uuid>/<ticket_uuid>/<file_uuid>.<ext>') },
  options: {
    ttl: option(z.string().default('5m'), 'how long the URL works: 300, 90s, 5m, 1h (at most 1h)', { value: '<duration>' }),
  },
  async handler(args, ctx) {
    const { out } = ctx;
    const parts = parseAttachmentKey(args.key);
    const ttl = parseTtl(args.ttl);
    const bucket = ctx.config.attachments.bucket;
    // A URL to nothing only wastes the operator's time (and an audit line).
    const head = await currentVersion(ctx, bucket, parts.key);
    if (!head) {
      throw new UsageError(`no attachment ${parts.key} in ${bucket} (missing or deleted)`, { hint: `if it was deleted: raxx-ops attachments restore ${parts.key}${caseHint(parts.key)}` });
    }
    const issued = ctx.now();
    const expires = new Date(issued.getTime() + ttl * 1000);
    const url = await presignGet(ctx, bucket, parts.key, ttl);
    out.info(
      auditLine({
        event: 'support.attachment.accessed',
        customer_id: parts.customer,
        ticket_id: parts.ticket,
        file_id: parts.file,
        key: parts.key,
        version_id: head.versionId,
        operator: ctx.env.USER ?? ctx.env.LOGNAME ?? 'unknown',
        via: 'raxx-ops attachments url',
        ttl_seconds: ttl,
        issued_at: issued.toISOString(),
        expires_at: expires.toISOString(),
      }),
    );
    if (out.json) out.requested(JSON.stringify({ key: parts.key, versionId: head.versionId, url, ttlSeconds: ttl, expiresAt: expires.toISOString() }, null, 2));
    else out.requested(url);
  },
});
