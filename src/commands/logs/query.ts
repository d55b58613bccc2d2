// `raxx-ops logs query SQL`: SQL over the window's log records, on the embedded engine
// (DuckDB, reading compacted days and raw objects alike) or on Athena over compacted/.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { utcDate } from '@raxx/log-format/object-key';
import { describeWindow } from '../../lib/core/time-window.js';
import { createCommand, negatedFlag, option, positional } from '../define.js';
import * as opt from '../options.js';
import { resolveApps } from '../apps.js';
import type { QuerySummary } from '../../lib/logs/query/result.js';
import { concurrency, windowOf } from './shared.js';
import { MAX_CONCURRENCY, openStore } from '../../lib/logs/scan.js';

export default createCommand({
  description: "run SQL over the window's log records: the embedded engine (DuckDB), or Athena over compacted/",
  notes: `The SQL sees one table, logs: time (UTC timestamp of the line), app, host (app or heroku),
proc (web.1, router, postgres.123), message, key (the drain object), line (as stored), and for
router lines method, path, status, service_ms, bytes. The window (--since, default 1d, or
--date) and --app narrow logs before the SQL runs, on both engines alike.
The embedded engine reads compacted days with one download each (raxx-ops logs compact) and
raw objects for the rest; it cannot read files or the network from the SQL.
Athena needs \`raxx-ops logs athena-setup\` once; it bills per data scanned (printed).`,
  examples: [
    ["raxx-ops logs query 'SELECT status, count(*) FROM logs GROUP BY 1' --since 7d", 'lines by status, a week'],
    ["raxx-ops logs query \"SELECT date_trunc('hour', time) h, count(*) FROM logs\n      WHERE status >= 500 GROUP BY 1 ORDER BY 1\" --since 30d", '5xx per hour over a month'],
    ["raxx-ops logs query 'SELECT path, count(*) n FROM logs GROUP BY 1 ORDER BY n DESC' --format csv", 'paths by lines, as CSV'],
    ['raxx-ops logs query "SELECT count(*) FROM logs" --since 90d --engine athena', 'on Athena'],
  ],
  positionals: { sql: positional(z.string().trim().min(1, 'SQL is required'), 'the query; the table is logs') },
  options: {
    app: opt.apps,
    since: option(z.string().optional(), 'start of the window: 7d, 2h, a date or an ISO time (default: 1d)', { value: '<time>' }),
    until: option(z.string().optional(), 'end of the window (exclusive)', { value: '<time>' }),
    date: option(z.string().optional(), 'one UTC day instead of --since', { value: '<YYYY-MM-DD>' }),
    engine: option(z.enum(['local', 'athena'], { error: 'must be local or athena' }).default('local'), 'where the SQL runs: local (DuckDB) or athena', { value: '<engine>' }),
    format: option(z.enum(['table', 'csv', 'json'], { error: 'must be table, csv or json' }).default('table'), 'how rows are printed (--json: json)', { value: '<format>' }),
    compacted: negatedFlag('read every raw object, even where a compacted day (logs compact) holds the records'),
    concurrency: option(concurrency.default(64), `raw objects read at once, per app-day (1-${MAX_CONCURRENCY})`, { value: '<n>' }),
  },
  async handler(args, ctx) {
    const { out } = ctx;
    const apps = resolveApps(args.app, ctx);
    const window = windowOf({ date: args.date, since: args.date ? args.since : (args.since ?? '1d'), until: args.until }, ctx);
    const format = out.json ? 'json' : args.format;
    const { rowPrinter } = await import('../../lib/logs/query/result.js');
    const progress = await out.progress(`query: ${apps.join(', ')} ${describeWindow(window)}`);
    const head = (engine: 'local' | 'athena') => ({ engine, window: { start: new Date(window.start).toISOString(), end: new Date(window.end).toISOString() } });
    let summary: QuerySummary;
    let gathered: { compactedDays: number; rawObjects: number } | undefined;
    try {
      if (args.engine === 'athena') {
        const { queryAthena, windowedSql } = await import('../../lib/logs/query/athena.js');
        const sql = windowedSql(args.sql, { database: ctx.config.query.database, table: ctx.config.query.table, apps, fromDay: utcDate(window.start), toDay: utcDate(window.end - 1), start: window.start, end: window.end });
        out.debug(`athena SQL: ${sql}`);
        const result = await queryAthena(ctx, sql, (t) => progress.update(t));
        progress.stop();
        const printer = rowPrinter(out, format, head('athena'), ctx.signal);
        printer.columns(result.columns);
        await printer.rows(result.rows);
        summary = { rows: result.rows.length, engine: 'athena', elapsedMs: result.elapsedMs, scannedBytes: result.scannedBytes ?? 0, costUsd: result.costUsd ?? 0, ...(result.queryId ? { queryId: result.queryId } : {}) };
        printer.end(summary);
      } else {
        const dir = await mkdtemp(join(tmpdir(), 'raxx-ops-query-'));
        try {
          const { gatherWindow } = await import('../../lib/logs/query/window-records.js');
          const store = openStore(ctx);
          const stats = await gatherWindow(ctx, store, { apps, window, dir, concurrency: args.concurrency, compacted: args.compacted, onProgress: (t) => progress.update(t) });
          gathered = stats;
          out.debug(`query: ${stats.closedDays} closed app-day(s) taken from their manifests without listing`);
          progress.update(`query: running on ${stats.files.length} file(s)`);
          const { queryLocal } = await import('../../lib/logs/query/local.js');
          const printer = rowPrinter(out, format, head('local'), ctx.signal);
          // The spinner stops before the first row is printed, not after the last.
          const sink = { columns: (names: string[]) => printer.columns(names), rows: (batch: unknown[][]) => (progress.stop(), printer.rows(batch)) };
          const parquet = stats.files.filter((f) => f.endsWith('.parquet')).length;
          out.debug(`query: ${parquet} Parquet file(s), ${stats.files.length - parquet} JSON-lines file(s)`);
          const r = await queryLocal(stats.files, args.sql, window, ctx.signal, sink);
          summary = { rows: r.rows, engine: 'local', elapsedMs: r.elapsedMs };
          printer.end(summary);
        } finally {
          await rm(dir, { recursive: true, force: true });
        }
      }
    } catch (err) {
      ctx.checkInterrupted();
      throw err;
    } finally {
      progress.stop();
    }
    const where = gathered ? `; ${gathered.compactedDays} compacted app-day(s), ${gathered.rawObjects} raw object(s) read` : '';
    const cost = summary.scannedBytes !== undefined ? `; ${(summary.scannedBytes / 1024 ** 2).toFixed(1)} MB scanned, about $${(summary.costUsd ?? 0).toFixed(4)}` : '';
    out.info(`${summary.rows} row(s) in ${(summary.elapsedMs / 1000).toFixed(1)} s on ${summary.engine}${where}${cost}`);
  },
});

