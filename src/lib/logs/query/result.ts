// What a query engine hands back, and how it is printed: a table for people, CSV, or JSON.
// Rows are printed in batches as the engine yields them, so a query of millions of rows runs
// in bounded memory: a table's column widths come from its first batch.
import { redactJson } from '../../core/secrets.js';
import type { Output } from '../../core/output.js';
import { columnWidths, tableRow } from '../../core/table.js';

export interface QueryResult {
  columns: string[];
  rows: unknown[][];
  engine: 'local' | 'athena';
  elapsedMs: number;
  /** Athena: bytes scanned and the estimated cost. */
  scannedBytes?: number;
  costUsd?: number;
  queryId?: string;
}

function cell(v: unknown): string {
  if (v === null || v === undefined) return '';
  // Rows arrive as JSON values: a string as it is, anything else as JSON (numbers read the same).
  return typeof v === 'string' ? v : JSON.stringify(v);
}

/**
 * Log lines are written by anyone who can send a request (paths, user agents): an escape
 * sequence in one must not reach the operator's terminal as one. Controls are shown as \xNN.
 */
function visible(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/\s+/g, ' ').replace(/[\x00-\x1f\x7f-\x9f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** Column names as JSON keys: `SELECT app, app` or two `count(*)` would otherwise overwrite one another. */
export function uniqueColumns(columns: readonly string[]): string[] {
  const seen = new Set<string>();
  return columns.map((c) => {
    let name = c;
    for (let n = 2; seen.has(name); n++) name = `${c}_${n}`;
    seen.add(name);
    return name;
  });
}

/** Where an engine hands its rows, batch by batch; each batch is printed before the next is read. */
export interface RowSink {
  columns(names: string[]): void;
  rows(batch: unknown[][]): Promise<void>;
}

/** What the printer says after the last row (the JSON document's trailing fields). */
export interface QuerySummary {
  rows: number;
  engine: 'local' | 'athena';
  elapsedMs: number;
  scannedBytes?: number;
  costUsd?: number;
  queryId?: string;
}

/**
 * Prints rows as they come: CSV and table line by line, JSON as one document written in
 * pieces (`{"engine", "window", "columns", "rows": [ … ], …}`). Waits for stdout to take each
 * batch, so a slow reader holds the engine back instead of filling memory.
 */
export function rowPrinter(out: Output, format: 'table' | 'csv' | 'json', head: { engine: 'local' | 'athena'; window: { start: string; end: string } }, signal?: AbortSignal) {
  let columns: string[] = [];
  let widths: number[] | undefined;
  let count = 0;
  const started = () => widths !== undefined;
  const esc = (s: string) => (/[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
  const line = (vals: string[]) => tableRow(vals, widths!, { trimEnd: true });

  function begin(first: unknown[][]): void {
    if (format === 'json') {
      const doc = redactJson({ engine: head.engine, window: head.window, columns: uniqueColumns(columns) }, 2);
      out.raw(`${doc.slice(0, doc.lastIndexOf('}')).trimEnd()},\n  "rows": [`);
      widths = [];
    } else if (format === 'csv') {
      out.raw(`${columns.map(esc).join(',')}\n`);
      widths = [];
    } else {
      const cells = first.map((row) => row.map((v) => tableCell(v)));
      const names = columns.map(visible);
      widths = columnWidths([names, ...cells]);
      out.raw(`${line(names)}\n${line(widths.map((w) => '-'.repeat(w)))}\n`);
    }
  }

  const sink: RowSink & { end(summary: QuerySummary): void } = {
    columns(names) {
      columns = names;
    },
    async rows(batch) {
      if (!started()) begin(batch);
      if (batch.length === 0) return;
      if (format === 'json') {
        const names = uniqueColumns(columns);
        const text = batch.map((row, i) => `${count + i === 0 ? '' : ','}\n    ${redactJson(Object.fromEntries(names.map((c, i) => [c, row[i] ?? null])))}`).join('');
        out.raw(text);
      } else if (format === 'csv') out.raw(batch.map((row) => row.map((v) => esc(cell(v))).join(',')).join('\n') + '\n');
      else out.raw(batch.map((row) => line(row.map((v) => tableCell(v)))).join('\n') + '\n');
      count += batch.length;
      await out.drained(signal);
    },
    end(summary) {
      if (!started()) begin([]);
      if (format !== 'json') return;
      const extra = summary.scannedBytes !== undefined ? { scannedBytes: summary.scannedBytes, costUsd: summary.costUsd, queryId: summary.queryId } : {};
      const tail = Object.entries(extra).map(([k, v]) => `,\n  ${JSON.stringify(k)}: ${redactJson(v ?? null)}`).join('');
      out.raw(`${count > 0 ? '\n  ' : ''}]${tail}\n}\n`);
    },
  };
  return sink;
}

function tableCell(v: unknown, maxWidth = 60): string {
  const s = visible(cell(v));
  return s.length > maxWidth ? `${s.slice(0, maxWidth - 1)}…` : s;
}
