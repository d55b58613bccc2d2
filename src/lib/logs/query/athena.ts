// Athena over compacted/: a Glue table with partition projection on app and day (no crawler,
// no MSCK REPAIR), and queries run in the configured workgroup, polled with progress, paged,
// priced, and stopped on Ctrl-C.
import { RECORD_COLUMNS, RECORDS_FILE, recordsRoot } from '@raxx/log-format/compacted';
import { awsError } from '../../aws/clients.js';
import { awsSend, sdkCause } from '../../aws/call.js';
import type { Context } from '../../run/context.js';
import { InterruptedError, ServiceError, UsageError } from '../../core/errors.js';
import { sleep } from '../../core/sleep.js';
import type { QueryResult } from './result.js';

const HIVE_TYPES = { timestamp: 'timestamp', string: 'string', int: 'int', bigint: 'bigint' } as const;
/** Athena's price: $5 per TB scanned, at least 10 MB per query. */
const USD_PER_BYTE = 5 / 1024 ** 4;
const MIN_BILLED_BYTES = 10 * 1024 ** 2;

export function athenaCost(scannedBytes: number): number {
  return scannedBytes === 0 ? 0 : Math.max(scannedBytes, MIN_BILLED_BYTES) * USD_PER_BYTE;
}

export function outputLocation(ctx: Context): string {
  return ctx.config.query.outputLocation || `s3://${ctx.config.drain.bucket}/athena-results/`;
}

/** The Glue table input: what `logs athena-setup` creates, and what it prints with --dry-run. */
export function tableInput(ctx: Context, firstDay: string) {
  const { bucket } = ctx.config.drain;
  const root = ctx.config.query.compactedPrefix;
  const location = `s3://${bucket}/${recordsRoot(root)}`;
  return {
    Name: ctx.config.query.table,
    TableType: 'EXTERNAL_TABLE',
    Parameters: {
      EXTERNAL: 'TRUE',
      classification: 'json',
      'projection.enabled': 'true',
      'projection.app.type': 'enum',
      'projection.app.values': ctx.config.apps.join(','),
      'projection.day.type': 'date',
      'projection.day.format': 'yyyy-MM-dd',
      'projection.day.range': `${firstDay},NOW`,
      'projection.day.interval': '1',
      'projection.day.interval.unit': 'DAYS',
      'storage.location.template': `${location}app=\${app}/day=\${day}/`,
    },
    PartitionKeys: [
      { Name: 'app', Type: 'string' },
      { Name: 'day', Type: 'string' },
    ],
    StorageDescriptor: {
      // `app` is a partition key; the records' own app column is the same value.
      Columns: RECORD_COLUMNS.filter((c) => c.name !== 'app').map((c) => ({ Name: c.name, Type: HIVE_TYPES[c.type] })),
      Location: location,
      InputFormat: 'org.apache.hadoop.mapred.TextInputFormat',
      OutputFormat: 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat',
      SerdeInfo: {
        SerializationLibrary: 'org.openx.data.jsonserde.JsonSerDe',
        Parameters: { 'ignore.malformed.json': 'true', 'timestamp.formats': 'yyyy-MM-dd HH:mm:ss.SSS' },
      },
    },
  };
}

export async function setupAthena(ctx: Context, firstDay: string): Promise<{ database: 'created' | 'exists'; table: 'created' | 'updated' }> {
  const glue = await ctx.aws.glue();
  const { CreateDatabaseCommand, CreateTableCommand, UpdateTableCommand, GetTableCommand } = await import('@aws-sdk/client-glue');
  const { database } = ctx.config.query;
  const endpoint = ctx.aws.endpointOf('GLUE');
  let db: 'created' | 'exists' = 'created';
  try {
    await awsSend(glue, new CreateDatabaseCommand({ DatabaseInput: { Name: database, Description: 'raxx-ops: compacted drain logs' } }), { signal: ctx.signal, endpoint });
  } catch (err) {
    if (sdkCause(err).name !== 'AlreadyExistsException') throw err;
    db = 'exists';
  }
  const input = tableInput(ctx, firstDay);
  let exists = true;
  try {
    await glue.send(new GetTableCommand({ DatabaseName: database, Name: input.Name }), { abortSignal: ctx.signal });
  } catch (err) {
    if ((err as { name?: string }).name !== 'EntityNotFoundException') throw awsError(err, 'Glue', `GetTable ${database}.${input.Name}`, endpoint);
    exists = false;
  }
  if (exists) await awsSend(glue, new UpdateTableCommand({ DatabaseName: database, TableInput: input }), { signal: ctx.signal, endpoint });
  else await awsSend(glue, new CreateTableCommand({ DatabaseName: database, TableInput: input }), { signal: ctx.signal, endpoint });
  return { database: db, table: exists ? 'updated' : 'created' };
}

/**
 * The operator's SQL, with `logs` narrowed to the window and apps: a CTE of that name shadows
 * the table, so the same SQL runs here and on the embedded engine.
 */
export function windowedSql(sql: string, opts: { database: string; table: string; apps: string[]; fromDay: string; toDay: string; start: number; end: number }): string {
  const q = (s: string) => `'${s.replace(/'/g, "''")}'`;
  const ts = (ms: number) => `timestamp ${q(new Date(ms).toISOString().replace('T', ' ').replace('Z', ''))}`;
  // Only the records files: each day's folder also holds manifest.json, which the JSON SerDe
  // would read as one more row (every column null) per app-day.
  const cte = `logs AS (SELECT * FROM "${opts.database}"."${opts.table}" WHERE app IN (${opts.apps.map(q).join(', ')}) AND day BETWEEN ${q(opts.fromDay)} AND ${q(opts.toDay)} AND "$path" LIKE ${q(`%/${RECORDS_FILE}`)} AND (time IS NULL OR (time >= ${ts(opts.start)} AND time < ${ts(opts.end)})))`;
  // The operator's own WITH (after any leading comments) gets ours as its first CTE.
  const m = /^(?:\s+|--[^\n]*(?:\n|$)|\/\*[\s\S]*?\*\/)*with(\s+recursive)?\s+/i.exec(sql);
  if (!m) return `WITH ${cte} ${sql}`;
  return `WITH${m[1] ? ' RECURSIVE' : ''} ${cte}, ${sql.slice(m[0].length)}`;
}

export async function queryAthena(ctx: Context, sql: string, onProgress: (text: string) => void): Promise<QueryResult> {
  const athena = await ctx.aws.athena();
  const { StartQueryExecutionCommand, GetQueryExecutionCommand, StopQueryExecutionCommand, paginateGetQueryResults } = await import('@aws-sdk/client-athena');
  const endpoint = ctx.aws.endpointOf('ATHENA');
  const { workgroup, database } = ctx.config.query;
  const started = Date.now();
  // Ctrl-C during the start leaves a query that may run without us knowing its id: Athena
  // stops it at the workgroup's limits.
  const start = await awsSend(
    athena,
    new StartQueryExecutionCommand({
      QueryString: sql,
      WorkGroup: workgroup,
      QueryExecutionContext: { Database: database },
      ResultConfiguration: { OutputLocation: outputLocation(ctx) },
    }),
    { signal: ctx.signal, endpoint },
  );
  const id = start.QueryExecutionId!;
  // Deliberately without the run's signal: it runs after Ctrl-C, to stop the billing.
  const stop = () => athena.send(new StopQueryExecutionCommand({ QueryExecutionId: id })).catch(() => undefined);
  let scanned = 0;
  // Polling: quick at first, then every 2 s; Ctrl-C stops the query in Athena too (it bills
  // for what it scans).
  for (let i = 0; ; i++) {
    if (ctx.signal.aborted) {
      await stop();
      throw new InterruptedError();
    }
    const exec = await awsSend(athena, new GetQueryExecutionCommand({ QueryExecutionId: id }), { signal: ctx.signal, endpoint }).catch(async (err: unknown) => {
      if (ctx.signal.aborted) await stop();
      throw err;
    });
    const q = exec.QueryExecution;
    scanned = q?.Statistics?.DataScannedInBytes ?? scanned;
    const state = q?.Status?.State ?? 'UNKNOWN';
    onProgress(`athena: ${state.toLowerCase()}, ${(scanned / 1024 ** 2).toFixed(1)} MB scanned, ${((Date.now() - started) / 1000).toFixed(0)} s`);
    if (state === 'SUCCEEDED') break;
    if (state === 'FAILED' || state === 'CANCELLED') {
      const reason = q?.Status?.StateChangeReason ?? state;
      if (/SYNTAX_ERROR|COLUMN_NOT_FOUND|TABLE_NOT_FOUND|mismatched input/i.test(reason)) {
        throw new UsageError(`Athena refused the query: ${reason}`, { hint: 'the SQL sees one table, logs; run `raxx-ops logs athena-setup` if the table is missing' });
      }
      throw new ServiceError('Athena', `the query ${state.toLowerCase()}: ${reason}`, { code: state, hint: `query id ${id}; see the Athena console` });
    }
    await sleep(i < 5 ? 200 : 2_000, ctx.signal).catch(() => undefined);
  }

  const columns: string[] = [];
  const rows: unknown[][] = [];
  let first = true;
  const pages = paginateGetQueryResults({ client: athena }, { QueryExecutionId: id }, { abortSignal: ctx.signal });
  for (;;) {
    const next = await pages.next().catch((err: unknown) => {
      throw awsError(err, 'Athena', `GetQueryResults ${id}`, endpoint);
    });
    if (next.done) break;
    const page = next.value;
    if (columns.length === 0) for (const c of page.ResultSet?.ResultSetMetadata?.ColumnInfo ?? []) columns.push(c.Name ?? c.Label ?? '');
    const data = (page.ResultSet?.Rows ?? []).map((r) => (r.Data ?? []).map((d) => d.VarCharValue ?? null));
    // A SELECT's first row is the header.
    if (first && data.length > 0 && columns.length > 0 && data[0]!.every((v, i) => v === columns[i])) data.shift();
    first = false;
    rows.push(...data);
  }
  return { columns, rows, engine: 'athena', elapsedMs: Date.now() - started, scannedBytes: scanned, costUsd: athenaCost(scanned), queryId: id };
}
