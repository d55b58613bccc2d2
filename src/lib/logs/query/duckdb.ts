// The embedded engine (DuckDB's Node API), an optional dependency loaded only by the commands
// that use it, and the record columns as it types them.
import { RECORD_COLUMNS } from '@raxx/log-format/compacted';
import type * as DuckDb from '@duckdb/node-api';
import { ConfigError } from '../../core/errors.js';

export type DuckDbModule = typeof DuckDb;

const DUCK_TYPES = { timestamp: 'TIMESTAMP', string: 'VARCHAR', int: 'INTEGER', bigint: 'BIGINT' } as const;

/** The records' columns for read_json: `{time: 'TIMESTAMP', …}`. */
export const JSON_COLUMNS = `{${RECORD_COLUMNS.map((c) => `${c.name}: '${DUCK_TYPES[c.type]}'`).join(', ')}}`;
/** The same columns, in order, each cast to its type (Parquet and JSON files read alike). */
export const SELECT_COLUMNS = RECORD_COLUMNS.map((c) => `CAST(${c.name} AS ${DUCK_TYPES[c.type]}) AS ${c.name}`).join(', ');
export const NULL_COLUMNS = RECORD_COLUMNS.map((c) => `CAST(NULL AS ${DUCK_TYPES[c.type]}) AS ${c.name}`).join(', ');

/** A SQL string literal. */
export function literal(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}

/** The engine, or a ConfigError saying how to install it. */
export async function loadDuckDb(): Promise<DuckDbModule> {
  try {
    return await import('@duckdb/node-api');
  } catch (err) {
    throw new ConfigError(`the embedded query engine (DuckDB) is not installed: ${(err as Error).message}`, {
      hint: 'install it with `npm i -g @duckdb/node-api` beside raxx-ops (an optional dependency), or use --engine athena',
      cause: err,
    });
  }
}

/** An engine with no extensions installed or loaded behind our back. */
export async function openDuckDb(duck: DuckDbModule) {
  const instance = await duck.DuckDBInstance.create(':memory:', { autoinstall_known_extensions: 'false', autoload_known_extensions: 'false' });
  const conn = await instance.connect();
  return {
    instance,
    conn,
    close() {
      conn.closeSync();
      instance.closeSync?.();
    },
  };
}
