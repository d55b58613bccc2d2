// `raxx-ops logs athena-setup`: the Glue database and table Athena needs over compacted/,
// with partition projection on app and day, so no crawler and no repair step is ever run.
import { z } from 'zod';
import { tryParseDay, utcDate } from '@raxx/log-format/object-key';
import { UsageError } from '../../lib/core/errors.js';
import { createCommand, option } from '../define.js';
import * as opt from '../options.js';

export default createCommand({
  description: 'create (or update) the Glue database and table over compacted/ that `logs query --engine athena` uses',
  notes: `The table is query.database / query.table (default raxx_logs.logs), partitioned by app and day
with partition projection: new days need no crawler and no MSCK REPAIR. Results go to
query.outputLocation (default s3://<drain bucket>/athena-results/) in query.workgroup.`,
  examples: [
    ['raxx-ops logs athena-setup --dry-run', 'the table definition, without creating it'],
    ['raxx-ops logs athena-setup --yes', 'create or update the database and table'],
  ],
  options: {
    // A real calendar day: Athena would take 2025-02-30 into the table and fail every query later.
    firstDay: option(z.string().refine((d) => tryParseDay(d) !== undefined, { error: (i) => `"${String(i.input)}" is not a date (YYYY-MM-DD, UTC)` }).default('2024-01-01'), 'the first day partition projection covers', { value: '<YYYY-MM-DD>' }),
    dryRun: opt.dryRun,
  },
  async handler(args, ctx) {
    const { out } = ctx;
    const today = utcDate(ctx.now().getTime());
    if (args.firstDay > today) throw new UsageError(`--first-day ${args.firstDay} is after today (${today})`, { hint: 'projection covers first-day → today: name the first day compacted/ holds, e.g. --first-day 2024-01-01' });
    const { setupAthena, tableInput, outputLocation } = await import('../../lib/logs/query/athena.js');
    const input = tableInput(ctx, args.firstDay);
    const { database } = ctx.config.query;
    if (args.dryRun) {
      if (out.json) out.data({ dryRun: true, database, table: input, outputLocation: outputLocation(ctx) });
      else {
        out.line(`would create database ${database} and table ${database}.${input.Name} over ${input.StorageDescriptor.Location}`);
        out.line(`  partitions: app (${ctx.config.apps.join(', ')}), day (${args.firstDay} → today), by projection`);
        out.line(`  columns: ${input.StorageDescriptor.Columns.map((c) => `${c.Name} ${c.Type}`).join(', ')}`);
        out.line(`  results: ${outputLocation(ctx)} (workgroup ${ctx.config.query.workgroup})`);
      }
      return;
    }
    await ctx.confirm(`create or update the Glue table ${database}.${input.Name} over ${input.StorageDescriptor.Location}?`);
    const r = await setupAthena(ctx, args.firstDay);
    if (out.json) out.data({ dryRun: false, database, table: input.Name, created: r });
    else out.line(`database ${database}: ${r.database}; table ${database}.${input.Name}: ${r.table} (partition projection on app and day)`);
  },
});
