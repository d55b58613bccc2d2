// `logs query` on an embedded engine: DuckDB's Node API (an optional dependency, loaded only
// here, so `raxx-ops --help` and every other command stay light). The window's records are
// one view, `logs`, over their files (Parquet where the compactor wrote it, else gzip JSON
// lines); then the engine may read those files and nothing else, so the operator's SQL sees
// that view and nothing else on the laptop (docs/query.md, "The sandbox").
import { UsageError } from '../../core/errors.js';
import { loadDuckDb, literal, NULL_COLUMNS, JSON_COLUMNS, openDuckDb, SELECT_COLUMNS } from './duckdb.js';
import type { RowSink } from './result.js';

/** Rows handed to the printer at once: a few of DuckDB's 2,048-row chunks. */
const BATCH_ROWS = 8_192;

export async function queryLocal(files: readonly string[], sql: string, window: { start: number; end: number }, signal: AbortSignal, sink: RowSink): Promise<{ rows: number; elapsedMs: number }> {
  const db = await openDuckDb(await loadDuckDb());
  const { conn } = db;
  const stop = () => conn.interrupt();
  signal.addEventListener('abort', stop, { once: true });
  try {
    const ts = (ms: number) => `TIMESTAMP ${literal(new Date(ms).toISOString().replace('T', ' ').replace('Z', ''))}`;
    // A view, not a table: the engine reads only the columns and rows the SQL needs (from
    // Parquet, only those columns at all), instead of loading every record into memory.
    const parquet = files.filter((f) => f.endsWith('.parquet'));
    const json = files.filter((f) => !f.endsWith('.parquet'));
    const parts = [
      ...(parquet.length > 0 ? [`SELECT ${SELECT_COLUMNS} FROM read_parquet([${parquet.map(literal).join(', ')}])`] : []),
      ...(json.length > 0 ? [`SELECT ${SELECT_COLUMNS} FROM read_json([${json.map(literal).join(', ')}], format = 'newline_delimited', compression = 'gzip', columns = ${JSON_COLUMNS})`] : []),
    ];
    const source = parts.length === 0 ? `SELECT ${NULL_COLUMNS} WHERE false` : `SELECT * FROM (${parts.join(' UNION ALL ')}) WHERE time IS NULL OR (time >= ${ts(window.start)} AND time < ${ts(window.end)})`;
    await conn.run(`CREATE VIEW logs AS ${source}`);
    await lockDown(conn, files);
    const started = Date.now();
    let result;
    try {
      // Streamed: DuckDB produces the next chunk only when asked for it.
      result = await conn.stream(sql);
    } catch (err) {
      signal.throwIfAborted();
      throw queryFailed(err);
    }
    // Counts are BIGINT, which JSON gives as strings: numbers they are, while they fit.
    const integer = result.columnTypes().map((t) => /^(BIGINT|HUGEINT|UBIGINT|UHUGEINT)$/.test(t.toString()));
    sink.columns(result.columnNames());
    let rows = 0;
    let batch: unknown[][] = [];
    try {
      for await (const chunk of result.yieldRowsJson()) {
        for (const row of chunk) batch.push(row.map((v, i) => (integer[i] && typeof v === 'string' && Number.isSafeInteger(Number(v)) ? Number(v) : v)));
        if (batch.length >= BATCH_ROWS) {
          rows += batch.length;
          await sink.rows(batch);
          batch = [];
          signal.throwIfAborted();
        }
      }
    } catch (err) {
      signal.throwIfAborted();
      // An error while rows are produced (a cast that fails on row 3 million) is the query's.
      throw queryFailed(err);
    }
    rows += batch.length;
    await sink.rows(batch);
    return { rows, elapsedMs: Date.now() - started };
  } finally {
    signal.removeEventListener('abort', stop);
    db.close();
  }
}

function queryFailed(err: unknown): UsageError {
  // stream() parses first: its errors start with "Failed to extract statements: ".
  return new UsageError(`the query failed: ${(err as Error).message.split('\n')[0]!.replace(/^Failed to extract statements: /, '')}`, {
    hint: 'the SQL sees one table, logs (time, app, host, proc, message, key, method, path, status, service_ms, bytes, line); see docs/query.md',
    cause: err,
  });
}

type Connection = Awaited<ReturnType<typeof openDuckDb>>['conn'];

/**
 * From here on the SQL is the operator's: the window's own files and nothing else, no
 * network, no extensions, no settings. DuckDB allows its temp_directory (`<cwd>/.tmp/` by
 * default) whatever allowed_directories says once external access is off, so there is no
 * temp directory at all: nothing spills to disk, and `.tmp/` in the working folder is neither
 * readable nor writable. Checked after locking, so an engine that adds a default of its own
 * fails closed.
 */
async function lockDown(conn: Connection, files: readonly string[]): Promise<void> {
  await conn.run("SET temp_directory = ''");
  await conn.run('SET allowed_directories = []');
  await conn.run(`SET allowed_paths = [${files.map(literal).join(', ')}]`);
  await conn.run('SET enable_external_access = false');
  await conn.run('SET lock_configuration = true');
  const reader = await conn.runAndReadAll("SELECT current_setting('allowed_directories')::VARCHAR, current_setting('enable_external_access')::VARCHAR, current_setting('lock_configuration')::VARCHAR");
  const [dirs, external, locked] = reader.getRowsJson()[0] as string[];
  if (dirs !== '[]' || external !== 'false' || locked !== 'true') {
    throw new Error(`the embedded engine would not lock down (allowed_directories ${dirs}, external access ${external}, locked ${locked})`);
  }
}
