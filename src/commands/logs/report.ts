// `raxx-ops logs report`: the log-shipping runbook's `monitor` — its human-readable report of
// the last days per source and drain app, missing dates, last runs, storage and cost.
import { z } from 'zod';
import { CheckFailedError } from '../../lib/core/errors.js';
import { createCommand, option } from '../define.js';

export default createCommand({
  description: 'the shipping report: the last 7 (or 30) days per shipped source and drain app, missing dates, last run, storage and monthly cost; exit 1 when critical',
  notes: `Health by the runbook's table: critical when a required source misses a day; warning when an
optional source or a drain app misses one, or a source's last run failed; else healthy. Days are
the complete UTC days before today. Storage counts current versions under each source's prefix
and in each bucket (at most 20,000 objects listed each; more is marked "at least"), priced at
us-east-1 list prices per storage class. The same report is served by logs dashboard.`,
  examples: [
    ['raxx-ops logs report', 'the last 7 days, as text'],
    ['raxx-ops logs report --days 30 --json', 'a month, as one JSON document'],
  ],
  options: {
    days: option(z.coerce.number().int('must be a whole number').refine((n) => n === 7 || n === 30, 'must be 7 or 30').default(7), 'days per source and app', { value: '<7|30>' }),
  },
  async handler(args, ctx) {
    const { buildReport, renderReport } = await import('../../lib/shipping/report.js');
    const { bucketError } = await import('../../lib/shipping/upload.js');
    const progress = await ctx.out.progress('report: listing sources, apps and buckets');
    let report;
    try {
      report = await buildReport({ s3: await ctx.aws.s3(), config: ctx.config, now: ctx.now().getTime(), days: args.days, signal: ctx.signal, endpoint: ctx.aws.endpointOf('S3') });
    } catch (err) {
      ctx.checkInterrupted();
      const bucket = (err as { bucket?: string }).bucket ?? ctx.config.drain.bucket;
      throw err instanceof Error && 'exitCode' in err ? err : bucketError(err, bucket, 'ListObjectsV2', ctx.aws.endpointOf('S3'));
    } finally {
      progress.stop();
    }
    if (ctx.out.json) ctx.out.data(report);
    else ctx.out.raw(renderReport(report));
    if (report.health === 'critical') throw new CheckFailedError(`critical: ${report.reasons.filter((r) => r.includes('(required)')).join('; ')}`, { hint: 'ship the missing days of the required source: raxx-ops logs ship <source> --date <day> (docs/shipping.md)' });
  },
});
