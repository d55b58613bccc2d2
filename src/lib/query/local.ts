// `logs query` on an embedded engine: DuckDB's Node API (an optional dependency, loaded only
// here, so `raxx-ops --help` and every other command stay light). The window's records are
// one view, `logs`, over their files (Parquet where the compactor wrote it, else gzip JSON
// lines); then the engine may read those files and nothing else, so the operator's SQL sees
// that view and nothing else on the laptop.
import { UsageError } from '../errors.js';
import { loadDuckDb, literal, NULL_COLUMNS, JSON_COLUMNS, openDuckDb, SELECT_COLUMNS } from './duckdb.js';
import type { QueryResult } from './result.js';

export async function queryLocal(files: readonly string[], sql: string, window: { start: number; end: number }, signal: AbortSignal): Promise<QueryResult> {
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
    // From here on the SQL is the operator's: the window's own files and nothing else, no
    // network, no extensions.
    if (files.length > 0) await conn.run(`SET allowed_paths = [${files.map(literal).join(', ')}]`);
    await conn.run('SET enable_external_access = false');
    await conn.run('SET lock_configuration = true');
    const started = Date.now();
    let reader;
    try {
      reader = await conn.runAndReadAll(sql);
    } catch (err) {
      signal.throwIfAborted();
      throw new UsageError(`the query failed: ${(err as Error).message.split('\n')[0]}`, {
        hint: 'the SQL sees one table, logs (time, app, host, proc, message, key, method, path, status, service_ms, bytes, line); see docs/query.md',
        cause: err,
      });
    }
    // Counts are BIGINT, which JSON gives as strings: numbers they are, while they fit.
    const integer = reader.columnTypes().map((t) => /^(BIGINT|HUGEINT|UBIGINT|UHUGEINT)$/.test(t.toString()));
    const rows = (reader.getRowsJson() as unknown[][]).map((row) =>
      row.map((v, i) => (integer[i] && typeof v === 'string' && Number.isSafeInteger(Number(v)) ? Number(v) : v)),
    );
    return {
      columns: reader.columnNames(),
      rows,
      engine: 'local',
      elapsedMs: Date.now() - started,
    };
  } finally {
    signal.removeEventListener('abort', stop);
    db.close();
  }
}
