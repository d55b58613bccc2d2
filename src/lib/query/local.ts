// `logs query` on an embedded engine: DuckDB's Node API (an optional dependency, loaded only
// here, so `raxx-ops --help` and every other command stay light). The window's records are
// loaded into one table, `logs`; then the engine loses access to files and extensions, so the
// operator's SQL sees that table and nothing else on the laptop.
import { RECORD_COLUMNS } from '@raxx/log-drain-receiver/compacted';
import { ConfigError, UsageError } from '../errors.js';
import type * as DuckDb from '@duckdb/node-api';
import type { QueryResult } from './result.js';

type DuckDbModule = typeof DuckDb;

const DUCK_TYPES = { timestamp: 'TIMESTAMP', string: 'VARCHAR', int: 'INTEGER', bigint: 'BIGINT' } as const;

function literal(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}

async function loadDuckDb(): Promise<DuckDbModule> {
  try {
    return await import('@duckdb/node-api');
  } catch (err) {
    throw new ConfigError(`the embedded query engine (DuckDB) is not installed: ${(err as Error).message}`, {
      hint: 'install it with `npm i -g @duckdb/node-api` beside raxx-ops (an optional dependency), or use --engine athena',
      cause: err,
    });
  }
}

export async function queryLocal(files: readonly string[], sql: string, window: { start: number; end: number }, signal: AbortSignal): Promise<QueryResult> {
  const { DuckDBInstance } = await loadDuckDb();
  const instance = await DuckDBInstance.create(':memory:', { autoinstall_known_extensions: 'false', autoload_known_extensions: 'false' });
  const conn = await instance.connect();
  const stop = () => conn.interrupt();
  signal.addEventListener('abort', stop, { once: true });
  try {
    const columns = `{${RECORD_COLUMNS.map((c) => `${c.name}: '${DUCK_TYPES[c.type]}'`).join(', ')}}`;
    const ts = (ms: number) => `TIMESTAMP ${literal(new Date(ms).toISOString().replace('T', ' ').replace('Z', ''))}`;
    const source =
      files.length === 0
        ? `SELECT ${RECORD_COLUMNS.map((c) => `CAST(NULL AS ${DUCK_TYPES[c.type]}) AS ${c.name}`).join(', ')} WHERE false`
        : `SELECT * FROM read_json([${files.map(literal).join(', ')}], format = 'newline_delimited', compression = 'gzip', columns = ${columns})
           WHERE time IS NULL OR (time >= ${ts(window.start)} AND time < ${ts(window.end)})`;
    await conn.run(`CREATE TABLE logs AS ${source}`);
    // From here on the SQL is the operator's: no files, no network, no extensions.
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
    conn.closeSync();
    instance.closeSync?.();
  }
}
